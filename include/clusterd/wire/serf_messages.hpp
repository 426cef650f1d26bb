// Serf gossip messages (hashicorp/serf serf/messages.go, serf.go, internal_query.go) carried as
// memberlist user messages: one SerfMsgType byte + a go-msgpack body; plus node-Meta tag
// encoding, query filters and the relay wrapper.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/result.hpp"
#include "clusterd/base/time.hpp"
#include "clusterd/codec/msgpack/fields.hpp"
#include "clusterd/codec/msgpack/serf_member.hpp"

namespace clusterd::wire {

enum class SerfMsgType : std::uint8_t {
    Leave = 0,
    Join = 1,
    PushPull = 2,
    UserEvent = 3,
    Query = 4,
    QueryResponse = 5,
    ConflictResponse = 6,
    KeyRequest = 7,
    KeyResponse = 8,
    Relay = 9,
};

// Each message lists its wire fields once, right below its struct (Go field name, member,
// hint; sorted by Go name as go-msgpack writes them); the list drives encode, decode and
// encoded size. kType is the SerfMsgType byte. See docs/architecture.md, "Codecs".
namespace msgpack = codec::msgpack;
using msgpack::field;
using msgpack::kNeverNil;
using msgpack::kNilIfEmpty;

/// Query flags (messageQuery.Flags / messageQueryResponse.Flags).
inline constexpr std::uint32_t kQueryFlagAck = 1;
inline constexpr std::uint32_t kQueryFlagNoBroadcast = 2;

struct SerfLeave {
    std::uint64_t ltime = 0;
    std::string node;
    bool prune = false; ///< encoded as field "Prune"; older peers ignore it
    static constexpr SerfMsgType kType = SerfMsgType::Leave;
    friend bool operator==(const SerfLeave&, const SerfLeave&) = default;
};
constexpr auto msgpack_fields(const SerfLeave*) {
    using M = SerfLeave;
    return msgpack::fields(field("LTime", &M::ltime), field("Node", &M::node), field("Prune", &M::prune));
}

struct SerfJoin {
    std::uint64_t ltime = 0;
    std::string node;
    static constexpr SerfMsgType kType = SerfMsgType::Join;
    friend bool operator==(const SerfJoin&, const SerfJoin&) = default;
};
constexpr auto msgpack_fields(const SerfJoin*) {
    return msgpack::fields(field("LTime", &SerfJoin::ltime), field("Node", &SerfJoin::node));
}

struct SerfUserEvent {
    std::uint64_t ltime = 0;
    std::string name;
    base::Bytes payload;
    bool cc = false; ///< "can coalesce"
    static constexpr SerfMsgType kType = SerfMsgType::UserEvent;
    friend bool operator==(const SerfUserEvent&, const SerfUserEvent&) = default;
};
constexpr auto msgpack_fields(const SerfUserEvent*) {
    using M = SerfUserEvent;
    return msgpack::fields(field("CC", &M::cc), field("LTime", &M::ltime), field("Name", &M::name),
                           field("Payload", &M::payload));
}

/// One event in a push-pull event buffer slot (serf.go userEvent).
struct SerfEventEntry {
    std::string name;
    base::Bytes payload;
    friend bool operator==(const SerfEventEntry&, const SerfEventEntry&) = default;
};
constexpr auto msgpack_fields(const SerfEventEntry*) {
    return msgpack::fields(field("Name", &SerfEventEntry::name), field("Payload", &SerfEventEntry::payload));
}

/// serf.go userEvents: the events seen at one Lamport time.
struct SerfUserEvents {
    std::uint64_t ltime = 0;
    std::vector<SerfEventEntry> events;
    friend bool operator==(const SerfUserEvents&, const SerfUserEvents&) = default;
};
constexpr auto msgpack_fields(const SerfUserEvents*) {
    return msgpack::fields(field("Events", &SerfUserEvents::events, kNilIfEmpty),
                           field("LTime", &SerfUserEvents::ltime));
}

/// Serf's delegate state in memberlist push-pull. Go sends its whole event ring buffer, so
/// empty slots arrive as msgpack nil: they are std::nullopt here and encode back to nil.
struct SerfPushPull {
    std::uint64_t ltime = 0;
    std::map<std::string, std::uint64_t> status_ltimes; ///< encoded in key order (Go: random)
    std::vector<std::string> left_members;
    std::uint64_t event_ltime = 0;
    std::vector<std::optional<SerfUserEvents>> events;
    std::uint64_t query_ltime = 0;
    static constexpr SerfMsgType kType = SerfMsgType::PushPull;
    friend bool operator==(const SerfPushPull&, const SerfPushPull&) = default;
};
constexpr auto msgpack_fields(const SerfPushPull*) {
    using M = SerfPushPull;
    return msgpack::fields(field("EventLTime", &M::event_ltime), field("Events", &M::events),
                           field("LTime", &M::ltime), field("LeftMembers", &M::left_members),
                           field("QueryLTime", &M::query_ltime), field("StatusLTimes", &M::status_ltimes));
}

struct SerfQuery {
    std::uint64_t ltime = 0;
    std::uint32_t id = 0;
    base::Bytes addr; ///< 4 or 16 bytes: where responses go
    std::uint16_t port = 0;
    std::string source_node;
    std::vector<base::Bytes> filters; ///< each from encode_filter()
    std::uint32_t flags = 0;
    std::uint8_t relay_factor = 0;
    base::Duration timeout{0}; ///< Go time.Duration, int64 ns on the wire
    std::string name;
    base::Bytes payload;
    static constexpr SerfMsgType kType = SerfMsgType::Query;
    friend bool operator==(const SerfQuery&, const SerfQuery&) = default;
};
constexpr auto msgpack_fields(const SerfQuery*) {
    using M = SerfQuery;
    return msgpack::fields(
        field("Addr", &M::addr), field("Filters", &M::filters, msgpack::Hint(kNilIfEmpty | kNeverNil)),
        field("Flags", &M::flags), field("ID", &M::id), field("LTime", &M::ltime), field("Name", &M::name),
        field("Payload", &M::payload), field("Port", &M::port), field("RelayFactor", &M::relay_factor),
        field("SourceNode", &M::source_node), field("Timeout", &M::timeout));
}

struct SerfQueryResponse {
    std::uint64_t ltime = 0;
    std::uint32_t id = 0;
    std::string from;
    std::uint32_t flags = 0;
    base::Bytes payload;
    static constexpr SerfMsgType kType = SerfMsgType::QueryResponse;
    friend bool operator==(const SerfQueryResponse&, const SerfQueryResponse&) = default;
};
constexpr auto msgpack_fields(const SerfQueryResponse*) {
    using M = SerfQueryResponse;
    return msgpack::fields(field("Flags", &M::flags), field("From", &M::from), field("ID", &M::id),
                           field("LTime", &M::ltime), field("Payload", &M::payload));
}

/// Type 6, the payload of a "_serf_conflict" query response: serf.Member as go-msgpack writes it.
struct SerfConflictResponse {
    std::string name;
    base::Bytes addr;
    std::uint16_t port = 0;
    std::map<std::string, std::string> tags;
    std::int64_t status = 0; ///< serf MemberStatus: none 0, alive 1, leaving 2, left 3, failed 4
    std::uint8_t protocol_min = 0, protocol_max = 0, protocol_cur = 0;
    std::uint8_t delegate_min = 0, delegate_max = 0, delegate_cur = 0;
    static constexpr SerfMsgType kType = SerfMsgType::ConflictResponse;
    friend bool operator==(const SerfConflictResponse&, const SerfConflictResponse&) = default;
};
constexpr auto msgpack_fields(const SerfConflictResponse*) {
    return msgpack::serf_member_fields<SerfConflictResponse>();
}

/// Type 7, payload of the _serf_install-key/_serf_use-key/_serf_remove-key queries.
struct SerfKeyRequest {
    base::Bytes key;
    static constexpr SerfMsgType kType = SerfMsgType::KeyRequest;
    friend bool operator==(const SerfKeyRequest&, const SerfKeyRequest&) = default;
};
/// Serf decodes the base64 key first, so Key is never nil.
constexpr auto msgpack_fields(const SerfKeyRequest*) {
    return msgpack::fields(field("Key", &SerfKeyRequest::key, kNeverNil));
}

/// Type 8, the reply to key queries (internal_query.go nodeKeyResponse).
struct SerfKeyResponse {
    bool result = false;
    std::string message;
    std::vector<std::string> keys; ///< base64 keys (list-keys only)
    std::string primary_key;
    static constexpr SerfMsgType kType = SerfMsgType::KeyResponse;
    friend bool operator==(const SerfKeyResponse&, const SerfKeyResponse&) = default;
};
constexpr auto msgpack_fields(const SerfKeyResponse*) {
    using M = SerfKeyResponse;
    return msgpack::fields(field("Keys", &M::keys, kNilIfEmpty), field("Message", &M::message),
                           field("PrimaryKey", &M::primary_key), field("Result", &M::result));
}

/// Type 9: [9][relayHeader{DestAddr{IP,Port,Zone},DestName}][inner message with its type byte].
struct SerfRelay {
    base::Bytes dest_ip; ///< 4 or 16 bytes
    std::int64_t dest_port = 0;
    std::string dest_zone;
    std::string dest_name;
    base::Bytes inner; ///< complete Serf message, type byte first (a query response)
    static constexpr SerfMsgType kType = SerfMsgType::Relay;
    friend bool operator==(const SerfRelay&, const SerfRelay&) = default;
};
/// The relay header; `inner` follows it raw.
constexpr auto msgpack_fields(const SerfRelay*) {
    using M = SerfRelay;
    return msgpack::fields(msgpack::group("DestAddr", field("IP", &M::dest_ip), field("Port", &M::dest_port),
                                          field("Zone", &M::dest_zone)),
                           field("DestName", &M::dest_name));
}

using SerfMessage =
    std::variant<SerfLeave, SerfJoin, SerfPushPull, SerfUserEvent, SerfQuery, SerfQueryResponse,
                 SerfConflictResponse, SerfKeyRequest, SerfKeyResponse, SerfRelay>;

SerfMsgType serf_message_type(const SerfMessage& m);

/// [type byte][msgpack body] (a relay: [9][header][inner bytes]).
base::Bytes encode_serf(const SerfMessage& m);
/// Decodes one Serf message (type byte first). Errors "truncated", "malformed", "unknown_type".
base::Result<SerfMessage> decode_serf(base::ByteView buf);

// ---- query filters (messages.go filterNode / filterTag) ----
struct FilterNodes {
    std::vector<std::string> nodes;
    friend bool operator==(const FilterNodes&, const FilterNodes&) = default;
};
struct FilterTag {
    std::string tag;
    std::string expr; ///< a Go regexp, anchored by the matcher, not here
    friend bool operator==(const FilterTag&, const FilterTag&) = default;
};
constexpr auto msgpack_fields(const FilterTag*) {
    return msgpack::fields(field("Expr", &FilterTag::expr), field("Tag", &FilterTag::tag));
}
using QueryFilter = std::variant<FilterNodes, FilterTag>;
/// [0][msgpack []string] or [1][msgpack {Tag,Expr}].
base::Bytes encode_filter(const QueryFilter& f);
base::Result<QueryFilter> decode_filter(base::ByteView buf);

// ---- tags in node Meta (serf.go encodeTags/decodeTags) ----
inline constexpr std::uint8_t kTagMagicByte = 0xFF;
/// 0xFF + msgpack map (keys in sorted order; Go's order is random). Serf protocol >= 3.
base::Bytes encode_tags(const std::map<std::string, std::string>& tags);
/// Serf protocol < 3: the "role" tag's value as the whole Meta.
base::Bytes encode_tags_legacy(const std::map<std::string, std::string>& tags);
/// Meta without the magic byte (including empty) -> {"role": meta}. Error "malformed" when the
/// map after the magic byte does not decode (Serf logs and uses an empty map then).
base::Result<std::map<std::string, std::string>> decode_tags(base::ByteView meta);

// ---- size limits (serf.go, config.go, memberlist net.go) ----
inline constexpr std::size_t kUdpPacketBudget = 1400;          ///< memberlist UDPBufferSize default
inline constexpr std::size_t kMetaMaxSize = 512;               ///< memberlist MetaMaxSize
inline constexpr std::size_t kUserEventSizeLimitDefault = 512; ///< serf config UserEventSizeLimit
inline constexpr std::size_t kUserEventSizeLimitMax = 9216;    ///< serf.go UserEventSizeLimit (9 KiB)
inline constexpr std::size_t kQuerySizeLimitDefault = 1024;
inline constexpr std::size_t kQueryResponseSizeLimitDefault = 1024;

/// Serf's two user-event checks: name+payload before encoding, then the encoded message, each
/// against the configured limit and the hard 9216 cap. Error code "too_large"; the message
/// names the limit exactly as Serf words it.
base::Status check_user_event_size(const std::string& name, base::ByteView payload,
                                   std::size_t configured_limit);
base::Status check_encoded_user_event_size(std::size_t encoded_len, std::size_t configured_limit);
/// "query exceeds limit of N bytes" for an encoded query message.
base::Status check_query_size(std::size_t encoded_len, std::size_t limit);
/// "response exceeds limit of N bytes" for an encoded query response.
base::Status check_query_response_size(std::size_t encoded_len, std::size_t limit);
/// Encoded tags must fit memberlist's Meta: "Encoded length of tags exceeds limit of 512 bytes".
base::Status check_tags_size(std::size_t encoded_len);

} // namespace clusterd::wire
