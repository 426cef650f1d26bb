// Endpoint node-state transitions: alive / suspect / dead / left with incarnation ordering,
// refutation, Lifeguard suspicion timers and push-pull state merging (memberlist state.go).
#include <algorithm>
#include <limits>

#include "clusterd/swim/timing.hpp"
#include "endpoint_impl.hpp"

namespace clusterd::swim {

namespace {
constexpr std::uint32_t kImplausibleIncarnation = std::numeric_limits<std::uint32_t>::max();

std::array<std::uint8_t, 6> vsn_of(const base::Bytes& v) {
    std::array<std::uint8_t, 6> out{};
    for (std::size_t i = 0; i < 6 && i < v.size(); ++i)
        out[i] = v[i];
    return out;
}
} // namespace

Endpoint::Impl::Impl(Config c, Delegate* d, std::uint64_t seed, base::Instant now)
    : cfg(std::move(c)), delegate(d), rng(seed), awareness(cfg.awareness_max_multiplier),
      queue(cfg.retransmit_mult, cfg.message_pool), created(now), last_now(now),
      nodes(cfg.intern_pools, now) {
    queue.on_queued([this] { wake_gossip(last_now); });
    // The local node exists from the start; the delegate is first consulted in ensure_started()
    // (so an owner that is also the delegate can construct us in its member initialisers). It
    // becomes alive (with a join event) there.
    const MemberTable::Vsn vsn{cfg.protocol_min,          cfg.protocol_max,
                               cfg.protocol_version,      cfg.delegate_protocol_min,
                               cfg.delegate_protocol_max, cfg.delegate_protocol_version};
    self_id = nodes.insert(cfg.name, Address{cfg.advertise_addr, cfg.advertise_port}, vsn, {}, 0, now).name;
    schedule(now, Timer{TimerKind::Start, 0, {}});
}

void Endpoint::Impl::ensure_started(base::Instant now) {
    if (started)
        return;
    started = true;
    base::Bytes meta;
    if (delegate) {
        meta = delegate->node_meta(cfg.meta_max_size);
        if (meta.size() > cfg.meta_max_size)
            meta.clear();
    }
    wire::Alive a;
    a.incarnation = ++incarnation;
    a.node = cfg.name;
    a.addr = cfg.advertise_addr;
    a.port = cfg.advertise_port;
    a.meta = std::move(meta);
    const MemberTable::Vsn vsn = nodes.vsn(self());
    a.vsn.assign(vsn.begin(), vsn.end());
    alive_node(a, now, true);

    // Staggered periodic work, as memberlist's triggerFunc/pushPullTrigger.
    auto stagger = [&](base::Duration d) {
        if (d.count() <= 0)
            return base::Duration{0};
        return base::Duration(static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(d.count()))));
    };
    if (cfg.probe_interval.count() > 0)
        schedule(now + stagger(cfg.probe_interval), Timer{TimerKind::ProbeTick, 0, {}});
    if (cfg.gossip_interval.count() > 0 && cfg.gossip_nodes > 0)
        schedule(now + stagger(cfg.gossip_interval), Timer{TimerKind::GossipTick, 0, {}});
    if (cfg.push_pull_interval.count() > 0)
        schedule(now + stagger(cfg.push_pull_interval), Timer{TimerKind::PushPullTick, 0, {}});
}

wire::Alive Endpoint::Impl::alive_msg_for(const MemberRec& n) const {
    wire::Alive a;
    a.incarnation = n.incarnation;
    a.node = std::string(nodes.name(n));
    const base::ByteView ip = nodes.ip(n), meta = nodes.meta(n);
    a.addr.assign(ip.begin(), ip.end());
    a.port = nodes.port(n);
    a.meta.assign(meta.begin(), meta.end());
    const MemberTable::Vsn vsn = nodes.vsn(n);
    a.vsn.assign(vsn.begin(), vsn.end());
    return a;
}

void Endpoint::Impl::broadcast(const std::string& node, const wire::Message& m, BroadcastQueue::Finished f) {
    queue.queue(node, wire::encode(m), std::move(f));
}

