// serf::Node: the Serf layer on top of a swim::Endpoint it owns. It is the endpoint's Delegate:
// Serf messages ride memberlist user messages and gossip piggyback (three broadcast queues:
// intents, queries, events), push-pull carries Serf's clocks/status times/event ring, node
// meta carries tags, ping acks carry Vivaldi coordinates. Pure and sans-I/O like the endpoint:
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
#include "clusterd/swim/broadcast_queue.hpp"
#include "clusterd/swim/delegate.hpp"
#include "clusterd/swim/endpoint.hpp"

namespace clusterd::serf {

/// Serf instance state (go: SerfAlive, SerfLeaving, SerfLeft, SerfShutdown).
enum class NodeState : std::uint8_t { Alive, Leaving, Left, Shutdown };

struct QueryParams {
    std::vector<std::string> filter_nodes;
    std::map<std::string, std::string> filter_tags;  ///< tag -> regex (unanchored)
    bool request_ack = false;
    std::uint8_t relay_factor = 0;
    base::Duration timeout{0};  ///< 0 = default_query_timeout
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
    std::string error;  ///< "" on success, else Serf's "N/M nodes reported failure" text
};
using QueryUpdate = std::variant<QueryAck, QueryResponse, QueryDone, KeyOperationDone>;

struct LogLine {
    enum class Level : std::uint8_t { Debug, Info, Warn, Error };
    Level level;
    std::string text;  ///< Serf style, e.g. "serf: EventMemberJoin: a 10.0.0.1"
};

/// A join result as the driver sees it (seeds from join(), not internal reconnects).
using JoinResult = swim::JoinResult;

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
    std::uint64_t events_dropped = 0;  ///< event queue overflow
};

class Node final : public swim::Delegate {
public:
    /// `restored`: state replayed from a snapshot file (clocks restored so old user events and
    /// queries are not replayed; its alive nodes are re-joined by rejoin_previous()).
    Node(Config config, std::uint64_t seed, base::Instant now, const SnapshotState* restored = nullptr,
         std::size_t snapshot_file_size = 0);
    ~Node() override;
    Node(const Node&) = delete;
    Node& operator=(const Node&) = delete;

    // ---- driver plumbing (forwarded to the endpoint, then Serf's own timers) --------------
    void handle_packet(const swim::Address& from, base::ByteView msg, base::Instant now);
    base::Result<base::Bytes> handle_stream_request(const swim::Address& from, base::ByteView msg, base::Instant now);
    void handle_stream_reply(std::uint64_t stream_id, base::ByteView msg, base::Instant now);
    void stream_failed(std::uint64_t stream_id, base::Instant now, std::string_view why = {});
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
    SnapshotRecorder* snapshot_recorder() { return snapshot_ ? &*snapshot_ : nullptr; }

    // ---- commands --------------------------------------------------------------------------
    /// Join through `seeds`; `ignore_old` drops user events learned from these push-pulls.
    /// Results come from poll_join_result() with the returned id.
    base::Result<std::uint64_t> join(const std::vector<swim::Address>& seeds, bool ignore_old, base::Instant now);
    /// Join the snapshot's previous alive nodes one at a time until one answers.
    void rejoin_previous(base::Instant now);
    /// Graceful leave: leave intent, then memberlist leave, then the propagate delay.
    base::Status leave(base::Instant now);
    bool leave_complete() const { return state_ == NodeState::Left; }
    /// Stops the node (no further processing).
    void shutdown();
    /// force-leave: failed -> left (and, with prune, erased) everywhere.
    base::Status force_leave(const std::string& node, bool prune, base::Instant now);
    /// New tags: a new alive with a bumped incarnation. Error when the encoding is > 512 bytes.
    base::Status set_tags(std::map<std::string, std::string> tags, base::Instant now);
    /// Fire a user event (size limits as Serf, errors "too_large").
    base::Status user_event(const std::string& name, base::ByteView payload, bool coalesce, base::Instant now);
    /// Start a query; updates come from poll_query_update() with the returned handle.
    base::Result<std::uint64_t> query(const std::string& name, base::ByteView payload, const QueryParams& params,
                                      base::Instant now);
    /// Respond to a query event delivered by poll_event().
    base::Status respond(const QueryEvent& q, base::ByteView payload, base::Instant now);
    /// install/use/remove (base64 key) or list (key ignored): an internal query to every node;
    /// the result arrives as KeyOperationDone.
    base::Result<std::uint64_t> key_operation(KeyOp op, const std::string& key_base64, std::uint8_t relay_factor,
                                              base::Instant now);

