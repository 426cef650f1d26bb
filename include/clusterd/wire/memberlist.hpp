// memberlist gossip messages (hashicorp/memberlist net.go) and their codecs: one type byte
// followed by a msgpack body written exactly as Go's go-msgpack MsgpackHandle writes it
// (structs as maps keyed by Go field names sorted bytewise -- go-msgpack sorts struct fields,
// verified against captured Serf traffic -- and []byte written as msgpack str).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <variant>
#include <vector>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/result.hpp"
#include "clusterd/codec/msgpack/fields.hpp"

namespace clusterd::wire {

enum class MsgType : std::uint8_t {
    Ping = 0,
    IndirectPing = 1,
    Ack = 2,
    Suspect = 3,
    Alive = 4,
    Dead = 5,
    PushPull = 6,
    Compound = 7,
    User = 8,
    Compress = 9,
    Encrypt = 10,
    Nack = 11,
    HasCrc = 12,
    Err = 13,
};

// Each message lists its wire fields once, right below its struct: Go field name (the map key;
// lists are sorted by it, as go-msgpack writes struct fields), member, encoding hint. That list
// drives encode, decode and encoded size (codec/msgpack/fields.hpp); kType is the type byte.
// Adding a field is one line in the list (and the member itself).
namespace msgpack = codec::msgpack;
using msgpack::field;
using msgpack::kNeverNil;
using msgpack::kNilIfEmpty;
using msgpack::kOmitEmpty;

// Byte-slice fields (addresses, meta, payloads, vsn) encode as msgpack nil when empty, which is
// what Go sends for a nil slice; decoders accept nil, str and bin for them.

/// Direct probe. source_* are omitted from the encoding when empty/zero (Go omitempty).
struct Ping {
    std::uint32_t seq_no = 0;
    std::string node;
    base::Bytes source_addr; ///< 4 or 16 bytes, or empty
    std::uint16_t source_port = 0;
    std::string source_node;
    static constexpr MsgType kType = MsgType::Ping;
    friend bool operator==(const Ping&, const Ping&) = default;
};
constexpr auto msgpack_fields(const Ping*) {
    return msgpack::fields(field("Node", &Ping::node), field("SeqNo", &Ping::seq_no),
                           field("SourceAddr", &Ping::source_addr, kOmitEmpty),
                           field("SourceNode", &Ping::source_node, kOmitEmpty),
                           field("SourcePort", &Ping::source_port, kOmitEmpty));
}

/// Ask a peer to probe `target` on our behalf.
struct IndirectPing {
    std::uint32_t seq_no = 0;
    base::Bytes target; ///< 4 or 16 bytes
    std::uint16_t port = 0;
    std::string node;
    bool nack = false;
    base::Bytes source_addr; ///< omitted when empty
    std::uint16_t source_port = 0;
    std::string source_node;
    static constexpr MsgType kType = MsgType::IndirectPing;
    friend bool operator==(const IndirectPing&, const IndirectPing&) = default;
};
constexpr auto msgpack_fields(const IndirectPing*) {
    using M = IndirectPing;
    return msgpack::fields(field("Nack", &M::nack), field("Node", &M::node), field("Port", &M::port),
                           field("SeqNo", &M::seq_no), field("SourceAddr", &M::source_addr, kOmitEmpty),
                           field("SourceNode", &M::source_node, kOmitEmpty),
                           field("SourcePort", &M::source_port, kOmitEmpty), field("Target", &M::target));
}

struct Ack {
    std::uint32_t seq_no = 0;
    base::Bytes payload;
    static constexpr MsgType kType = MsgType::Ack;
    friend bool operator==(const Ack&, const Ack&) = default;
};
constexpr auto msgpack_fields(const Ack*) {
    return msgpack::fields(field("Payload", &Ack::payload), field("SeqNo", &Ack::seq_no));
}

struct Nack {
    std::uint32_t seq_no = 0;
    static constexpr MsgType kType = MsgType::Nack;
    friend bool operator==(const Nack&, const Nack&) = default;
};
constexpr auto msgpack_fields(const Nack*) {
    return msgpack::fields(field("SeqNo", &Nack::seq_no));
}

/// Type 13: a remote error relayed over a stream.
struct ErrResp {
    std::string error;
    static constexpr MsgType kType = MsgType::Err;
    friend bool operator==(const ErrResp&, const ErrResp&) = default;
};
constexpr auto msgpack_fields(const ErrResp*) {
    return msgpack::fields(field("Error", &ErrResp::error));
}

struct Suspect {
    std::uint32_t incarnation = 0;
    std::string node;
    std::string from;
    static constexpr MsgType kType = MsgType::Suspect;
    friend bool operator==(const Suspect&, const Suspect&) = default;
};
constexpr auto msgpack_fields(const Suspect*) {
    return msgpack::fields(field("From", &Suspect::from), field("Incarnation", &Suspect::incarnation),
                           field("Node", &Suspect::node));
}

struct Alive {
    std::uint32_t incarnation = 0;
    std::string node;
    base::Bytes addr; ///< 4 or 16 bytes
    std::uint16_t port = 0;
    base::Bytes meta;
    base::Bytes vsn; ///< pmin, pmax, pcur, dmin, dmax, dcur (6 bytes when present)
    static constexpr MsgType kType = MsgType::Alive;
    friend bool operator==(const Alive&, const Alive&) = default;
};
/// The same message viewed in place (decoded without allocating: the endpoint's fast path for
/// the many stale copies of a join storm); valid while its input is.
struct AliveView {
    std::uint32_t incarnation = 0;
    std::string_view node;
    base::ByteView addr;
    std::uint16_t port = 0;
    base::ByteView meta;
    base::ByteView vsn;
};
/// The alive message's wire fields, listed once for both.
template <typename M> constexpr auto alive_fields() {
    return msgpack::fields(field("Addr", &M::addr), field("Incarnation", &M::incarnation),
                           field("Meta", &M::meta), field("Node", &M::node), field("Port", &M::port),
                           field("Vsn", &M::vsn));
}
constexpr auto msgpack_fields(const Alive*) {
    return alive_fields<Alive>();
}
constexpr auto msgpack_fields(const AliveView*) {
    return alive_fields<AliveView>();
}

struct Dead {
    std::uint32_t incarnation = 0;
    std::string node;
    std::string from;
    static constexpr MsgType kType = MsgType::Dead;
    friend bool operator==(const Dead&, const Dead&) = default;
};
constexpr auto msgpack_fields(const Dead*) {
    return msgpack::fields(field("From", &Dead::from), field("Incarnation", &Dead::incarnation),
                           field("Node", &Dead::node));
}

/// Type 8: opaque delegate (Serf) message bytes; on a packet it is [8][payload].
struct UserMsg {
    base::Bytes payload;
    static constexpr MsgType kType = MsgType::User;
    friend bool operator==(const UserMsg&, const UserMsg&) = default;
};

enum class NodeState : std::uint8_t { Alive = 0, Suspect = 1, Dead = 2, Left = 3 };
constexpr NodeState msgpack_enum_max(NodeState) {
    return NodeState::Left;
}

/// One member in a push-pull: owning (PushNodeState) or viewed in place in its input
/// (PushNodeStateView, decode_push_pull_view; valid while the input is). One field list for both.
template <typename Text, typename Blob> struct BasicPushNodeState {
    Text name;
    Blob addr;
    std::uint16_t port = 0;
    Blob meta;
    std::uint32_t incarnation = 0;
    NodeState state = NodeState::Alive;
    Blob vsn;
    friend bool operator==(const BasicPushNodeState&, const BasicPushNodeState&) = default;
};
template <typename Text, typename Blob> constexpr auto msgpack_fields(const BasicPushNodeState<Text, Blob>*) {
    using M = BasicPushNodeState<Text, Blob>;
    return msgpack::fields(field("Addr", &M::addr), field("Incarnation", &M::incarnation),
                           field("Meta", &M::meta), field("Name", &M::name), field("Port", &M::port),
                           field("State", &M::state), field("Vsn", &M::vsn));
}
using PushNodeState = BasicPushNodeState<std::string, base::Bytes>;
using PushNodeStateView = BasicPushNodeState<std::string_view, base::ByteView>;

/// The msgpack header in front of a push-pull's node states and user state.
struct PushPullHeader {
    bool join = false;
    std::uint64_t nodes = 0;
    std::uint64_t user_state_len = 0;
};
constexpr auto msgpack_fields(const PushPullHeader*) {
    using M = PushPullHeader;
    return msgpack::fields(field("Join", &M::join), field("Nodes", &M::nodes),
                           field("UserStateLen", &M::user_state_len));
}

/// The msgpack header of a stream user message.
struct UserMsgHeader {
    std::uint64_t user_msg_len = 0;
};
constexpr auto msgpack_fields(const UserMsgHeader*) {
    return msgpack::fields(field("UserMsgLen", &UserMsgHeader::user_msg_len));
}

/// Type 9 body: an LZW-compressed message (Algo 0 = LZW).
struct CompressMsg {
    std::uint8_t algo = 0;
    base::Bytes buf;
};
constexpr auto msgpack_fields(const CompressMsg*) {
    return msgpack::fields(field("Algo", &CompressMsg::algo), field("Buf", &CompressMsg::buf, kNeverNil));
}

/// Type 6 (stream only): [6][header{Nodes,UserStateLen,Join}][nodes...][raw user state].
struct PushPull {
    bool join = false;
    std::vector<PushNodeState> nodes;
    base::Bytes user_state;
    friend bool operator==(const PushPull&, const PushPull&) = default;
};

/// A push-pull decoded in place (one vector of views, no other allocation); valid while its
/// input is.
struct PushPullView {
    bool join = false;
    std::vector<PushNodeStateView> nodes;
    base::ByteView user_state;
};

using Message = std::variant<Ping, IndirectPing, Ack, Nack, ErrResp, Suspect, Alive, Dead, UserMsg>;

MsgType message_type(const Message& m);

/// [type byte][msgpack body]; UserMsg is [8][raw payload].
base::Bytes encode(const Message& m);
/// encode(Message{a}) into `out` (cleared first), without copying `a` into a Message.
void encode_alive_into(base::Bytes& out, const Alive& a);
/// Decodes one message (type byte first). Errors: "truncated", "malformed", "unknown_type",
/// "unexpected_type" (a known type that is not a single message: push-pull, compound, ...).
base::Result<Message> decode(base::ByteView buf);
/// An alive message (type byte first) viewed in place; valid while `buf` is.
base::Result<AliveView> decode_alive_view(base::ByteView buf);

/// Compound (type 7): [7][count u8][count x u16 BE length][messages]. Only the first 255 parts
/// of at most 65535 bytes each are representable; others are left out (callers size their batch).
base::Bytes encode_compound(const std::vector<base::Bytes>& msgs);
/// encode_compound's bytes built a part at a time: each part is copied once into one buffer as
/// it comes (a broadcast queue hands out views that are only valid during its call), and
/// finish() writes the compound. Parts that encode_compound would leave out are left out.
class CompoundBuilder {
  public:
    void clear() {
        ends_.clear();
        body_.clear();
    }
    void add(base::ByteView part) {
        body_.insert(body_.end(), part.begin(), part.end());
        ends_.push_back(body_.size());
    }
    /// Parts added (those finish() leaves out included).
    std::size_t parts() const { return ends_.size(); }
    /// Part `i` as added; valid until the next add() or clear().
    base::ByteView part(std::size_t i) const {
        const std::size_t from = i == 0 ? 0 : ends_[i - 1];
        return base::ByteView(body_).subspan(from, ends_[i] - from);
    }
    /// encode_compound of the parts added.
    base::Bytes finish() const;

