// A DNS message codec for multicast DNS (RFC 1035 layout, RFC 6762 class bits): the records
// Serf's mDNS discovery uses (PTR, SRV, TXT, A, AAAA) are decoded into fields, every other type
// is kept as opaque rdata. Decoding follows compression pointers (backwards only, a bounded
// number of jumps), checks every count and length against the bytes present and returns a clear
// error; encoding compresses repeated name suffixes. Pure: no sockets, clocks or logging.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/result.hpp"

namespace clusterd::mdns {

/// A domain name as its labels, without the root ("_serf_lab", "_tcp", "local").
using Name = std::vector<std::string>;

enum RrType : std::uint16_t {
    kTypeA = 1,
    kTypePtr = 12,
    kTypeTxt = 16,
    kTypeAaaa = 28,
    kTypeSrv = 33,
    kTypeAny = 255,
};
constexpr std::uint16_t kClassIn = 1;
constexpr std::uint16_t kClassAny = 255;
/// The top bit of a question's class (QU: unicast response wanted) and of a record's class
/// (cache flush); the class proper is the low 15 bits.
constexpr std::uint16_t kClassTopBit = 0x8000;

constexpr std::size_t kMaxLabel = 63;     ///< octets in one label
constexpr std::size_t kMaxNameWire = 255; ///< octets of a name as written uncompressed
constexpr std::size_t kMaxPointers = 64;  ///< compression jumps followed while reading one name
constexpr std::size_t kMaxRecords = 256;  ///< questions + records a message may hold
constexpr std::size_t kMaxMessage = 9000; ///< RFC 6762 §17: the largest mDNS message

struct Question {
    Name name;
    std::uint16_t type = kTypePtr;
    std::uint16_t klass = kClassIn; ///< low 15 bits
    bool unicast_response = false;  ///< the QU bit
};

struct Record {
    Name name;
    std::uint16_t type = 0;
    std::uint16_t klass = kClassIn; ///< low 15 bits
    bool cache_flush = false;
    std::uint32_t ttl = 0;
    // Decoded rdata, by type:
    Name target;                         ///< PTR: the pointed-to name; SRV: the target host
    std::uint16_t priority = 0;          ///< SRV
    std::uint16_t weight = 0;            ///< SRV
    std::uint16_t port = 0;              ///< SRV
    std::vector<std::string> txt;        ///< TXT: the character strings
    std::array<std::uint8_t, 16> addr{}; ///< A: the first 4 octets; AAAA: all 16
    base::Bytes rdata;                   ///< any other type: the rdata as received
};

struct Message {
    std::uint16_t id = 0;
    std::uint16_t flags = 0; ///< QR, opcode, AA, TC, RD, RA, Z, rcode as on the wire
    std::vector<Question> questions;
    std::vector<Record> answers;
    std::vector<Record> authorities;
    std::vector<Record> additionals;

    static constexpr std::uint16_t kResponse = 0x8000;
    static constexpr std::uint16_t kAuthoritative = 0x0400;
    static constexpr std::uint16_t kTruncated = 0x0200;
    bool is_response() const { return (flags & kResponse) != 0; }
    int opcode() const { return (flags >> 11) & 0xF; }
    int rcode() const { return flags & 0xF; }
};

/// Decodes one datagram. Errors (code, message): "truncated" (a count, length or name runs past
/// the end), "malformed" (bad label type, forward or looping pointer, wrong rdata length, a name
/// or label over its limit), "too_large" (over kMaxMessage bytes or kMaxRecords entries).
base::Result<Message> decode(std::span<const std::uint8_t> bytes);
inline base::Result<Message> decode(const base::Bytes& bytes) {
    return decode(std::span<const std::uint8_t>(bytes.data(), bytes.size()));
}

/// Encodes a message, compressing name suffixes already written. Fails ("malformed") on an empty
/// or over-long label, a name over 255 octets, a TXT string over 255 octets, or a message over
/// kMaxMessage bytes.
base::Result<base::Bytes> encode(const Message& m);

/// "a.b.c" -> {"a","b","c"} (a trailing dot is ignored; no escapes).
Name name_from_text(std::string_view text);
/// {"a","b","c"} -> "a.b.c."
std::string name_text(const Name& n);
/// Case-insensitive (ASCII) comparison, as DNS names compare.
bool same_name(const Name& a, const Name& b);
/// True when `n` ends with the labels of `suffix` (case-insensitive).
bool ends_with(const Name& n, const Name& suffix);

} // namespace clusterd::mdns
