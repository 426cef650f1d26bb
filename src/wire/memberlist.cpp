// Encoders/decoders for memberlist's gossip messages (field names and order from memberlist
// net.go: ping, indirectPingReq, ackResp, nackResp, errResp, suspect, alive, dead,
// pushPullHeader, pushNodeState, userMsgHeader) and the compound framing (util.go).
#include "clusterd/wire/memberlist.hpp"

#include <type_traits>

#include "gomsgpack.hpp"

namespace clusterd::wire {

namespace {

using base::Bytes;
using base::ByteView;
using base::Error;
using base::make_error;
using base::Result;

// Helpers that assign a decoded field or return its error from the enclosing lambda.
#define WIRE_READ(expr, target)              \
    do {                                     \
        auto wire_r_ = (expr);               \
        if (!wire_r_) return wire_r_.error(); \
        target = std::move(*wire_r_);        \
    } while (0)

void write_body(mp::Writer& w, const Ping& m) {
    std::size_t n = 2 + (m.source_addr.empty() ? 0 : 1) + (m.source_port == 0 ? 0 : 1) + (m.source_node.empty() ? 0 : 1);
    w.map_header(n);
    w.key("Node"); w.str(m.node);
    w.key("SeqNo"); w.uint(m.seq_no);
    if (!m.source_addr.empty()) { w.key("SourceAddr"); w.bytes(m.source_addr); }
    if (!m.source_node.empty()) { w.key("SourceNode"); w.str(m.source_node); }
    if (m.source_port != 0) { w.key("SourcePort"); w.uint(m.source_port); }
}

void write_body(mp::Writer& w, const IndirectPing& m) {
    std::size_t n = 5 + (m.source_addr.empty() ? 0 : 1) + (m.source_port == 0 ? 0 : 1) + (m.source_node.empty() ? 0 : 1);
    w.map_header(n);
    w.key("Nack"); w.boolean(m.nack);
    w.key("Node"); w.str(m.node);
    w.key("Port"); w.uint(m.port);
    w.key("SeqNo"); w.uint(m.seq_no);
    if (!m.source_addr.empty()) { w.key("SourceAddr"); w.bytes(m.source_addr); }
    if (!m.source_node.empty()) { w.key("SourceNode"); w.str(m.source_node); }
    if (m.source_port != 0) { w.key("SourcePort"); w.uint(m.source_port); }
    w.key("Target"); w.bytes(m.target);
}

void write_body(mp::Writer& w, const Ack& m) {
    w.map_header(2);
    w.key("Payload"); w.bytes(m.payload);
    w.key("SeqNo"); w.uint(m.seq_no);
}

void write_body(mp::Writer& w, const Nack& m) {
    w.map_header(1);
    w.key("SeqNo"); w.uint(m.seq_no);
}

void write_body(mp::Writer& w, const ErrResp& m) {
    w.map_header(1);
    w.key("Error"); w.str(m.error);
}

void write_body(mp::Writer& w, const Suspect& m) {
    w.map_header(3);
    w.key("From"); w.str(m.from);
    w.key("Incarnation"); w.uint(m.incarnation);
    w.key("Node"); w.str(m.node);
}

void write_body(mp::Writer& w, const Alive& m) {
    w.map_header(6);
    w.key("Addr"); w.bytes(m.addr);
    w.key("Incarnation"); w.uint(m.incarnation);
    w.key("Meta"); w.bytes(m.meta);
    w.key("Node"); w.str(m.node);
    w.key("Port"); w.uint(m.port);
    w.key("Vsn"); w.bytes(m.vsn);
}

void write_body(mp::Writer& w, const Dead& m) {
    w.map_header(3);
    w.key("From"); w.str(m.from);
    w.key("Incarnation"); w.uint(m.incarnation);
    w.key("Node"); w.str(m.node);
}

void write_node_state(mp::Writer& w, const PushNodeState& s) {
    w.map_header(7);
    w.key("Addr"); w.bytes(s.addr);
    w.key("Incarnation"); w.uint(s.incarnation);
    w.key("Meta"); w.bytes(s.meta);
    w.key("Name"); w.str(s.name);
    w.key("Port"); w.uint(s.port);
    w.key("State"); w.sint(static_cast<std::int64_t>(s.state));
    w.key("Vsn"); w.bytes(s.vsn);
}

constexpr std::uint64_t kU32 = 0xffffffffULL;
constexpr std::uint64_t kU16 = 0xffff;

Result<Ping> read_ping(mp::Reader& r) {
    Ping m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "SeqNo") WIRE_READ(in.uint(kU32), m.seq_no);
        else if (k == "Node") WIRE_READ(in.str(), m.node);
        else if (k == "SourceAddr") WIRE_READ(in.bytes(), m.source_addr);
        else if (k == "SourcePort") WIRE_READ(in.uint(kU16), m.source_port);
        else if (k == "SourceNode") WIRE_READ(in.str(), m.source_node);
        else return false;
        return true;
    });
    if (!st) return st.error();
    return m;
}