  private:
    std::vector<std::size_t> ends_; ///< end offset of each part in body_
    base::Bytes body_;
};
/// The parts of a compound message. Like memberlist, parts after the first one whose declared
/// length runs past the buffer are dropped and counted in `truncated` (not an error).
struct CompoundParts {
    std::vector<base::ByteView> parts; ///< views into the buffer given to split_compound
    std::size_t truncated = 0;
};
/// Splits a compound message (type byte 7 first). Errors: "truncated" when the count byte or
/// the length table is missing, "malformed" when the type byte is not 7.
base::Result<CompoundParts> split_compound(base::ByteView buf);

base::Bytes encode_push_pull(const PushPull& pp);
/// Decodes a whole push-pull message (type byte 6 first). Rejects more than
/// kMaxPushPullNodes states or a user-state length beyond the remaining bytes.
base::Result<PushPull> decode_push_pull(base::ByteView buf);
/// decode_push_pull into views of `buf` (the same checks and errors).
base::Result<PushPullView> decode_push_pull_view(base::ByteView buf);
/// encode_push_pull without building a PushPull: `fill(i, state)` sets the i-th of `n` node
/// states in one reused PushNodeState (no allocation per state once its buffers have grown).
/// The same bytes as encode_push_pull of those states.
base::Bytes encode_push_pull(bool join, std::size_t n,
                             const std::function<void(std::size_t, PushNodeState&)>& fill,
                             base::ByteView user_state);

/// Stream (TCP) user message: [8][userMsgHeader{UserMsgLen}][raw payload].
base::Bytes encode_stream_user(base::ByteView payload);
/// Decodes a stream user message (type byte 8 first) and returns the payload.
base::Result<base::Bytes> decode_stream_user(base::ByteView buf);

/// Budget accounting used when packing gossip into a compound (memberlist net.go constants):
/// 2 bytes of compound header, 2 bytes of length per part, 1 byte for a user message's type.
inline constexpr std::size_t kCompoundHeaderOverhead = 2;
inline constexpr std::size_t kCompoundOverhead = 2;
inline constexpr std::size_t kUserMsgOverhead = 1;
/// At most 255 parts fit a compound's count byte.
inline constexpr std::size_t kMaxCompoundParts = 255;

/// Hard cap on node states accepted in one push-pull (memberlist has no explicit cap; the
/// 20 MiB stream limit bounds it; this keeps allocation proportional to input).
inline constexpr std::size_t kMaxPushPullNodes = 1u << 20;

} // namespace clusterd::wire