void Endpoint::Impl::refute(MemberRec& me, std::uint32_t accused) {
    std::uint64_t inc = static_cast<std::uint64_t>(incarnation) + 1;
    if (accused >= inc)
        inc = static_cast<std::uint64_t>(accused) + 1;
    inc = std::min<std::uint64_t>(inc, kImplausibleIncarnation - 1);
    incarnation = static_cast<std::uint32_t>(inc);
    me.incarnation = incarnation;
    stats.refutes++;
    awareness.apply_delta(1);
    const wire::Alive alive = alive_msg_for(me);
    broadcast(cfg.name, alive);
    expedite(last_now); // the sooner peers hear the refutation, the fewer declare us dead
    if (cfg.refute_announce_peers > 0 &&
        (!last_refute_announce || last_now - *last_refute_announce >= cfg.probe_timeout)) {
        last_refute_announce = last_now;
        announce(wire::encode(alive), cfg.refute_announce_peers);
    }
}

void Endpoint::Impl::alive_node(const wire::Alive& a, base::Instant now, bool bootstrap,
                                BroadcastQueue::Finished notify) {
    const bool is_local = a.node == cfg.name;
    if (left && is_local)
        return;
    if (a.incarnation == kImplausibleIncarnation) {
        stats.malformed++;
        return;
    }
    if (a.vsn.size() >= 3) {
        const auto pmin = a.vsn[0], pmax = a.vsn[1];
        if (pmin == 0 || pmax == 0 || pmin > pmax) {
            stats.unexpected++;
            return;
        }
    }
    if (a.addr.size() != 4 && a.addr.size() != 16) {
        stats.malformed++;
        return;
    }
    StringPool::Id name_id = StringPool::kNone;
    MemberRec* state = nodes.find(a.node, name_id);
    const bool inserted = state == nullptr;
    bool updates_node = false;
    const auto same_ip = [&](const MemberRec& r) {
        const base::ByteView ip = nodes.ip(r);
        return std::equal(ip.begin(), ip.end(), a.addr.begin(), a.addr.end());
    };
    if (!state) {
        // Insert at a random position so new nodes are not probed in join order.
        const std::size_t n = nodes.size();
        const std::size_t offset = n == 0 ? 0 : static_cast<std::size_t>(rng.below(n));
        state = &nodes.insert(a.node, name_id, Address{a.addr, a.port},
                              a.vsn.size() > 5 ? vsn_of(a.vsn) : MemberTable::Vsn{}, a.meta, offset, now);
    } else if (!same_ip(*state) || nodes.port(*state) != a.port) {
        const bool can_reclaim = cfg.dead_node_reclaim_time.count() > 0 &&
                                 (now - nodes.state_change(*state)) > cfg.dead_node_reclaim_time;
        if (state->state() == State::Left || (state->state() == State::Dead && can_reclaim)) {
            updates_node = true;
        } else {
            stats.conflicts++;
            if (delegate) {
                Node other;
                other.name = a.node;
                other.addr = Address{a.addr, a.port};
                other.meta = a.meta;
                delegate->notify_conflict(nodes.node(*state), other);
            }
            return;
        }
    }

    if (a.incarnation <= state->incarnation && !is_local && !updates_node)
        return;
    if (a.incarnation < state->incarnation && is_local)
        return;

    if (!suspicions.empty())
        suspicions.erase(a.node);
    const State old_state = state->state();
    const StringPool::Id old_where = state->where;
    const auto old_meta = nodes.meta(*state);
    const base::Bytes old_meta_bytes(old_meta.begin(), old_meta.end());

    if (!bootstrap && is_local) {
        const MemberTable::Vsn versions = nodes.vsn(*state);
        if (a.incarnation == state->incarnation && a.meta == old_meta_bytes &&
            a.vsn == base::Bytes(versions.begin(), versions.end()))
            return;
        refute(*state, a.incarnation);
    } else {
        // Encoded into a reused buffer; the queue's pool copies it only if no node holds it yet.
        wire::encode_alive_into(alive_scratch, a);
        queue.queue(a.node, base::ByteView(alive_scratch), std::move(notify));
        // A member inserted above already has this address, meta and versions (unless the
        // versions were too short to be taken at insert).
        if (!inserted || (!a.vsn.empty() && a.vsn.size() <= 5)) {
            const MemberTable::Vsn vsn = a.vsn.empty() ? nodes.vsn(*state) : vsn_of(a.vsn);
            nodes.set_where(*state, Address{a.addr, a.port}, vsn, a.meta);
        }
        state->incarnation = a.incarnation;
        if (state->state() != State::Alive)
            nodes.set_state(*state, State::Alive, now);
    }
    stats.msg_alive++;

    if (delegate) {
        if (old_state == State::Dead || old_state == State::Left) {
            delegate->notify_join(nodes.node(*state));
        } else if (state->where != old_where) {
            const base::ByteView meta = nodes.meta(*state);
            if (!std::equal(meta.begin(), meta.end(), old_meta_bytes.begin(), old_meta_bytes.end()))
                delegate->notify_update(nodes.node(*state));
        }
    }
}