    // ---- state -----------------------------------------------------------------------------
    NodeState state() const { return state_; }
    std::vector<Member> members() const;
    std::optional<Member> member(const std::string& name) const;
    Member local_member() const;
    const std::string& name() const { return config_.node_name(); }
    const std::map<std::string, std::string>& tags() const { return config_.tags; }
    LamportTime member_time() const { return clock_.time(); }
    LamportTime event_time() const { return event_clock_.time(); }
    LamportTime query_time() const { return query_clock_.time(); }
    std::size_t intent_queue() const { return intent_q_.size(); }
    std::size_t event_queue() const { return event_q_.size(); }
    std::size_t query_queue() const { return query_q_.size(); }
    std::size_t num_failed() const { return failed_.size(); }
    /// Status of a member without copying it (None when unknown).
    MemberStatus member_status(const std::string& node) const {
        auto it = members_.find(node);
        return it == members_.end() ? MemberStatus::None : it->second.member.status;
    }
    /// Read-only sizes of the internal buffers (the simulation swarm checks they stay bounded).
    std::size_t intent_buffer_size() const { return intents_.size(); }
    std::size_t event_buffer_slots() const { return event_buffer_.slot_count(); }
    std::size_t pending_outputs() const { return events_.size() + query_updates_.size() + logs_.size(); }
    std::size_t pending_queries() const { return pending_queries_.size(); }
    /// User events with a Lamport time below this are dropped (set by a snapshot restore and
    /// by joins that ignore old events, as Serf's eventMinTime).
    LamportTime event_min_time() const { return event_min_time_; }
    std::size_t num_left() const { return left_.size(); }
    base::Duration default_query_timeout() const;
    /// The local Vivaldi coordinate (nullopt when coordinates are disabled).
    std::optional<coord::Coordinate> local_coordinate() const;
    /// Last coordinate heard from a node.
    std::optional<coord::Coordinate> coordinate_of(const std::string& node) const;
    std::uint64_t coordinate_resets() const { return coord_.resets(); }
    const NodeStats& stats() const { return stats_; }
    swim::Endpoint& endpoint() { return *endpoint_; }
    const swim::Endpoint& endpoint() const { return *endpoint_; }
    const Config& config() const { return config_; }

    // ---- swim::Delegate --------------------------------------------------------------------
    base::Bytes node_meta(std::size_t limit) override;
    void notify_msg(base::ByteView msg) override;
    std::vector<base::Bytes> get_broadcasts(std::size_t overhead, std::size_t limit) override;
    base::Bytes local_state(bool join) override;
    void merge_remote_state(base::ByteView state, bool join) override;
    void notify_join(const swim::Node& node) override;
    void notify_leave(const swim::Node& node) override;
    void notify_update(const swim::Node& node) override;
    base::Bytes ack_payload() override;
    void notify_ping_complete(const swim::Node& node, base::Duration rtt, base::ByteView payload) override;
    void notify_conflict(const swim::Node& existing, const swim::Node& other) override;

private:
    struct MemberState {
        Member member;
        LamportTime status_ltime = 0;
        /// The Lamport time of the leave that made it leaving/left. A later join intent raises
        /// status_ltime past it; such a member is not sent as left in a push-pull.
        LamportTime leave_ltime = 0;
        base::Instant leave_time{};
    };
    enum class QueryKind : std::uint8_t { User, Conflict, Key };
    struct PendingQuery {
        std::uint64_t handle;
        QueryKind kind;
        QueryCollector collector;
        KeyOp key_op = KeyOp::List;
        std::optional<KeyResponseCollector> keys;
        std::size_t conflict_responses = 0;
        std::size_t conflict_matching = 0;
    };
    enum class LeavePhase : std::uint8_t { None, WaitIntent, WaitSwim, Propagate };

