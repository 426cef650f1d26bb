// Encoders/decoders for memberlist's gossip messages (field names and order from memberlist
// net.go: ping, indirectPingReq, ackResp, nackResp, errResp, suspect, alive, dead,
// pushPullHeader, pushNodeState, userMsgHeader) and the compound framing (util.go).
#include "clusterd/wire/memberlist.hpp"

#include <optional>
#include <type_traits>

#include "wire_internal.hpp"

namespace clusterd::wire {

using namespace detail; // wire_internal.hpp

namespace {

/// A reader over a stream message's body after checking its type byte.
Result<msgpack::Reader> body_of(ByteView buf, MsgType want, const char* what) {
    const auto t = static_cast<std::uint8_t>(want);
    if (buf.empty())
        return make_error("truncated", std::string("empty ") + what + " message");
    if (buf[0] != t)
        return make_error("unexpected_type", std::string("expected ") + what + " (" + std::to_string(t) +
                                                 "), got type " + std::to_string(buf[0]));
    return msgpack::Reader(buf.subspan(1));
}

/// Decodes a header struct at the front of `r` with the error named after `what`.
template <typename T> Result<T> read_header(msgpack::Reader& r, const char* what) {
    T h{};
    if (auto st = msgpack::read(r, h); !st)
        return st.error().with_prefix(what);
    return h;
}

} // namespace

MsgType message_type(const Message& m) {
    return msgpack::type_of(m);
}

Bytes encode(const Message& m) {
    Bytes out;
    out.push_back(static_cast<std::uint8_t>(message_type(m)));
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, UserMsg>) {
                out.insert(out.end(), v.payload.begin(), v.payload.end());
            } else {
                msgpack::encode_into(out, v, kGossip);
            }
        },
        m);
    return out;
}

void encode_alive_into(Bytes& out, const Alive& a) {
    out.clear();
    out.push_back(static_cast<std::uint8_t>(MsgType::Alive));
    msgpack::encode_into(out, a, kGossip);
}

Result<Message> decode(ByteView buf) {
    if (buf.empty())
        return make_error("truncated", "empty message");
    const std::uint8_t t = buf[0];
    if (t == static_cast<std::uint8_t>(MsgType::User))
        return Message{UserMsg{Bytes(buf.begin() + 1, buf.end())}};
    std::optional<Result<Message>> out;
    msgpack::with_type<Message>(t, [&](auto type) {
        using T = typename decltype(type)::type;
        if constexpr (msgpack::HasFields<T>) {
            // trailing bytes are ignored, as Go's decoder reads one value and stops
            auto m = msgpack::decode<T>(buf.subspan(1));
            if (!m)
                out = m.error().with_prefix("memberlist message " + std::to_string(t));
            else
                out = Message{std::move(*m)};
        }
    });
    if (out)
        return std::move(*out);
    switch (static_cast<MsgType>(t)) {
    case MsgType::PushPull:
    case MsgType::Compound:
    case MsgType::Compress:
    case MsgType::Encrypt:
    case MsgType::HasCrc:
        return make_error("unexpected_type", "message type " + std::to_string(t) +
                                                 " is an envelope or stream message, not a single message");
    default:
        break;
    }
    return make_error("unknown_type", "unknown memberlist message type " + std::to_string(t));
}

Result<AliveView> decode_alive_view(ByteView buf) {
    if (buf.empty() || buf[0] != static_cast<std::uint8_t>(MsgType::Alive))
        return make_error("unexpected_type", "not an alive message");
    auto m = msgpack::decode<AliveView>(buf.subspan(1));
    if (!m)
        return m.error().with_prefix("memberlist message 2");
    return std::move(*m);
}

Bytes encode_compound(const std::vector<Bytes>& msgs) {
    // The count is one byte and each length two: parts beyond 255 or longer than 65535 bytes
    // cannot be represented and are left out rather than written corrupt.
    std::vector<const Bytes*> parts;
    for (const auto& m : msgs) {
        if (parts.size() == kMaxCompoundParts)
            break;
        if (m.size() <= 0xffff)
            parts.push_back(&m);
    }
    Bytes out;
    std::size_t total = 2 + 2 * parts.size();
    for (const auto* m : parts)
        total += m->size();
    out.reserve(total);
    out.push_back(static_cast<std::uint8_t>(MsgType::Compound));
    out.push_back(static_cast<std::uint8_t>(parts.size()));
    for (const auto* m : parts) {
        out.push_back(static_cast<std::uint8_t>(m->size() >> 8));
        out.push_back(static_cast<std::uint8_t>(m->size()));
    }
    for (const auto* m : parts)
        out.insert(out.end(), m->begin(), m->end());
    return out;
}

