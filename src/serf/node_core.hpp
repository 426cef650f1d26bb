// serf::detail::Core: what every seam of serf::Node shares — the configuration, the seeded
// random source, the node's own state, the memberlist endpoint, the Vivaldi client and the
// output queues the driver drains (events, query updates, join results, log lines, snapshot
// records). The seams (members.hpp, lifecycle.hpp, user_events.hpp, queries.hpp) each own their
// own Lamport clock, buffers and broadcast queue and reach one another only through the
// narrow methods their headers list. Private to src/serf.
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "clusterd/serf/node.hpp"
#include "peer_coordinates.hpp"

namespace clusterd::serf::detail {

using Level = LogLine::Level;

/// Bound for each output queue the driver polls.
inline constexpr std::size_t kMaxQueued = 4096;

struct Core {
    Core(Config cfg, std::uint64_t seed, base::Instant start);

    Config config;
    base::Rng rng;
    base::Instant now{};
    NodeState state = NodeState::Alive;
    NodeStats stats;
    std::unique_ptr<swim::Endpoint> endpoint;

    coord::Client coord;
    /// Each peer's last coordinate and latency samples (Serf's coordinate cache), compact.
    PeerCoordinates peers;

    std::optional<MemberEventCoalescer> member_coalescer;
    std::optional<UserEventCoalescer> user_coalescer;
    std::optional<SnapshotRecorder> snapshot;
    /// The member clock (owned by Members): snapshot records carry it.
    const LamportClock* member_clock = nullptr;

    std::deque<Event> events;
    std::deque<QueryUpdate> query_updates;
    std::deque<LogLine> logs;
    std::deque<JoinResult> join_results;

    const std::string& name() const { return config.node_name(); }
    bool shut_down() const { return state == NodeState::Shutdown; }
    void log(Level level, std::string text);
    /// Records the event in the snapshot, offers it to the coalescers, else queues it.
    void emit(Event e);
    /// Coalesced events that are due (or all of them with `flush`).
    void drain_coalescers(base::Instant t, bool flush);
    base::Instant coalescer_deadline() const;
    void forget_coordinate(const std::string& node);
    /// Stops the node (after a lost name-conflict vote, or on request); flushes coalescers.
    void shutdown();
};

} // namespace clusterd::serf::detail