    // members (node.cpp)
    Member member_from(const swim::Node& n) const;
    void emit(Event e);
    void log(LogLine::Level level, std::string text);
    bool handle_join_intent(const wire::SerfJoin& msg);
    bool handle_leave_intent(const wire::SerfLeave& msg);
    void handle_prune(const std::string& name);
    void erase_member(const std::string& name);
    void broadcast_join(LamportTime ltime);
    bool has_alive_members() const;
    void run_timers(base::Instant now);
    void reap(base::Instant now);
    void reconnect(base::Instant now);
    void advance_leave(base::Instant now);
    void pump_join_results();
    // events and queries (node_messages.cpp)
    bool handle_user_event(const wire::SerfUserEvent& msg);
    bool handle_query(const wire::SerfQuery& msg);
    void handle_query_response(const wire::SerfQueryResponse& resp);
    void handle_internal_query(const QueryEvent& q);
    base::Status send_response(const QueryEvent& q, const wire::SerfQueryResponse& resp, std::size_t encoded_len,
                               const base::Bytes& raw);
    void relay_response(std::uint8_t relay_factor, const swim::Address& dest, const std::string& dest_name,
                        const base::Bytes& raw_response);
    base::Result<std::uint64_t> start_query(const std::string& name, base::ByteView payload, const QueryParams& params,
                                            QueryKind kind, KeyOp key_op, base::Instant now);
    void finish_queries(base::Instant now);
    void finish_query(PendingQuery& pq);

    Config config_;
    base::Rng rng_;
    base::Instant now_{};
    NodeState state_ = NodeState::Alive;

    LamportClock clock_, event_clock_, query_clock_;
    LamportTime event_min_time_ = 0, query_min_time_ = 0;
    std::size_t ignore_old_joins_ = 0;  ///< joins in flight that ignore old events

    std::map<std::string, MemberState> members_;
    std::vector<std::string> failed_, left_;
    IntentBuffer intents_;
    UserEventBuffer event_buffer_;
    QueryBuffer query_buffer_;
    swim::BroadcastQueue intent_q_, event_q_, query_q_;

    coord::Client coord_;
    std::map<std::string, coord::Coordinate> coord_cache_;

    std::map<LamportTime, PendingQuery> pending_queries_;
    std::uint64_t next_handle_ = 1;

    std::optional<MemberEventCoalescer> member_coalescer_;
    std::optional<UserEventCoalescer> user_coalescer_;
    std::optional<SnapshotRecorder> snapshot_;
    std::vector<PreviousNode> previous_;

    std::deque<Event> events_;
    std::deque<QueryUpdate> query_updates_;
    std::deque<LogLine> logs_;
    std::deque<JoinResult> join_results_;

    struct JoinTracker {
        bool user = true;       ///< false for reconnects/rejoins (results are swallowed)
        bool ignore_old = false;
        bool rejoin = false;
        bool any_ok = false;
    };
    std::map<std::uint64_t, JoinTracker> joins_;

    base::Instant next_reap_{}, next_reconnect_{}, next_queue_check_{};
    LeavePhase leave_phase_ = LeavePhase::None;
    base::Instant leave_deadline_{};
    bool leave_intent_sent_ = false;
    std::map<std::string, base::Instant> pending_prunes_;

    NodeStats stats_;
    std::unique_ptr<swim::Endpoint> endpoint_;
};

}  // namespace clusterd::serf
