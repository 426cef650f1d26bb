// serf::Node: the Serf layer on top of a swim::Endpoint it owns. Its delegate on that endpoint
// carries Serf messages in memberlist user messages and gossip piggyback (three broadcast
// queues: intents, queries, events), Serf's clocks/status times/event ring in push-pull, tags
// in node meta and Vivaldi coordinates in ping acks. Pure and sans-I/O like the endpoint:
// the driver forwards packets/streams/timeouts with `now`, drains poll_transmit(), and polls
// events, query updates, join results, log lines and snapshot records.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/latency.hpp"
#include "clusterd/base/result.hpp"
#include "clusterd/base/rng.hpp"
#include "clusterd/base/time.hpp"
#include "clusterd/coord/client.hpp"
#include "clusterd/serf/coalesce.hpp"
#include "clusterd/serf/config.hpp"
#include "clusterd/serf/dedup_buffers.hpp"
#include "clusterd/serf/event.hpp"
#include "clusterd/serf/intents.hpp"
#include "clusterd/serf/key_manager.hpp"
#include "clusterd/serf/lamport.hpp"
#include "clusterd/serf/member.hpp"
#include "clusterd/serf/query.hpp"
#include "clusterd/serf/snapshot.hpp"
#include "clusterd/swim/delegate.hpp"
#include "clusterd/swim/endpoint.hpp"

namespace clusterd::serf {

/// Serf instance state (go: SerfAlive, SerfLeaving, SerfLeft, SerfShutdown).
enum class NodeState : std::uint8_t { Alive, Leaving, Left, Shutdown };

struct QueryParams {
    std::vector<std::string> filter_nodes;
    std::map<std::string, std::string> filter_tags; ///< tag -> regex (unanchored)
    bool request_ack = false;
    std::uint8_t relay_factor = 0;
    base::Duration timeout{0}; ///< 0 = default_query_timeout
};

/// Progress of a query this node started (what Serf's QueryResponse channels carry).
struct QueryAck {
    std::uint64_t handle;
    std::string from;
};
struct QueryResponse {
    std::uint64_t handle;
    std::string from;
    base::Bytes payload;
};
struct QueryDone {
    std::uint64_t handle;
};
/// The aggregated outcome of a key operation started with key_operation().
struct KeyOperationDone {
    std::uint64_t handle;
    KeyOp op;
    KeyResponse response;
    std::string error; ///< "" on success, else Serf's "N/M nodes reported failure" text
};
using QueryUpdate = std::variant<QueryAck, QueryResponse, QueryDone, KeyOperationDone>;

struct LogLine {
    enum class Level : std::uint8_t { Debug, Info, Warn, Error };
    Level level;
    std::string text; ///< Serf style, e.g. "serf: EventMemberJoin: a 10.0.0.1"
};

/// A join result as the driver sees it (seeds from join(), not internal reconnects).
using JoinResult = swim::JoinResult;

/// Counts by a name that peers or users choose (user events, queries): at most kMaxNames names
/// are counted one by one, the rest together in `other`, so a flood of distinct names costs no
/// memory.
struct NameCounts {
    static constexpr std::size_t kMaxNames = 64;
    std::map<std::string, std::uint64_t> by_name;
    std::uint64_t other = 0;
    void add(const std::string& name) {
        auto it = by_name.find(name);
        if (it != by_name.end())
            ++it->second;
        else if (by_name.size() < kMaxNames)
            by_name.emplace(name, 1);
        else
            ++other;
    }
};

struct NodeStats {
    std::uint64_t malformed_messages = 0;
    std::uint64_t user_events_old = 0;
    std::uint64_t user_events_duplicate = 0;
    std::uint64_t queries_old = 0;
    std::uint64_t queries_duplicate = 0;
    std::uint64_t query_responses_unknown = 0;
    std::uint64_t query_responses_duplicate = 0;
    std::uint64_t relayed = 0;
    std::uint64_t reconnect_attempts = 0;
    std::uint64_t coordinate_rejected = 0;
    std::uint64_t events_dropped = 0; ///< event queue overflow
    /// Broadcasts dropped by the queue-depth check (Serf's "queue depth exceeds limit"), by queue.
    std::uint64_t intent_broadcasts_pruned = 0, event_broadcasts_pruned = 0, query_broadcasts_pruned = 0;
    // Serf's telemetry (docs/metrics.md): member events as emitted (serf.member.*), new user
    // events and queries (serf.events, serf.queries, each also by name), coordinate adjustments.
    std::uint64_t member_join = 0, member_left = 0, member_failed = 0, member_update = 0, member_reap = 0;
    std::uint64_t user_events = 0, queries = 0;
    NameCounts user_events_by_name, queries_by_name;
    /// How far each accepted coordinate update moved our own coordinate (serf.coordinate.adjustment-ms).
    base::LatencyHistogram coordinate_adjustment;
};

/// Lamport clocks (serf info, tests).
struct NodeClocks {
    LamportTime member = 0;
    LamportTime event = 0;
    LamportTime query = 0;
    /// User events with a Lamport time below this are dropped (set by a snapshot restore and
    /// by joins that ignore old events, as Serf's eventMinTime).
    LamportTime event_min = 0;
};

/// Sizes of the node's queues and buffers (serf info; the simulation swarm checks they stay
/// bounded).
struct NodeGauges {
    std::size_t intent_queue = 0, event_queue = 0, query_queue = 0; ///< broadcast queues
    std::size_t num_failed = 0, num_left = 0;
    std::size_t intent_buffer = 0;      ///< recent intents about unknown members
    std::size_t event_buffer_slots = 0; ///< user-event dedup ring
    std::size_t pending_outputs = 0;    ///< events + query updates + log lines not yet polled
    std::size_t pending_queries = 0;    ///< queries this node started that are still open
    std::uint64_t coordinate_resets = 0;
};

namespace detail {
struct NodeImpl;
}

/// The facade the agent and the simulator drive. The logic lives in one class per Serf seam
/// (src/serf): Members (member states and join/leave intents), Lifecycle (join bookkeeping,
/// graceful leave, force-leave, reap, reconnect), UserEvents, Queries (user queries, internal
/// queries, key management), and GossipDelegate (the endpoint's swim::Delegate: message
/// dispatch, broadcasts, push-pull, tags, coordinates), over a shared Core (configuration,
/// outputs, the endpoint).
class Node final {
  public:
    /// `restored`: state replayed from a snapshot file (clocks restored so old user events and
    /// queries are not replayed; its alive nodes are re-joined by rejoin_previous()).
    Node(Config config, std::uint64_t seed, base::Instant now, const SnapshotState* restored = nullptr,
         std::size_t snapshot_file_size = 0);
    ~Node();
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    // ---- driver plumbing (forwarded to the endpoint, then Serf's own timers) --------------
    void handle_packet(const swim::Address& from, base::ByteView msg, base::Instant now);
    base::Result<base::Bytes> handle_stream_request(const swim::Address& from, base::ByteView msg,
                                                    base::Instant now);
    void handle_stream_reply(std::uint64_t stream_id, base::ByteView msg, base::Instant now);
    void stream_failed(std::uint64_t stream_id, base::Instant now, std::string_view why = {},
                       swim::StreamFailure kind = swim::StreamFailure::Other);
    void handle_timeout(base::Instant now);
    base::Instant next_deadline() const;
    std::optional<swim::Transmit> poll_transmit();

