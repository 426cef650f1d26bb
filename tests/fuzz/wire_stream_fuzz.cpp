// Fuzzes stream framing and opening: stream_frame_length must agree with open_stream on complete
// frames, and push-pull / stream-user decoding must never crash.
#include <cstddef>
#include <cstdint>
#include <string>

#include "clusterd/wire/envelope.hpp"
#include "clusterd/wire/memberlist.hpp"

using namespace clusterd;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size == 0)
        return 0;
    static const wire::Keyring ring = [] {
        auto r = wire::Keyring::from_base64({"AAECAwQFBgcICQoLDA0ODw=="});
        return r.ok() ? *r : wire::Keyring{};
    }();
    const wire::Keyring* keys = (data[0] & 1) ? &ring : nullptr;
    base::ByteView in(data + 1, size - 1);
    // Bit 2: an incoming stream that starts with a label header (as net's read_frame sees it).
    std::string label;
    if (data[0] & 4) {
        auto h = wire::parse_label_header(in);
        if (!h.ok() || !h->has_value())
            return 0;
        if ((*h)->size > in.size())
            __builtin_trap();
        label = (*h)->label;
        in = in.subspan((*h)->size);
    }
    auto len = wire::stream_frame_length(in, 1u << 20);
    if (!len.ok() || !len->has_value())
        return 0;
    if (**len > in.size())
        __builtin_trap();
    auto plain = wire::open_stream(in.first(**len), keys, false, label);
    if (!plain.ok() || plain->empty())
        return 0;
    switch (static_cast<wire::MsgType>((*plain)[0])) {
    case wire::MsgType::PushPull: {
        auto pp = wire::decode_push_pull(*plain);
        if (pp.ok()) {
            auto again = wire::decode_push_pull(wire::encode_push_pull(*pp));
            if (!again.ok() || !(*again == *pp))
                __builtin_trap();
        }
        break;
    }
    case wire::MsgType::User:
        (void)wire::decode_stream_user(*plain);
        break;
    default:
        (void)wire::decode(*plain);
        break;
    }
    return 0;
}