Result<IndirectPing> read_indirect(mp::Reader& r) {
    IndirectPing m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "SeqNo") WIRE_READ(in.uint(kU32), m.seq_no);
        else if (k == "Target") WIRE_READ(in.bytes(), m.target);
        else if (k == "Port") WIRE_READ(in.uint(kU16), m.port);
        else if (k == "Node") WIRE_READ(in.str(), m.node);
        else if (k == "Nack") WIRE_READ(in.boolean(), m.nack);
        else if (k == "SourceAddr") WIRE_READ(in.bytes(), m.source_addr);
        else if (k == "SourcePort") WIRE_READ(in.uint(kU16), m.source_port);
        else if (k == "SourceNode") WIRE_READ(in.str(), m.source_node);
        else return false;
        return true;
    });
    if (!st) return st.error();
    return m;
}

Result<Ack> read_ack(mp::Reader& r) {
    Ack m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "SeqNo") WIRE_READ(in.uint(kU32), m.seq_no);
        else if (k == "Payload") WIRE_READ(in.bytes(), m.payload);
        else return false;
        return true;
    });
    if (!st) return st.error();
    return m;
}

Result<Nack> read_nack(mp::Reader& r) {
    Nack m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "SeqNo") WIRE_READ(in.uint(kU32), m.seq_no);
        else return false;
        return true;
    });
    if (!st) return st.error();
    return m;
}

Result<ErrResp> read_err(mp::Reader& r) {
    ErrResp m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "Error") WIRE_READ(in.str(), m.error);
        else return false;
        return true;
    });
    if (!st) return st.error();
    return m;
}

template <typename T>
Result<T> read_suspect_like(mp::Reader& r) {
    T m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "Incarnation") WIRE_READ(in.uint(kU32), m.incarnation);
        else if (k == "Node") WIRE_READ(in.str(), m.node);
        else if (k == "From") WIRE_READ(in.str(), m.from);
        else return false;
        return true;
    });
    if (!st) return st.error();
    return m;
}

Result<Alive> read_alive(mp::Reader& r) {
    Alive m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "Incarnation") WIRE_READ(in.uint(kU32), m.incarnation);
        else if (k == "Node") WIRE_READ(in.str(), m.node);
        else if (k == "Addr") WIRE_READ(in.bytes(), m.addr);
        else if (k == "Port") WIRE_READ(in.uint(kU16), m.port);
        else if (k == "Meta") WIRE_READ(in.bytes(), m.meta);
        else if (k == "Vsn") WIRE_READ(in.bytes(), m.vsn);
        else return false;
        return true;
    });
    if (!st) return st.error();
    return m;
}

Result<PushNodeState> read_node_state(mp::Reader& r) {
    PushNodeState m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "Name") WIRE_READ(in.str(), m.name);
        else if (k == "Addr") WIRE_READ(in.bytes(), m.addr);
        else if (k == "Port") WIRE_READ(in.uint(kU16), m.port);
        else if (k == "Meta") WIRE_READ(in.bytes(), m.meta);
        else if (k == "Incarnation") WIRE_READ(in.uint(kU32), m.incarnation);
        else if (k == "State") {
            auto v = in.sint();
            if (!v) return v.error();
            if (*v < 0 || *v > 3) return mp::malformed("node state " + std::to_string(*v) + " out of range");
            m.state = static_cast<NodeState>(*v);
        } else if (k == "Vsn") WIRE_READ(in.bytes(), m.vsn);
        else return false;
        return true;
    });
    if (!st) return st.error();
    return m;
}