    // ---- outputs ---------------------------------------------------------------------------
    std::optional<Event> poll_event();
    std::optional<QueryUpdate> poll_query_update();
    std::optional<JoinResult> poll_join_result();
    std::optional<LogLine> poll_log();
    /// Snapshot lines produced since the last call (empty when snapshots are off).
    std::string drain_snapshot();
    SnapshotRecorder* snapshot_recorder();

    // ---- commands --------------------------------------------------------------------------
    /// Join through `seeds`; `ignore_old` drops user events learned from these push-pulls.
    /// Results come from poll_join_result() with the returned id.
    base::Result<std::uint64_t> join(const std::vector<swim::Address>& seeds, bool ignore_old,
                                     base::Instant now);
    /// Join the snapshot's previous alive nodes one at a time until one answers.
    void rejoin_previous(base::Instant now);
    /// Graceful leave: leave intent, then memberlist leave, then the propagate delay.
    base::Status leave(base::Instant now);
    /// Stops the node (no further processing).
    void shutdown();
    /// force-leave: failed -> left (and, with prune, erased) everywhere.
    base::Status force_leave(const std::string& node, bool prune, base::Instant now);
    /// New tags: a new alive with a bumped incarnation. Error when the encoding is > 512 bytes.
    base::Status set_tags(std::map<std::string, std::string> tags, base::Instant now);
    /// Fire a user event (size limits as Serf, errors "too_large").
    base::Status user_event(const std::string& name, base::ByteView payload, bool coalesce,
                            base::Instant now);
    /// Start a query; updates come from poll_query_update() with the returned handle.
    base::Result<std::uint64_t> query(const std::string& name, base::ByteView payload,
                                      const QueryParams& params, base::Instant now);
    /// Respond to a query event delivered by poll_event().
    base::Status respond(const QueryEvent& q, base::ByteView payload, base::Instant now);
    /// install/use/remove (base64 key) or list (key ignored): an internal query to every node;
    /// the result arrives as KeyOperationDone.
    base::Result<std::uint64_t> key_operation(KeyOp op, const std::string& key_base64,
                                              std::uint8_t relay_factor, base::Instant now);

    // ---- state -----------------------------------------------------------------------------
    NodeState state() const;
    bool leave_complete() const { return state() == NodeState::Left; }
    std::vector<Member> members() const;
    /// Moves whenever members() could return something else (see Members::generation).
    std::uint64_t members_generation() const;
    std::optional<Member> member(const std::string& name) const;
    /// Status of a member without copying it (None when unknown).
    MemberStatus member_status(const std::string& node) const;
    const std::string& name() const;
    const std::map<std::string, std::string>& tags() const;
    const Config& config() const;
    NodeClocks clocks() const;
    NodeGauges gauges() const;
    const NodeStats& stats() const;
    /// The local Vivaldi coordinate (nullopt when coordinates are disabled).
    std::optional<coord::Coordinate> local_coordinate() const;
    /// Last coordinate heard from a node.
    std::optional<coord::Coordinate> coordinate_of(const std::string& node) const;
    swim::Endpoint& endpoint();
    const swim::Endpoint& endpoint() const;
    /// The swim::Delegate the endpoint calls (tests feed it messages and push-pull state).
    swim::Delegate& delegate();

  private:
    std::unique_ptr<detail::NodeImpl> impl_;
};

} // namespace clusterd::serf
