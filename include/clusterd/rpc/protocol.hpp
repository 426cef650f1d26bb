// Serf IPC v1 frames: command names, the exact error strings, and the codecs of every header,
// request body, response body and stream record. Field names and their (alphabetical) order on the
// wire follow what the Go agent and client send; see docs/rpc.md.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clusterd/base/result.hpp"
#include "clusterd/codec/msgpack/fields.hpp"
#include "clusterd/codec/msgpack/serf_member.hpp"
#include "clusterd/codec/msgpack/value.hpp"
#include "clusterd/rpc/agent_api.hpp"

namespace clusterd::rpc {

inline constexpr int kIpcVersion = 1;

namespace cmd {
inline constexpr std::string_view kHandshake = "handshake";
inline constexpr std::string_view kAuth = "auth";
inline constexpr std::string_view kEvent = "event";
inline constexpr std::string_view kForceLeave = "force-leave";
inline constexpr std::string_view kJoin = "join";
inline constexpr std::string_view kMembers = "members";
inline constexpr std::string_view kMembersFiltered = "members-filtered";
inline constexpr std::string_view kTags = "tags";
inline constexpr std::string_view kStream = "stream";
inline constexpr std::string_view kMonitor = "monitor";
inline constexpr std::string_view kStop = "stop";
inline constexpr std::string_view kLeave = "leave";
inline constexpr std::string_view kQuery = "query";
inline constexpr std::string_view kRespond = "respond";
inline constexpr std::string_view kInstallKey = "install-key";
inline constexpr std::string_view kUseKey = "use-key";
inline constexpr std::string_view kRemoveKey = "remove-key";
inline constexpr std::string_view kListKeys = "list-keys";
inline constexpr std::string_view kStats = "stats";
inline constexpr std::string_view kGetCoordinate = "get-coordinate";
/// clusterd's own command (Serf agents answer "Unsupported command"): the datastore registry.
inline constexpr std::string_view kStoreList = "store-list";
} // namespace cmd

namespace err {
inline constexpr std::string_view kUnsupportedCommand = "Unsupported command";
inline constexpr std::string_view kUnsupportedIpcVersion = "Unsupported IPC version";
inline constexpr std::string_view kDuplicateHandshake = "Handshake already performed";
inline constexpr std::string_view kHandshakeRequired = "Handshake required";
inline constexpr std::string_view kMonitorExists = "Monitor already exists";
inline constexpr std::string_view kInvalidFilter = "Invalid event filter";
inline constexpr std::string_view kStreamExists = "Stream with given sequence exists";
inline constexpr std::string_view kInvalidQueryId = "No pending queries matching ID";
inline constexpr std::string_view kAuthRequired = "Authentication required";
inline constexpr std::string_view kInvalidAuthToken = "Invalid authentication token";
} // namespace err

namespace rec {
inline constexpr std::string_view kAck = "ack";
inline constexpr std::string_view kResponse = "response";
inline constexpr std::string_view kDone = "done";
} // namespace rec

// Every header, body and record lists its wire fields once (Go field name, member, hint), in
// the order the Go agent writes them (sorted by name); the list drives encode, decode and
// encoded size (codec/msgpack/fields.hpp), in the IPC dialect (str8, []byte as bin).
namespace msgpack = codec::msgpack;
using msgpack::constant;
using msgpack::field;
using msgpack::kNilIfEmpty;

struct RequestHeader {
    std::string command;
    std::uint64_t seq = 0;
};
constexpr auto msgpack_fields(const RequestHeader*) {
    return msgpack::fields(field("Command", &RequestHeader::command), field("Seq", &RequestHeader::seq));
}
struct ResponseHeader {
    std::uint64_t seq = 0;
    std::string error;
};
constexpr auto msgpack_fields(const ResponseHeader*) {
    return msgpack::fields(field("Error", &ResponseHeader::error), field("Seq", &ResponseHeader::seq));
}

// ---- request bodies ----
struct HandshakeRequest {
    std::int32_t version = 0;
};
constexpr auto msgpack_fields(const HandshakeRequest*) {
    return msgpack::fields(field("Version", &HandshakeRequest::version));
}
struct AuthRequest {
    std::string auth_key;
};
constexpr auto msgpack_fields(const AuthRequest*) {
    return msgpack::fields(field("AuthKey", &AuthRequest::auth_key));
}
struct EventRequest {
    std::string name;
    base::Bytes payload;
    bool coalesce = false;
};
constexpr auto msgpack_fields(const EventRequest*) {
    using M = EventRequest;
    return msgpack::fields(field("Coalesce", &M::coalesce), field("Name", &M::name),
                           field("Payload", &M::payload));
}
struct ForceLeaveRequest {
    std::string node;
    bool prune = false;
};
constexpr auto msgpack_fields(const ForceLeaveRequest*) {
    return msgpack::fields(field("Node", &ForceLeaveRequest::node),
                           field("Prune", &ForceLeaveRequest::prune));
}
struct JoinRequest {
    std::vector<std::string> existing;
    bool replay = false;
};
constexpr auto msgpack_fields(const JoinRequest*) {
    return msgpack::fields(field("Existing", &JoinRequest::existing), field("Replay", &JoinRequest::replay));
}
struct MembersFilteredRequest {
    Tags tags;
    std::string status;
    std::string name;
};
constexpr auto msgpack_fields(const MembersFilteredRequest*) {
    using M = MembersFilteredRequest;
    return msgpack::fields(field("Name", &M::name), field("Status", &M::status), field("Tags", &M::tags));
}
struct TagsRequest {
    Tags tags;
    std::vector<std::string> delete_tags;
};
constexpr auto msgpack_fields(const TagsRequest*) {
    return msgpack::fields(field("DeleteTags", &TagsRequest::delete_tags), field("Tags", &TagsRequest::tags));
}
struct StreamRequest {
    std::string type;
};
constexpr auto msgpack_fields(const StreamRequest*) {
    return msgpack::fields(field("Type", &StreamRequest::type));
}
struct MonitorRequest {
    std::string log_level;
};
constexpr auto msgpack_fields(const MonitorRequest*) {
    return msgpack::fields(field("LogLevel", &MonitorRequest::log_level));
}
struct StopRequest {
    std::uint64_t stop = 0;
};
constexpr auto msgpack_fields(const StopRequest*) {
    return msgpack::fields(field("Stop", &StopRequest::stop));
}
/// The query request body is QueryParams' fields.
constexpr auto msgpack_fields(const QueryParams*) {
    using M = QueryParams;
    return msgpack::fields(field("FilterNodes", &M::filter_nodes), field("FilterTags", &M::filter_tags),
                           field("Name", &M::name), field("Payload", &M::payload),
                           field("RelayFactor", &M::relay_factor), field("RequestAck", &M::request_ack),
                           field("Timeout", &M::timeout));
}
struct QueryRequest {
    QueryParams params;
};
struct RespondRequest {
    std::uint64_t id = 0;
    base::Bytes payload;
};
constexpr auto msgpack_fields(const RespondRequest*) {
    return msgpack::fields(field("ID", &RespondRequest::id), field("Payload", &RespondRequest::payload));
}
struct KeyRequest {
    std::string key;
};
constexpr auto msgpack_fields(const KeyRequest*) {
    return msgpack::fields(field("Key", &KeyRequest::key));
}
struct CoordinateRequest {
    std::string node;
};
constexpr auto msgpack_fields(const CoordinateRequest*) {
    return msgpack::fields(field("Node", &CoordinateRequest::node));
}

// ---- response bodies ----
struct JoinResponse {
    std::int32_t num = 0;
};
constexpr auto msgpack_fields(const JoinResponse*) {
    return msgpack::fields(field("Num", &JoinResponse::num));
}
constexpr auto msgpack_fields(const Member*) {
    return msgpack::serf_member_fields<Member>();
}
struct MembersResponse {
    std::vector<Member> members;
};
constexpr auto msgpack_fields(const MembersResponse*) {
    return msgpack::fields(field("Members", &MembersResponse::members));
}
/// KeyResponse on the wire: Keys is nil except for list-keys.
struct KeyResponseBody {
    std::optional<std::map<std::string, int>> keys;
    std::map<std::string, std::string> messages;
    int num_err = 0, num_nodes = 0, num_resp = 0;
};
constexpr auto msgpack_fields(const KeyResponseBody*) {
    using M = KeyResponseBody;
    return msgpack::fields(field("Keys", &M::keys), field("Messages", &M::messages),
                           field("NumErr", &M::num_err), field("NumNodes", &M::num_nodes),
                           field("NumResp", &M::num_resp));
}
constexpr auto msgpack_fields(const Coordinate*) {
    using M = Coordinate;
    return msgpack::fields(field("Adjustment", &M::adjustment), field("Error", &M::error),
                           field("Height", &M::height), field("Vec", &M::vec, kNilIfEmpty));
}
struct CoordinateResponse {
    Coordinate coord;
    bool ok = false;
};
constexpr auto msgpack_fields(const CoordinateResponse*) {
    return msgpack::fields(field("Coord", &CoordinateResponse::coord), field("Ok", &CoordinateResponse::ok));
}
using StatsResponse = std::map<std::string, std::map<std::string, std::string>>;
using StoreListResponse = StoreListing;
constexpr auto msgpack_fields(const StoreRow*) {
    using M = StoreRow;
    return msgpack::fields(field("Addr", &M::addr), field("Created", &M::created_ms),
                           field("Expires", &M::expires_ms), field("LastSeen", &M::last_seen_ms),
                           field("Name", &M::name), field("Problem", &M::problem));
}
constexpr auto msgpack_fields(const StoreListing*) {
    using M = StoreListing;
    return msgpack::fields(field("Now", &M::now_ms), field("Rows", &M::rows), field("State", &M::state),
                           field("Store", &M::store));
}

// ---- stream records ----
struct LogRecord {
    std::string log;
};
constexpr auto msgpack_fields(const LogRecord*) {
    return msgpack::fields(field("Log", &LogRecord::log));
}
struct QueryRecord {
    std::string type;
    std::string from;
    base::Bytes payload;
};
constexpr auto msgpack_fields(const QueryRecord*) {
    using M = QueryRecord;
    return msgpack::fields(field("From", &M::from), field("Payload", &M::payload), field("Type", &M::type));
}
constexpr auto msgpack_fields(const MemberEvent*) {
    return msgpack::fields(field("Event", &MemberEvent::type), field("Members", &MemberEvent::members));
}
struct UserEventRecord {
    std::uint64_t ltime = 0;
    std::string name;
    base::Bytes payload;
    bool coalesce = false;
};
constexpr auto msgpack_fields(const UserEventRecord*) {
    using M = UserEventRecord;
    return msgpack::fields(field("Coalesce", &M::coalesce), constant("Event", "user"),
                           field("LTime", &M::ltime), field("Name", &M::name), field("Payload", &M::payload));
}
struct QueryEventRecord {
    std::uint64_t id = 0;
    std::uint64_t ltime = 0;
    std::string name;
    base::Bytes payload;
};
constexpr auto msgpack_fields(const QueryEventRecord*) {
    using M = QueryEventRecord;
    return msgpack::fields(constant("Event", "query"), field("ID", &M::id), field("LTime", &M::ltime),
                           field("Name", &M::name), field("Payload", &M::payload));
}

/// A reply body as the client reads it: the raw msgpack object and its generic tree.
struct Body : msgpack::Value {
    base::Bytes raw;
};

/// Caps every string, byte slice and element count a decoder accepts (as the session's
/// request limit does for whole requests).
inline constexpr msgpack::Limits kDecodeLimits{64u * 1024 * 1024, 32};

// ---- codecs: one template over the field lists (plus the two bodies with a twist) ----
template <typename T> void encode(base::Bytes& out, const T& v) {
    msgpack::Writer w(out, msgpack::Dialect::Ipc);
    msgpack::Codec<T>::write(w, v, msgpack::kPlain);
}
/// Decodes one object from the front of `in` (missing fields keep their zero value, as Go).
template <typename T> base::Status decode(base::ByteView in, T& out) {
    msgpack::Reader r(in, kDecodeLimits);
    return msgpack::Codec<T>::read(r, out);
}
template <typename T> base::Status decode(const Body& body, T& out) {
    return decode(base::ByteView(body.raw), out);
}
void encode(base::Bytes& out, const QueryRequest& v);
base::Status decode(base::ByteView in, QueryRequest& out);
/// `with_keys`: list-keys sends its Keys map, the other key commands nil.
void encode(base::Bytes& out, const KeyResponse& v, bool with_keys);
base::Status decode(base::ByteView in, KeyResponse& out);

} // namespace clusterd::rpc
