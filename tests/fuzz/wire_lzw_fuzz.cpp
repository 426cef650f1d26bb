// Fuzzes LZW: decompression of arbitrary bytes must not crash or exceed its output cap, and
// compress -> decompress must return the input.
#include <cstddef>
#include <cstdint>

#include "clusterd/wire/lzw.hpp"

using namespace clusterd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    base::ByteView in(data, size);
    constexpr std::size_t kCap = 1u << 20;
    auto d = wire::lzw_decompress(in, kCap);
    if (d.ok() && d->size() > kCap)
        __builtin_trap();
    auto c = wire::lzw_compress(in);
    auto back = wire::lzw_decompress(c, size + 1);
    if (!back.ok() || *back != base::Bytes(in.begin(), in.end()))
        __builtin_trap();
    return 0;
}
