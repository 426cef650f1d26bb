// Small text helpers shared by the codecs and the listeners.
#pragma once

#include <cstddef>
#include <string_view>

namespace clusterd::base {

/// The value of one hexadecimal digit, or -1.
constexpr int hex_value(char c) {
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/// Compares secrets (RPC auth key, HTTP token) in time that does not depend on where the inputs
/// differ: every byte of the longer input is read.
inline bool constant_time_equal(std::string_view a, std::string_view b) {
    const std::size_t n = a.size() > b.size() ? a.size() : b.size();
    unsigned diff = a.size() == b.size() ? 0U : 1U;
    for (std::size_t i = 0; i < n; ++i) {
        const auto x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0U;
        const auto y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0U;
        diff |= x ^ y;
    }
    return diff == 0;
}

} // namespace clusterd::base
