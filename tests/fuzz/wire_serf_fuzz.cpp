// Fuzzes the Serf message, filter and tag decoders with a re-encode round-trip check.
#include <cstddef>
#include <cstdint>

#include "clusterd/wire/serf_messages.hpp"

using namespace clusterd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    base::ByteView in(data, size);
    auto m = wire::decode_serf(in);
    if (m.ok()) {
        auto again = wire::decode_serf(wire::encode_serf(*m));
        if (!again.ok() || !(*again == *m))
            __builtin_trap();
        if (auto* q = std::get_if<wire::SerfQuery>(&*m)) {
            for (const auto& f : q->filters)
                (void)wire::decode_filter(f);
        }
    }
    auto f = wire::decode_filter(in);
    if (f.ok()) {
        auto again = wire::decode_filter(wire::encode_filter(*f));
        if (!again.ok() || !(*again == *f))
            __builtin_trap();
    }
    auto t = wire::decode_tags(in);
    if (t.ok() && !in.empty() && in[0] == wire::kTagMagicByte) {
        auto again = wire::decode_tags(wire::encode_tags(*t));
        if (!again.ok() || !(*again == *t))
            __builtin_trap();
    }
    return 0;
}
