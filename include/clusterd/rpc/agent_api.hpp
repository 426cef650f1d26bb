// AgentApi: what the RPC server needs from a running agent. The agent (src/agent) implements it on
// top of serf::Node; tests use a FakeAgent. Every call is made on the io_context thread that runs
// the server. Operations that may wait on the cluster (join, leave, key operations, ...) complete
// through a callback, which the agent may invoke synchronously or later on the same thread.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/time.hpp"

namespace clusterd::rpc {

using Tags = std::map<std::string, std::string>;

/// A cluster member as the IPC `Member` record carries it.
struct Member {
    std::string name;
    base::Bytes addr; ///< 4 (IPv4) or 16 (IPv6) bytes, as Go's net.IP
    std::uint16_t port = 0;
    Tags tags;
    std::string status; ///< Serf's strings: "alive", "leaving", "left", "failed", "none"
    std::uint8_t protocol_min = 0, protocol_max = 0, protocol_cur = 0; ///< memberlist
    std::uint8_t delegate_min = 0, delegate_max = 0, delegate_cur = 0; ///< serf
    friend bool operator==(const Member&, const Member&) = default;
};

/// Serf's key-operation outcome (install-key, use-key, remove-key, list-keys).
struct KeyResponse {
    std::string error;                           ///< "" on success, e.g. "1/3 nodes reported failure"
    std::map<std::string, std::string> messages; ///< node -> error message
    std::map<std::string, int> keys;             ///< list-keys only: base64 key -> nodes holding it
    int num_nodes = 0;
    int num_err = 0;
    int num_resp = 0;
};

/// A Vivaldi network coordinate (units: seconds), as serf/coordinate.Coordinate.
struct Coordinate {
    std::vector<double> vec;
    double error = 0;
    double adjustment = 0;
    double height = 0;
    friend bool operator==(const Coordinate&, const Coordinate&) = default;
};

struct QueryParams {
    std::vector<std::string> filter_nodes;
    Tags filter_tags; ///< tag -> regex
    bool request_ack = false;
    std::uint8_t relay_factor = 0;
    base::Duration timeout{0}; ///< 0: the agent picks Serf's default
    std::string name;
    base::Bytes payload;
};

/// How a running query reports back. Each callback may be called on the io thread until `done`.
struct QueryCallbacks {
    std::function<void(const std::string& from)> on_ack;
    std::function<void(const std::string& from, const base::Bytes& payload)> on_response;
    std::function<void()> on_done;
};

/// Events a `stream` subscriber sees.
struct MemberEvent {
    std::string type; ///< "member-join", "member-leave", "member-failed", "member-update", "member-reap"
    std::vector<Member> members;
};
struct UserEvent {
    std::uint64_t ltime = 0;
    std::string name;
    base::Bytes payload;
    bool coalesce = false;
};
struct QueryEvent {
    std::uint64_t token = 0; ///< agent-wide handle used by respond()
    std::uint64_t ltime = 0;
    std::string name;
    base::Bytes payload;
    base::Instant deadline; ///< after it, respond() is refused (same clock as Session::expire)
};
using Event = std::variant<MemberEvent, UserEvent, QueryEvent>;

/// clusterd's `store-list`: the discovery registry as the datastore holds it. Times are
/// milliseconds since the Unix epoch (0 when a row's column does not parse).
struct StoreRow {
    std::string name;
    std::string addr;
    std::int64_t created_ms = 0, last_seen_ms = 0, expires_ms = 0;
    std::string problem; ///< "" for a valid row, else why discovery skips it
    friend bool operator==(const StoreRow&, const StoreRow&) = default;
};
struct StoreListing {
    std::string store;       ///< the datastore URL without credentials
    std::string state;       ///< "up", "down" or "unknown"
    std::int64_t now_ms = 0; ///< the agent's wall clock when the rows were read
    std::vector<StoreRow> rows;
    friend bool operator==(const StoreListing&, const StoreListing&) = default;
};

using SubscriptionId = std::uint64_t;
using ErrorCallback = std::function<void(const std::string& error)>; ///< "" = success

class AgentApi {
  public:
    virtual ~AgentApi() = default;

    virtual std::vector<Member> members() = 0;
    /// A number that changes whenever members() would answer differently and is never reused
    /// in this process (another agent instance gets other numbers): a caller may keep work
    /// derived from members() under it. 0 = unknown (nothing may be kept).
    virtual std::uint64_t members_version() { return 0; }
    /// Serf's Join: `done(num_contacted, error)`.
    virtual void join(const std::vector<std::string>& addrs, bool replay,
                      std::function<void(int, const std::string&)> done) = 0;
    /// Graceful leave; the agent shuts itself down after the RPC reply was written (shutdown()).
    virtual void leave(ErrorCallback done) = 0;
    /// Called by the server once the reply to `leave` has been flushed.
    virtual void shutdown() {}
    virtual void force_leave(const std::string& node, bool prune, ErrorCallback done) = 0;
    virtual void user_event(const std::string& name, const base::Bytes& payload, bool coalesce,
                            ErrorCallback done) = 0;
    /// Sets tags (merged over the current ones after removing `remove`), as Serf's IPC does.
    virtual void set_tags(const Tags& set, const std::vector<std::string>& remove, ErrorCallback done) = 0;
    /// Starts a query. On error `callbacks` are never called. The returned id cancels the
    /// callbacks (cancel_query) when the client goes away.
    virtual std::string query(const QueryParams& params, QueryCallbacks callbacks, SubscriptionId& id) = 0;
    virtual void cancel_query(SubscriptionId id) = 0;
    /// Answers a query received through a stream; "" on success.
    virtual std::string respond(std::uint64_t token, const base::Bytes& payload) = 0;
    virtual void install_key(const std::string& key, std::function<void(const KeyResponse&)> done) = 0;
    virtual void use_key(const std::string& key, std::function<void(const KeyResponse&)> done) = 0;
    virtual void remove_key(const std::string& key, std::function<void(const KeyResponse&)> done) = 0;
    virtual void list_keys(std::function<void(const KeyResponse&)> done) = 0;
    virtual std::map<std::string, std::map<std::string, std::string>> stats() = 0;
    virtual std::optional<Coordinate> get_coordinate(const std::string& node) = 0;
    /// Every event (the session filters). Unsubscribe before the callback's owner dies.
    virtual SubscriptionId subscribe_events(std::function<void(const Event&)> cb) = 0;
    /// Every log line, formatted as the agent logs it ("... [INFO] agent: ..."); the agent may first
    /// replay its recent lines. The session filters by level.
    virtual SubscriptionId subscribe_logs(std::function<void(const std::string&)> cb) = 0;
    virtual void unsubscribe(SubscriptionId id) = 0;
    /// clusterd: reads every row of the discovery datastore. `done(error, listing)`; an agent
    /// without a datastore answers with an error.
    virtual void store_list(std::function<void(const std::string&, const StoreListing&)> done) {
        done("no datastore configured on this agent (set cluster.datastore or -datastore)", {});
    }
};

} // namespace clusterd::rpc