template <typename T>
Result<Message> finish(Result<T> r, const mp::Reader& rd, const char* what) {
    if (!r) return r.error().with_prefix(what);
    (void)rd;  // trailing bytes are ignored, as Go's decoder reads one value and stops
    return Message{std::move(*r)};
}

}  // namespace

MsgType message_type(const Message& m) {
    return std::visit(
        [](const auto& v) -> MsgType {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, Ping>) return MsgType::Ping;
            else if constexpr (std::is_same_v<T, IndirectPing>) return MsgType::IndirectPing;
            else if constexpr (std::is_same_v<T, Ack>) return MsgType::Ack;
            else if constexpr (std::is_same_v<T, Nack>) return MsgType::Nack;
            else if constexpr (std::is_same_v<T, ErrResp>) return MsgType::Err;
            else if constexpr (std::is_same_v<T, Suspect>) return MsgType::Suspect;
            else if constexpr (std::is_same_v<T, Alive>) return MsgType::Alive;
            else if constexpr (std::is_same_v<T, Dead>) return MsgType::Dead;
            else if constexpr (std::is_same_v<T, UserMsg>) return MsgType::User;
            else static_assert(sizeof(T) == 0, "unhandled message");
        },
        m);
}

Bytes encode(const Message& m) {
    Bytes out;
    out.push_back(static_cast<std::uint8_t>(message_type(m)));
    mp::Writer w(out);
    std::visit(
        [&](const auto& v) {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, UserMsg>) {
                w.raw(v.payload);
            } else {
                write_body(w, v);
            }
        },
        m);
    return out;
}

Result<Message> decode(ByteView buf) {
    if (buf.empty()) return make_error("truncated", "empty message");
    std::uint8_t t = buf[0];
    mp::Reader r(buf.subspan(1));
    switch (static_cast<MsgType>(t)) {
        case MsgType::Ping: return finish(read_ping(r), r, "ping");
        case MsgType::IndirectPing: return finish(read_indirect(r), r, "indirect ping");
        case MsgType::Ack: return finish(read_ack(r), r, "ack");
        case MsgType::Nack: return finish(read_nack(r), r, "nack");
        case MsgType::Err: return finish(read_err(r), r, "err");
        case MsgType::Suspect: return finish(read_suspect_like<Suspect>(r), r, "suspect");
        case MsgType::Alive: return finish(read_alive(r), r, "alive");
        case MsgType::Dead: return finish(read_suspect_like<Dead>(r), r, "dead");
        case MsgType::User: return Message{UserMsg{Bytes(buf.begin() + 1, buf.end())}};
        case MsgType::PushPull:
        case MsgType::Compound:
        case MsgType::Compress:
        case MsgType::Encrypt:
        case MsgType::HasCrc:
            return make_error("unexpected_type",
                              "message type " + std::to_string(t) + " is an envelope or stream message, not a single message");
    }
    return make_error("unknown_type", "unknown memberlist message type " + std::to_string(t));
}

Bytes encode_compound(const std::vector<Bytes>& msgs) {
    // The count is one byte and each length two: parts beyond 255 or longer than 65535 bytes
    // cannot be represented and are left out rather than written corrupt.
    std::vector<const Bytes*> parts;
    for (const auto& m : msgs) {
        if (parts.size() == kMaxCompoundParts) break;
        if (m.size() <= 0xffff) parts.push_back(&m);
    }
    Bytes out;
    std::size_t total = 2 + 2 * parts.size();
    for (const auto* m : parts) total += m->size();
    out.reserve(total);
    out.push_back(static_cast<std::uint8_t>(MsgType::Compound));
    out.push_back(static_cast<std::uint8_t>(parts.size()));
    for (const auto* m : parts) {
        out.push_back(static_cast<std::uint8_t>(m->size() >> 8));
        out.push_back(static_cast<std::uint8_t>(m->size()));
    }
    for (const auto* m : parts) out.insert(out.end(), m->begin(), m->end());
    return out;
}

