// serf::detail::Lifecycle: joining, leaving and reaping (Go serf's Join, Leave, RemoveFailedNode,
// handleReap and handleReconnect): join bookkeeping (user joins, snapshot rejoins, reconnects to
// failed members), the graceful leave sequence (leave intent, memberlist leave, propagate
// delay), force-leave, and the reap and reconnect timers. Private to src/serf.
#pragma once

#include <cstdint>
#include <map>
#include <vector>

#include "members.hpp"
#include "node_core.hpp"

namespace clusterd::serf::detail {

class Lifecycle {
  public:
    Lifecycle(Core& core, Members& members, std::vector<PreviousNode> previous);

    base::Result<std::uint64_t> join(const std::vector<swim::Address>& seeds, bool ignore_old);
    void rejoin_previous();
    /// Turns the endpoint's join results into serf's (join intents, rejoin progress).
    void pump_join_results();
    /// True while a join that ignores old user events is in flight.
    bool ignoring_old_events() const { return ignore_old_joins_ > 0; }

    base::Status leave(base::Instant t);
    base::Status force_leave(const std::string& node, bool prune);

    /// Forced prunes, reap and reconnect, when due.
    void run_timers(base::Instant t);
    /// Moves the graceful leave on when its phase is done or timed out.
    void advance_leave(base::Instant t);
    base::Instant next_deadline() const;

  private:
    enum class LeavePhase : std::uint8_t { None, WaitIntent, WaitSwim, Propagate };
    struct JoinTracker {
        bool user = true; ///< false for reconnects/rejoins (results are swallowed)
        bool ignore_old = false;
        bool rejoin = false;
        bool any_ok = false;
    };
    void reconnect(base::Instant t);

    Core& core_;
    Members& members_;
    std::vector<PreviousNode> previous_;
    std::map<std::uint64_t, JoinTracker> joins_;
    std::size_t ignore_old_joins_ = 0; ///< joins in flight that ignore old events

    base::Instant next_reap_{}, next_reconnect_{};
    LeavePhase leave_phase_ = LeavePhase::None;
    base::Instant leave_deadline_{};
    bool leave_intent_sent_ = false;
};

} // namespace clusterd::serf::detail
