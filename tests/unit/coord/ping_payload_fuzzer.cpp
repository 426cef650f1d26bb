// libFuzzer: the ping-ack coordinate decoder must never crash; what decodes must re-encode and
// decode to the same value.
#include <cstddef>
#include <cstdint>
#include <cstdlib>

#include "clusterd/coord/codec.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    auto r = clusterd::coord::decode_ping_payload(clusterd::base::ByteView(data, size));
    if (r.ok()) {
        auto again = clusterd::coord::decode_ping_payload(clusterd::coord::encode_ping_payload(*r));
        if (!again.ok() || again->vec.size() != r->vec.size())
            std::abort();
    }
    return 0;
}
