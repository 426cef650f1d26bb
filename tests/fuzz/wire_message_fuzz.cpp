// Fuzzes every memberlist message decoder (single messages, the in-place alive view, compound
// split, push-pull, stream user) and checks decode(encode(decode(x))) == decode(x), and that the
// alive view agrees with the owning decode.
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "clusterd/wire/memberlist.hpp"

using namespace clusterd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    base::ByteView in(data, size);
    auto d = wire::decode(in);
    if (d.ok()) {
        auto again = wire::decode(wire::encode(*d));
        if (!again.ok() || !(*again == *d))
            __builtin_trap();
    }
    auto v = wire::decode_alive_view(in);
    if (v.ok()) {
        const auto* a = d.ok() ? std::get_if<wire::Alive>(&*d) : nullptr;
        if (a == nullptr || a->node != v->node || a->incarnation != v->incarnation || a->port != v->port ||
            !std::equal(a->addr.begin(), a->addr.end(), v->addr.begin(), v->addr.end()))
            __builtin_trap();
    }
    auto c = wire::split_compound(in);
    if (c.ok()) {
        for (const auto& p : c->parts)
            (void)wire::decode(p);
    }
    auto pp = wire::decode_push_pull(in);
    if (pp.ok()) {
        auto again = wire::decode_push_pull(wire::encode_push_pull(*pp));
        if (!again.ok() || !(*again == *pp))
            __builtin_trap();
    }
    // The in-place decoder the endpoint uses must accept exactly what the owning one accepts and
    // see the same states.
    auto view = wire::decode_push_pull_view(in);
    if (view.ok() != pp.ok())
        __builtin_trap();
    if (view.ok()) {
        if (view->join != pp->join || view->nodes.size() != pp->nodes.size() ||
            !std::equal(view->user_state.begin(), view->user_state.end(), pp->user_state.begin(),
                        pp->user_state.end()))
            __builtin_trap();
        for (std::size_t i = 0; i < view->nodes.size(); ++i) {
            const auto& a = pp->nodes[i];
            const auto& b = view->nodes[i];
            if (a.name != b.name || a.port != b.port || a.incarnation != b.incarnation ||
                a.state != b.state ||
                !std::equal(a.addr.begin(), a.addr.end(), b.addr.begin(), b.addr.end()) ||
                !std::equal(a.meta.begin(), a.meta.end(), b.meta.begin(), b.meta.end()) ||
                !std::equal(a.vsn.begin(), a.vsn.end(), b.vsn.begin(), b.vsn.end()))
                __builtin_trap();
        }
    }
    (void)wire::decode_stream_user(in);
    return 0;
}