void Endpoint::Impl::suspect_node(const wire::Suspect& s, base::Instant now) {
    MemberRec* state = lookup(s.node);
    if (!state)
        return;
    if (s.incarnation == kImplausibleIncarnation) {
        stats.malformed++;
        return;
    }
    if (s.incarnation < state->incarnation)
        return;

    if (auto it = suspicions.find(s.node); it != suspicions.end()) {
        if (it->second.confirm(s.from)) {
            broadcast(s.node, s);
            schedule_suspicion(s.node, it->second, now);
        }
        return;
    }
    if (state->state() != State::Alive)
        return;

    if (is_self(*state)) {
        refute(*state, s.incarnation);
        return;
    }
    broadcast(s.node, s);
    stats.suspects++;
    stats.msg_suspect++;
    state->incarnation = s.incarnation;
    nodes.set_state(*state, State::Suspect, now);

    int k = cfg.suspicion_mult - 2;
    const std::size_t n = nodes.size();
    if (static_cast<long>(n) - 2 < k)
        k = 0;
    if (!cfg.lifeguard)
        k = 0;
    const base::Duration min = suspicion_timeout(cfg.suspicion_mult, n, cfg.probe_interval);
    const base::Duration max = min * cfg.suspicion_max_timeout_mult;
    auto [it, inserted] = suspicions.try_emplace(s.node, s.from, k, min, max, now, s.incarnation);
    (void)inserted;
    schedule_suspicion(s.node, it->second, now);
}

void Endpoint::Impl::schedule_suspicion(const std::string& node, const Suspicion& s, base::Instant now) {
    if (cfg.recheck_suspects && s.rechecks() < cfg.recheck_attempts)
        schedule(std::max(now, s.deadline() - (cfg.recheck_attempts - s.rechecks()) * cfg.probe_timeout),
                 Timer{TimerKind::SuspicionRecheck, s.incarnation(), node});
    schedule(s.deadline(), Timer{TimerKind::SuspicionCheck, s.incarnation(), node});
}

void Endpoint::Impl::dead_node(const wire::Dead& d, base::Instant now) {
    MemberRec* state = lookup(d.node);
    if (!state)
        return;
    if (d.incarnation == kImplausibleIncarnation) {
        stats.malformed++;
        return;
    }
    if (d.incarnation < state->incarnation)
        return;
    suspicions.erase(d.node);
    if (state->dead_or_left())
        return;

    if (is_self(*state)) {
        if (!left) {
            refute(*state, d.incarnation);
            return;
        }
        broadcast(d.node, d, [this] { leave_finished = true; });
    } else {
        broadcast(d.node, d);
    }
    stats.msg_dead++;
    state->incarnation = d.incarnation;
    if (d.node == d.from) {
        nodes.set_state(*state, State::Left, now);
    } else {
        nodes.set_state(*state, State::Dead, now);
        stats.deaths++;
    }
    if (delegate)
        delegate->notify_leave(nodes.node(*state));
}

