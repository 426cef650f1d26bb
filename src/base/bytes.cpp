#include "clusterd/base/bytes.hpp"
#include "clusterd/base/text.hpp"

#include <array>

namespace clusterd::base {
namespace {
constexpr char kHex[] = "0123456789abcdef";
constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int b64_value(char c) {
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}
} // namespace

std::string to_hex(ByteView b) {
    std::string out;
    out.reserve(b.size() * 2);
    for (auto byte : b) {
        out.push_back(kHex[byte >> 4]);
        out.push_back(kHex[byte & 0xF]);
    }
    return out;
}

bool from_hex(std::string_view hex, Bytes& out) {
    out.clear();
    int pending = -1;
    for (char c : hex) {
        if (c == ' ' || c == '\n' || c == '\r' || c == '\t')
            continue;
        int v = hex_value(c);
        if (v < 0)
            return false;
        if (pending < 0) {
            pending = v;
        } else {
            out.push_back(static_cast<std::uint8_t>((pending << 4) | v));
            pending = -1;
        }
    }
    return pending < 0;
}

std::string base64_encode(ByteView b) {
    std::string out;
    out.reserve((b.size() + 2) / 3 * 4);
    std::size_t i = 0;
    for (; i + 3 <= b.size(); i += 3) {
        std::uint32_t n = (std::uint32_t{b[i]} << 16) | (std::uint32_t{b[i + 1]} << 8) | b[i + 2];
        out.push_back(kB64[(n >> 18) & 63]);
        out.push_back(kB64[(n >> 12) & 63]);
        out.push_back(kB64[(n >> 6) & 63]);
        out.push_back(kB64[n & 63]);
    }
    if (std::size_t rest = b.size() - i; rest > 0) {
        std::uint32_t n = std::uint32_t{b[i]} << 16;
        if (rest == 2)
            n |= std::uint32_t{b[i + 1]} << 8;
        out.push_back(kB64[(n >> 18) & 63]);
        out.push_back(kB64[(n >> 12) & 63]);
        out.push_back(rest == 2 ? kB64[(n >> 6) & 63] : '=');
        out.push_back('=');
    }
    return out;
}

bool base64_decode(std::string_view text, Bytes& out) {
    out.clear();
    if (text.size() % 4 != 0)
        return false;
    for (std::size_t i = 0; i < text.size(); i += 4) {
        std::array<int, 4> v{};
        int pad = 0;
        for (int k = 0; k < 4; ++k) {
            char c = text[i + static_cast<std::size_t>(k)];
            if (c == '=') {
                // Padding only in the last quantum, only in its last two places.
                if (i + 4 != text.size() || k < 2)
                    return false;
                ++pad;
                v[static_cast<std::size_t>(k)] = 0;
                continue;
            }
            if (pad > 0)
                return false;
            v[static_cast<std::size_t>(k)] = b64_value(c);
            if (v[static_cast<std::size_t>(k)] < 0)
                return false;
        }
        std::uint32_t n = (static_cast<std::uint32_t>(v[0]) << 18) |
                          (static_cast<std::uint32_t>(v[1]) << 12) | (static_cast<std::uint32_t>(v[2]) << 6) |
                          static_cast<std::uint32_t>(v[3]);
        out.push_back(static_cast<std::uint8_t>(n >> 16));
        if (pad < 2)
            out.push_back(static_cast<std::uint8_t>((n >> 8) & 0xFF));
        if (pad < 1)
            out.push_back(static_cast<std::uint8_t>(n & 0xFF));
    }
    return true;
}

} // namespace clusterd::base
