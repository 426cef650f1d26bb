// Serf IPC v1 frames: command names, the exact error strings, and the codecs of every header,
// request body, response body and stream record. Field names and their (alphabetical) order on the
// wire follow what the Go agent and client send; see docs/rpc.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "clusterd/base/result.hpp"
#include "clusterd/rpc/agent_api.hpp"
#include "clusterd/rpc/msgpack.hpp"

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
}  // namespace cmd

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
}  // namespace err

namespace rec {
inline constexpr std::string_view kAck = "ack";
inline constexpr std::string_view kResponse = "response";
inline constexpr std::string_view kDone = "done";
}  // namespace rec

/// True for the 20 commands of IPC v1 and clusterd's `store-list`.
bool is_known_command(std::string_view command);
/// True if a request of this command is followed by a body.
bool command_has_body(std::string_view command);

struct RequestHeader {
    std::string command;
    std::uint64_t seq = 0;
};
struct ResponseHeader {
    std::uint64_t seq = 0;
    std::string error;
};

struct HandshakeRequest { std::int32_t version = 0; };
struct AuthRequest { std::string auth_key; };
struct EventRequest { std::string name; base::Bytes payload; bool coalesce = false; };
struct ForceLeaveRequest { std::string node; bool prune = false; };
struct JoinRequest { std::vector<std::string> existing; bool replay = false; };
struct MembersFilteredRequest { Tags tags; std::string status; std::string name; };
struct TagsRequest { Tags tags; std::vector<std::string> delete_tags; };
struct StreamRequest { std::string type; };
struct MonitorRequest { std::string log_level; };
struct StopRequest { std::uint64_t stop = 0; };
struct QueryRequest { QueryParams params; };
struct RespondRequest { std::uint64_t id = 0; base::Bytes payload; };
struct KeyRequest { std::string key; };
struct CoordinateRequest { std::string node; };

struct JoinResponse { std::int32_t num = 0; };
struct MembersResponse { std::vector<Member> members; };
struct CoordinateResponse { Coordinate coord; bool ok = false; };
using StatsResponse = std::map<std::string, std::map<std::string, std::string>>;
using StoreListResponse = StoreListing;

struct LogRecord { std::string log; };
struct QueryRecord { std::string type; std::string from; base::Bytes payload; };
struct UserEventRecord { std::uint64_t ltime = 0; std::string name; base::Bytes payload; bool coalesce = false; };
struct QueryEventRecord { std::uint64_t id = 0; std::uint64_t ltime = 0; std::string name; base::Bytes payload; };

// ---- encoders (append one msgpack object) ----
void encode(base::Bytes& out, const RequestHeader& v);
void encode(base::Bytes& out, const ResponseHeader& v);
void encode(base::Bytes& out, const HandshakeRequest& v);
void encode(base::Bytes& out, const AuthRequest& v);
void encode(base::Bytes& out, const EventRequest& v);
void encode(base::Bytes& out, const ForceLeaveRequest& v);
void encode(base::Bytes& out, const JoinRequest& v);
void encode(base::Bytes& out, const MembersFilteredRequest& v);
void encode(base::Bytes& out, const TagsRequest& v);
void encode(base::Bytes& out, const StreamRequest& v);
void encode(base::Bytes& out, const MonitorRequest& v);
void encode(base::Bytes& out, const StopRequest& v);
void encode(base::Bytes& out, const QueryRequest& v);
void encode(base::Bytes& out, const RespondRequest& v);
void encode(base::Bytes& out, const KeyRequest& v);
void encode(base::Bytes& out, const CoordinateRequest& v);
void encode(base::Bytes& out, const JoinResponse& v);
void encode(base::Bytes& out, const MembersResponse& v);
void encode(base::Bytes& out, const KeyResponse& v, bool with_keys);
void encode(base::Bytes& out, const CoordinateResponse& v);
void encode(base::Bytes& out, const StatsResponse& v);
void encode(base::Bytes& out, const StoreListResponse& v);
void encode(base::Bytes& out, const LogRecord& v);
void encode(base::Bytes& out, const QueryRecord& v);
void encode(base::Bytes& out, const MemberEvent& v);  ///< {Event, Members}
void encode(base::Bytes& out, const UserEventRecord& v);
void encode(base::Bytes& out, const QueryEventRecord& v);
void encode(base::Bytes& out, const Member& v);

// ---- decoders (from a decoded msgpack object; missing fields keep their zero value, as Go) ----
base::Status decode(const mp::Value& v, RequestHeader& out);
base::Status decode(const mp::Value& v, ResponseHeader& out);
base::Status decode(const mp::Value& v, HandshakeRequest& out);
base::Status decode(const mp::Value& v, AuthRequest& out);
base::Status decode(const mp::Value& v, EventRequest& out);
base::Status decode(const mp::Value& v, ForceLeaveRequest& out);
base::Status decode(const mp::Value& v, JoinRequest& out);
base::Status decode(const mp::Value& v, MembersFilteredRequest& out);
base::Status decode(const mp::Value& v, TagsRequest& out);
base::Status decode(const mp::Value& v, StreamRequest& out);
base::Status decode(const mp::Value& v, MonitorRequest& out);
base::Status decode(const mp::Value& v, StopRequest& out);
base::Status decode(const mp::Value& v, QueryRequest& out);
base::Status decode(const mp::Value& v, RespondRequest& out);
base::Status decode(const mp::Value& v, KeyRequest& out);
base::Status decode(const mp::Value& v, CoordinateRequest& out);
base::Status decode(const mp::Value& v, JoinResponse& out);
base::Status decode(const mp::Value& v, MembersResponse& out);
base::Status decode(const mp::Value& v, KeyResponse& out);
base::Status decode(const mp::Value& v, CoordinateResponse& out);
base::Status decode(const mp::Value& v, StatsResponse& out);
base::Status decode(const mp::Value& v, StoreListResponse& out);
base::Status decode(const mp::Value& v, LogRecord& out);
base::Status decode(const mp::Value& v, QueryRecord& out);
base::Status decode(const mp::Value& v, Member& out);

}  // namespace clusterd::rpc