base::Status Endpoint::Impl::verify_protocol(const std::vector<wire::PushNodeStateView>& remote) const {
    std::uint8_t maxpmin = 0, minpmax = 255, maxdmin = 0, mindmax = 255;
    for (const auto& rn : remote) {
        if (rn.state != wire::NodeState::Alive || rn.vsn.size() < 6)
            continue;
        maxpmin = std::max(maxpmin, rn.vsn[0]);
        minpmax = std::min(minpmax, rn.vsn[1]);
        maxdmin = std::max(maxdmin, rn.vsn[3]);
        mindmax = std::min(mindmax, rn.vsn[4]);
    }
    for (const MemberRec& n : nodes) {
        if (n.state() != State::Alive)
            continue;
        const MemberTable::Vsn v = nodes.vsn(n);
        maxpmin = std::max(maxpmin, v[0]);
        minpmax = std::min(minpmax, v[1]);
        maxdmin = std::max(maxdmin, v[3]);
        mindmax = std::min(mindmax, v[4]);
    }
    auto check = [&](std::string_view name, std::uint8_t pcur, std::uint8_t dcur) -> base::Status {
        if (pcur < maxpmin || pcur > minpmax)
            return base::make_error("incompatible", "Node '" + std::string(name) + "' protocol version (" +
                                                        std::to_string(pcur) + ") is incompatible: [" +
                                                        std::to_string(maxpmin) + ", " +
                                                        std::to_string(minpmax) + "]");
        if (dcur < maxdmin || dcur > mindmax)
            return base::make_error("incompatible",
                                    "Node '" + std::string(name) + "' delegate protocol version (" +
                                        std::to_string(dcur) + ") is incompatible: [" +
                                        std::to_string(maxdmin) + ", " + std::to_string(mindmax) + "]");
        return base::ok_status();
    };
    for (const auto& rn : remote) {
        const std::uint8_t pcur = rn.vsn.size() >= 6 ? rn.vsn[2] : 0;
        const std::uint8_t dcur = rn.vsn.size() >= 6 ? rn.vsn[5] : 0;
        if (auto st = check(rn.name, pcur, dcur); !st)
            return st;
    }
    for (const MemberRec& n : nodes) {
        const MemberTable::Vsn v = nodes.vsn(n);
        if (auto st = check(nodes.name(n), v[2], v[5]); !st)
            return st;
    }
    return base::ok_status();
}

base::Status Endpoint::Impl::merge_remote(const wire::PushPullView& pp, base::Instant now) {
    if (auto st = verify_protocol(pp.nodes); !st) {
        stats.incompatible++;
        return st;
    }
    wire::Alive a; // reused: its buffers grow once, not per remote state
    for (const auto& r : pp.nodes) {
        switch (r.state) {
        case wire::NodeState::Alive: {
            a.incarnation = r.incarnation;
            a.node.assign(r.name);
            a.addr.assign(r.addr.begin(), r.addr.end());
            a.port = r.port;
            a.meta.assign(r.meta.begin(), r.meta.end());
            a.vsn.assign(r.vsn.begin(), r.vsn.end());
            alive_node(a, now, false);
            break;
        }
        case wire::NodeState::Left:
            dead_node(wire::Dead{r.incarnation, std::string(r.name), std::string(r.name)}, now);
            break;
        case wire::NodeState::Dead:
        case wire::NodeState::Suspect:
            suspect_node(wire::Suspect{r.incarnation, std::string(r.name), cfg.name}, now);
            break;
        }
    }
    if (!pp.user_state.empty() && delegate)
        delegate->merge_remote_state(pp.user_state, pp.join);
    stats.push_pulls++;
    return base::ok_status();
}

void Endpoint::Impl::reset_nodes(base::Instant now) {
    // Forget nodes dead for longer than GossipToTheDeadTime, then reshuffle the probe order.
    std::vector<std::string> forgotten;
    nodes.erase_if([&](const MemberRec& n) {
        if (n.state() == State::Dead && (now - nodes.state_change(n)) > cfg.gossip_to_the_dead_time) {
            forgotten.emplace_back(nodes.name(n));
            return true;
        }
        return false;
    });
    for (const std::string& name : forgotten) {
        stats.forgotten++;
        suspicions.erase(name);
    }
    if (!forgotten.empty())
        seen.assign(seen.size(), SeenSlot{}); // a forgotten node may come back with old messages
    nodes.shuffle(rng);
}

std::vector<std::uint32_t>
Endpoint::Impl::k_random_nodes(std::size_t k, const std::function<bool(const MemberRec&)>& exclude) {
    std::vector<std::uint32_t> picked;
    const std::size_t n = nodes.size();
    for (std::size_t i = 0; i < 3 * n && picked.size() < k; ++i) {
        const auto at = static_cast<std::uint32_t>(rng.below(n));
        if (exclude(nodes[at]))
            continue;
        if (std::find(picked.begin(), picked.end(), at) != picked.end())
            continue;
        picked.push_back(at);
    }
    return picked;
}

} // namespace clusterd::swim
