// Byte buffers and views shared by the codecs.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace clusterd::base {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

inline Bytes to_bytes(std::string_view s) {
    return Bytes(s.begin(), s.end());
}
inline std::string to_string(ByteView b) {
    return std::string(b.begin(), b.end());
}

/// Lower-case hex of a byte range (for logs, tests and golden files).
std::string to_hex(ByteView b);
/// Parses hex (whitespace ignored); returns false on an odd count or a non-hex digit.
bool from_hex(std::string_view hex, Bytes& out);

/// Standard base64 (RFC 4648, with padding), as Go's encoding/base64.StdEncoding.
std::string base64_encode(ByteView b);
/// Strict standard base64 decode; returns false on any invalid character or padding.
bool base64_decode(std::string_view text, Bytes& out);

} // namespace clusterd::base