Result<CompoundParts> split_compound(ByteView buf) {
    if (buf.empty() || buf[0] != static_cast<std::uint8_t>(MsgType::Compound))
        return make_error("malformed", "not a compound message");
    if (buf.size() < 2) return make_error("truncated", "compound message without a part count");
    std::size_t n = buf[1];
    std::size_t pos = 2;
    if (buf.size() - pos < 2 * n) return make_error("truncated", "compound length table is truncated");
    CompoundParts out;
    std::size_t body = pos + 2 * n;
    for (std::size_t i = 0; i < n; ++i) {
        std::size_t len = (static_cast<std::size_t>(buf[pos + 2 * i]) << 8) | buf[pos + 2 * i + 1];
        if (buf.size() - body < len) {
            out.truncated = n - i;
            break;
        }
        out.parts.emplace_back(buf.begin() + static_cast<std::ptrdiff_t>(body),
                               buf.begin() + static_cast<std::ptrdiff_t>(body + len));
        body += len;
    }
    return out;
}

Bytes encode_push_pull(const PushPull& pp) {
    Bytes out;
    out.push_back(static_cast<std::uint8_t>(MsgType::PushPull));
    mp::Writer w(out);
    w.map_header(3);
    w.key("Join"); w.boolean(pp.join);
    w.key("Nodes"); w.uint(pp.nodes.size());
    w.key("UserStateLen"); w.uint(pp.user_state.size());
    for (const auto& s : pp.nodes) write_node_state(w, s);
    w.raw(pp.user_state);
    return out;
}

namespace {
struct PushPullHeader {
    std::uint64_t nodes = 0;
    std::uint64_t user_state_len = 0;
    bool join = false;
};

Result<PushPullHeader> read_pp_header(mp::Reader& r) {
    PushPullHeader h;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "Nodes") WIRE_READ(in.uint(kMaxPushPullNodes), h.nodes);
        else if (k == "UserStateLen") WIRE_READ(in.uint(0x7fffffffULL), h.user_state_len);
        else if (k == "Join") WIRE_READ(in.boolean(), h.join);
        else return false;
        return true;
    });
    if (!st) return st.error().with_prefix("push-pull header");
    return h;
}
}  // namespace

Result<PushPull> decode_push_pull(ByteView buf) {
    if (buf.empty()) return make_error("truncated", "empty push-pull message");
    if (buf[0] != static_cast<std::uint8_t>(MsgType::PushPull))
        return make_error("unexpected_type", "expected push-pull (6), got type " + std::to_string(buf[0]));
    mp::Reader r(buf.subspan(1));
    auto h = read_pp_header(r);
    if (!h) return h.error();
    if (h->nodes > r.remaining())
        return make_error("truncated", "push-pull claims " + std::to_string(h->nodes) + " node states in " +
                                           std::to_string(r.remaining()) + " bytes");
    PushPull pp;
    pp.join = h->join;
    pp.nodes.reserve(static_cast<std::size_t>(h->nodes));
    for (std::uint64_t i = 0; i < h->nodes; ++i) {
        auto s = read_node_state(r);
        if (!s) return s.error().with_prefix("push-pull node state " + std::to_string(i));
        pp.nodes.push_back(std::move(*s));
    }
    if (h->user_state_len > r.remaining())
        return make_error("truncated", "push-pull user state of " + std::to_string(h->user_state_len) +
                                           " bytes but only " + std::to_string(r.remaining()) + " remain");
    auto rest = r.rest();
    pp.user_state.assign(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(h->user_state_len));
    return pp;
}

Bytes encode_stream_user(ByteView payload) {
    Bytes out;
    out.push_back(static_cast<std::uint8_t>(MsgType::User));
    mp::Writer w(out);
    w.map_header(1);
    w.key("UserMsgLen"); w.uint(payload.size());
    w.raw(payload);
    return out;
}

Result<Bytes> decode_stream_user(ByteView buf) {
    if (buf.empty()) return make_error("truncated", "empty stream user message");
    if (buf[0] != static_cast<std::uint8_t>(MsgType::User))
        return make_error("unexpected_type", "expected user (8), got type " + std::to_string(buf[0]));
    mp::Reader r(buf.subspan(1));
    std::uint64_t len = 0;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "UserMsgLen") WIRE_READ(in.uint(0x7fffffffULL), len);
        else return false;
        return true;
    });
    if (!st) return st.error().with_prefix("user message header");
    if (len > r.remaining())
        return make_error("truncated", "user message of " + std::to_string(len) + " bytes but only " +
                                           std::to_string(r.remaining()) + " remain");
    auto rest = r.rest();
    return Bytes(rest.begin(), rest.begin() + static_cast<std::ptrdiff_t>(len));
}

}  // namespace clusterd::wire
