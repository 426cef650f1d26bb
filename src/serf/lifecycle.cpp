// Join bookkeeping, the graceful leave sequence, force-leave, reap and reconnect (see
// lifecycle.hpp).
#include "lifecycle.hpp"

#include <algorithm>

namespace clusterd::serf::detail {

Lifecycle::Lifecycle(Core& core, Members& members, std::vector<PreviousNode> previous)
    : core_(core), members_(members), previous_(std::move(previous)) {
    core_.rng.shuffle(previous_);
    next_reap_ = core_.now + core_.config.reap_interval;
    next_reconnect_ = core_.now + core_.config.reconnect_interval;
}

// ---- joins -----------------------------------------------------------------------------------

base::Result<std::uint64_t> Lifecycle::join(const std::vector<swim::Address>& seeds, bool ignore_old) {
    if (core_.state != NodeState::Alive)
        return base::make_error("bad_state", "Serf can't Join after Leave or Shutdown");
    if (ignore_old)
        ++ignore_old_joins_;
    std::uint64_t id = core_.endpoint->join(seeds, core_.now);
    joins_[id] = JoinTracker{true, ignore_old, false, false};
    if (seeds.empty()) {
        if (ignore_old)
            --ignore_old_joins_;
        joins_.erase(id);
    }
    pump_join_results();
    return id;
}

void Lifecycle::rejoin_previous() {
    while (!previous_.empty()) {
        PreviousNode p = previous_.front();
        previous_.erase(previous_.begin());
        if (p.name == core_.name())
            continue;
        auto parsed = parse_host_port(p.addr);
        if (!parsed) {
            core_.log(Level::Warn, "serf: Failed to parse snapshot address: " + p.addr);
            continue;
        }
        swim::Address a{parsed->first, parsed->second};
        core_.log(Level::Info,
                  "serf: Attempting re-join to previously known node: " + p.name + ": " + p.addr);
        std::uint64_t id = core_.endpoint->join({a}, core_.now);
        joins_[id] = JoinTracker{false, false, true, false};
        return; // the next one is tried when this one fails
    }
}

void Lifecycle::pump_join_results() {
    while (auto r = core_.endpoint->poll_join_result()) {
        auto it = joins_.find(r->join_id);
        if (it == joins_.end())
            continue;
        JoinTracker& t = it->second;
        t.any_ok |= r->ok;
        if (t.rejoin) {
            if (r->ok) {
                core_.log(Level::Info, "serf: Re-joined to previously known node: " + r->seed.to_string());
                previous_.clear();
                members_.broadcast_join(members_.clock().time());
            } else if (r->remaining == 0) {
                rejoin_previous();
            }
        }
        if (t.user)
            core_.join_results.push_back(*r);
        if (r->remaining == 0) {
            if (t.user && t.any_ok)
                members_.broadcast_join(members_.clock().time());
            if (t.ignore_old && ignore_old_joins_ > 0)
                --ignore_old_joins_;
            joins_.erase(it);
        }
    }
}

// ---- leaving ---------------------------------------------------------------------------------

base::Status Lifecycle::leave(base::Instant t) {
    if (core_.state == NodeState::Left)
        return base::ok_status();
    if (core_.state == NodeState::Leaving)
        return base::make_error("bad_state", "Leave already in progress");
    if (core_.state == NodeState::Shutdown)
        return base::make_error("bad_state", "Leave called after Shutdown");
    core_.state = NodeState::Leaving;
    if (core_.snapshot)
        core_.snapshot->record_leave();
    wire::SerfLeave msg{members_.clock().time(), core_.name(), false};
    members_.clock().increment();
    members_.leave_intent(msg);
    if (members_.has_alive_peers()) {
        leave_intent_sent_ = false;
        const base::Bytes intent = wire::encode_serf(msg);
        core_.endpoint->announce_leave_intent(t, intent);
        members_.queue_intent(intent, [this] { leave_intent_sent_ = true; });
        core_.endpoint->expedite_gossip(t);
        leave_phase_ = LeavePhase::WaitIntent;
    } else {
        core_.endpoint->leave(t);
        leave_phase_ = LeavePhase::WaitSwim;
    }
    leave_deadline_ = t + core_.config.broadcast_timeout;
    return base::ok_status();
}

void Lifecycle::advance_leave(base::Instant t) {
    switch (leave_phase_) {
    case LeavePhase::None:
        return;
    case LeavePhase::WaitIntent:
        if (!leave_intent_sent_ && t < leave_deadline_)
            return;
        if (!leave_intent_sent_)
            core_.log(Level::Warn, "serf: timeout while waiting for graceful leave");
        core_.endpoint->leave(t);
        leave_phase_ = LeavePhase::WaitSwim;
        leave_deadline_ = t + core_.config.broadcast_timeout;
        [[fallthrough]];
    case LeavePhase::WaitSwim:
        if (!core_.endpoint->leave_done() && t < leave_deadline_)
            return;
        leave_phase_ = LeavePhase::Propagate;
        leave_deadline_ = t + core_.config.leave_propagate_delay;
        [[fallthrough]];
    case LeavePhase::Propagate:
        if (t < leave_deadline_)
            return;
        leave_phase_ = LeavePhase::None;
        if (core_.state != NodeState::Shutdown)
            core_.state = NodeState::Left;
        return;
    }
}

base::Status Lifecycle::force_leave(const std::string& node, bool prune) {
    wire::SerfLeave msg{members_.clock().time(), node, prune};
    members_.clock().increment();
    members_.leave_intent(msg);
    if (members_.has_alive_peers())
        members_.queue_intent(wire::encode_serf(msg));
    return base::ok_status();
}

// ---- timers ----------------------------------------------------------------------------------

void Lifecycle::run_timers(base::Instant t) {
    members_.run_prunes(t);
    if (t >= next_reap_) {
        next_reap_ = t + core_.config.reap_interval;
        members_.reap(t, core_.config.reconnect_timeout, core_.config.tombstone_timeout,
                      core_.config.recent_intent_timeout);
    }
    if (t >= next_reconnect_) {
        next_reconnect_ = t + core_.config.reconnect_interval;
        reconnect(t);
    }
}

base::Instant Lifecycle::next_deadline() const {
    base::Instant d = std::min({next_reap_, next_reconnect_, members_.next_prune()});
    if (leave_phase_ != LeavePhase::None)
        d = std::min(d, leave_deadline_);
    return d;
}

void Lifecycle::reconnect(base::Instant t) {
    const auto& failed = members_.failed();
    if (failed.empty() || core_.state != NodeState::Alive)
        return;
    double num_failed = static_cast<double>(failed.size());
    double num_alive = static_cast<double>(members_.table().size() - failed.size() - members_.num_left());
    if (num_alive <= 0)
        num_alive = 1;
    if (core_.rng.unit() > num_failed / num_alive) {
        core_.log(Level::Debug, "serf: forgoing reconnect for random throttling");
        return;
    }
    const std::string& n = failed[core_.rng.below(failed.size())];
    const std::optional<Member> m = members_.find(n);
    if (!m)
        return;
    swim::Address a{m->addr, m->port};
    core_.log(Level::Info, "serf: attempting reconnect to " + n + " " + a.to_string());
    ++core_.stats.reconnect_attempts;
    std::uint64_t id = core_.endpoint->join({a}, t);
    joins_[id] = JoinTracker{false, false, false, false};
}

} // namespace clusterd::serf::detail
