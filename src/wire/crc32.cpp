// Table-driven CRC-32/IEEE (reflected polynomial 0xEDB88320), same values as Go's crc32.ChecksumIEEE.
#include "clusterd/wire/crc32.hpp"

#include <array>

namespace clusterd::wire {

namespace {
constexpr std::array<std::uint32_t, 256> make_table() {
    std::array<std::uint32_t, 256> t{};
    for (std::uint32_t i = 0; i < 256; ++i) {
        std::uint32_t c = i;
        for (int k = 0; k < 8; ++k)
            c = (c & 1) ? (0xEDB88320u ^ (c >> 1)) : (c >> 1);
        t[i] = c;
    }
    return t;
}
constexpr auto kTable = make_table();
} // namespace

std::uint32_t crc32_ieee(base::ByteView data) {
    std::uint32_t c = 0xffffffffu;
    for (std::uint8_t b : data)
        c = kTable[(c ^ b) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

} // namespace clusterd::wire