Bytes CompoundBuilder::finish() const {
    // The same choice of parts as encode_compound: the first 255 of at most 65535 bytes.
    std::size_t kept = 0, total = 2;
    for (std::size_t i = 0; i < ends_.size() && kept < kMaxCompoundParts; ++i) {
        const std::size_t len = part(i).size();
        if (len <= 0xffff) {
            ++kept;
            total += 2 + len;
        }
    }
    Bytes out;
    out.reserve(total);
    out.push_back(static_cast<std::uint8_t>(MsgType::Compound));
    out.push_back(static_cast<std::uint8_t>(kept));
    std::size_t n = 0;
    for (std::size_t i = 0; i < ends_.size() && n < kept; ++i) {
        const std::size_t len = part(i).size();
        if (len <= 0xffff) {
            ++n;
            out.push_back(static_cast<std::uint8_t>(len >> 8));
            out.push_back(static_cast<std::uint8_t>(len));
        }
    }
    n = 0;
    for (std::size_t i = 0; i < ends_.size() && n < kept; ++i) {
        const ByteView p = part(i);
        if (p.size() <= 0xffff) {
            ++n;
            out.insert(out.end(), p.begin(), p.end());
        }
    }
    return out;
}

Result<CompoundParts> split_compound(ByteView buf) {
    if (buf.empty() || buf[0] != static_cast<std::uint8_t>(MsgType::Compound))
        return make_error("malformed", "not a compound message");
    if (buf.size() < 2)
        return make_error("truncated", "compound message without a part count");
    std::size_t n = buf[1];
    std::size_t pos = 2;
    if (buf.size() - pos < 2 * n)
        return make_error("truncated", "compound length table is truncated");
    CompoundParts out;
    std::size_t body = pos + 2 * n;
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t len = (static_cast<std::size_t>(buf[pos + 2 * i]) << 8) | buf[pos + 2 * i + 1];
        if (buf.size() - body < len) {
            out.truncated = n - i;
            break;
        }
        out.parts.push_back(buf.subspan(body, len));
        body += len;
    }
    return out;
}

Bytes encode_push_pull(const PushPull& pp) {
    Bytes out;
    out.push_back(static_cast<std::uint8_t>(MsgType::PushPull));
    msgpack::Writer w(out, kGossip);
    msgpack::write(w, PushPullHeader{pp.join, pp.nodes.size(), pp.user_state.size()});
    for (const auto& s : pp.nodes)
        msgpack::write(w, s);
    w.raw(pp.user_state);
    return out;
}

Bytes encode_push_pull(bool join, std::size_t n, const std::function<void(std::size_t, PushNodeState&)>& fill,
                       ByteView user_state) {
    Bytes out;
    out.reserve(16 + n * 64 + user_state.size());
    out.push_back(static_cast<std::uint8_t>(MsgType::PushPull));
    msgpack::Writer w(out, kGossip);
    msgpack::write(w, PushPullHeader{join, n, user_state.size()});
    PushNodeState s;
    for (std::size_t i = 0; i < n; ++i) {
        fill(i, s);
        msgpack::write(w, s);
    }
    w.raw(user_state);
    return out;
}

namespace {
/// decode_push_pull into PushPull (owning) or PushPullView (views of `buf`).
template <typename PP> Result<PP> decode_push_pull_as(ByteView buf) {
    auto body = body_of(buf, MsgType::PushPull, "push-pull");
    if (!body)
        return body.error();
    msgpack::Reader& r = *body;
    auto h = read_header<PushPullHeader>(r, "push-pull header");
    if (!h)
        return h.error();
    if (h->nodes > kMaxPushPullNodes || h->user_state_len > 0x7fffffffULL)
        return make_error("malformed", "push-pull header: Nodes or UserStateLen out of range");
    if (h->nodes > r.remaining())
        return make_error("truncated", "push-pull claims " + std::to_string(h->nodes) + " node states in " +
                                           std::to_string(r.remaining()) + " bytes");
    PP pp;
    pp.join = h->join;
    pp.nodes.resize(static_cast<std::size_t>(h->nodes));
    for (std::size_t i = 0; i < pp.nodes.size(); ++i) {
        if (auto st = msgpack::read(r, pp.nodes[i]); !st)
            return st.error().with_prefix("push-pull node state " + std::to_string(i));
    }
    auto user = r.raw(static_cast<std::size_t>(h->user_state_len));
    if (!user)
        return user.error().with_prefix("push-pull user state");
    if constexpr (std::is_same_v<PP, PushPullView>) {
        pp.user_state = *user;
    } else {
        pp.user_state.assign(user->begin(), user->end());
    }
    return pp;
}
} // namespace

Result<PushPull> decode_push_pull(ByteView buf) {
    return decode_push_pull_as<PushPull>(buf);
}

Result<PushPullView> decode_push_pull_view(ByteView buf) {
    return decode_push_pull_as<PushPullView>(buf);
}

Bytes encode_stream_user(ByteView payload) {
    Bytes out;
    out.push_back(static_cast<std::uint8_t>(MsgType::User));
    msgpack::encode_into(out, UserMsgHeader{payload.size()}, kGossip);
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

Result<Bytes> decode_stream_user(ByteView buf) {
    auto body = body_of(buf, MsgType::User, "user");
    if (!body)
        return body.error();
    msgpack::Reader& r = *body;
    auto h = read_header<UserMsgHeader>(r, "user message header");
    if (!h)
        return h.error();
    if (h->user_msg_len > 0x7fffffffULL)
        return make_error("malformed", "user message header: UserMsgLen out of range");
    auto payload = r.raw(static_cast<std::size_t>(h->user_msg_len));
    if (!payload)
        return payload.error().with_prefix("user message");
    return Bytes(payload->begin(), payload->end());
}

} // namespace clusterd::wire
