// Fuzzes the msgpack core: measure/skip agree, the value tree reads exactly the measured bytes,
// and need-more asks for more than is there; under a small cap and depth limit as well.
#include <cstddef>
#include <cstdint>

#include "clusterd/codec/msgpack/value.hpp"

using namespace clusterd;
namespace mp = codec::msgpack;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const base::ByteView in(data, size);
    for (mp::Limits limits : {mp::Limits{}, mp::Limits{16, 3}}) {
        mp::Reader r(in, limits);
        auto e = r.measure();
        mp::Reader s(in, limits);
        auto skipped = s.skip();
        if (e.ok() && e->complete) {
            if (!skipped.ok() || s.pos() != e->size)
                __builtin_trap();
            mp::Reader v(in, limits);
            auto value = mp::read_value(v);
            // The tree refuses ext types the skipper accepts; anything else must read in full.
            if (value.ok() && v.pos() != e->size)
                __builtin_trap();
        } else if (e.ok()) {
            if (skipped.ok() || skipped.error().code != "truncated" || e->need <= size)
                __builtin_trap();
        } else if (skipped.ok()) {
            __builtin_trap();
        }
    }
    return 0;
}
