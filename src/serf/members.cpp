// Member states from memberlist events, join/leave intents, forced prunes, reaping and the
// members' part of push-pull (see members.hpp).
#include "members.hpp"

#include <algorithm>
#include <set>

namespace clusterd::serf::detail {

namespace {
void remove_name(std::vector<std::string>& v, const std::string& name) {
    v.erase(std::remove(v.begin(), v.end(), name), v.end());
}
} // namespace

Members::Members(Core& core)
    : core_(core), pools_(core.config.memberlist.intern_pools ? core.config.memberlist.intern_pools
                                                              : std::make_shared<swim::InternPools>()),
      members_(pools_), queue_(core.config.memberlist.retransmit_mult, core.config.memberlist.message_pool) {
    // Serf starts every clock at 1, so a first intent at time 0 is already "old".
    clock_.increment();
    core_.member_clock = &clock_;
}

Members::~Members() {
    members_.for_each([&](std::string_view, const State& ms) { blobs().release(ms.where); });
}

swim::StringPool::Id Members::acquire_where(const swim::Node& n) const {
    return blobs().acquire(swim::encode_where(n.addr.ip, n.addr.port, n.vsn, n.meta));
}

Member Members::member_of(std::string_view name, const State& s) const {
    const swim::WhereView w = swim::decode_where(blobs().view(s.where));
    Member m;
    m.name = name;
    m.addr.assign(w.ip.begin(), w.ip.end());
    m.port = w.port;
    auto tags = wire::decode_tags(w.meta);
    if (tags)
        m.tags = std::move(tags.value());
    m.status = s.status;
    m.protocol_min = w.vsn[0];
    m.protocol_max = w.vsn[1];
    m.protocol_cur = w.vsn[2];
    m.delegate_min = w.vsn[3];
    m.delegate_max = w.vsn[4];
    m.delegate_cur = w.vsn[5];
    return m;
}

std::optional<Member> Members::find(const std::string& n) const {
    const State* ms = members_.find(n);
    if (ms == nullptr)
        return std::nullopt;
    return member_of(n, *ms);
}

MemberStatus Members::status_of(const std::string& n) const {
    const State* ms = members_.find(n);
    return ms == nullptr ? MemberStatus::None : ms->status;
}

bool Members::has_alive_peers() const {
    bool any = false;
    members_.for_each([&](std::string_view n, const State& ms) {
        if (n != core_.name() && ms.status == MemberStatus::Alive)
            any = true;
    });
    return any;
}

void Members::set_local_meta(base::ByteView meta) {
    ++generation_;
    State* self = members_.find(core_.name());
    if (self == nullptr)
        return;
    const swim::WhereView w = swim::decode_where(blobs().view(self->where));
    const auto fresh = blobs().acquire(swim::encode_where(w.ip, w.port, w.vsn, meta));
    blobs().release(self->where);
    self->where = fresh;
}

// ---- memberlist events -------------------------------------------------------------------------

void Members::on_join(const swim::Node& n) {
    ++generation_;
    const swim::StringPool::Id fresh = acquire_where(n);
    MemberStatus old_status = MemberStatus::None;
    State* it = members_.find(n.name);
    if (it == nullptr) {
        State ms;
        ms.where = fresh;
        ms.status = MemberStatus::Alive;
        if (auto j = intents_.recent(n.name, IntentType::Join))
            ms.status_ltime = *j;
        if (auto l = intents_.recent(n.name, IntentType::Leave)) {
            ms.status = MemberStatus::Leaving;
            ms.status_ltime = *l;
            ms.leave_ltime = *l;
        }
        it = &members_.insert(n.name, ms);
    } else {
        old_status = it->status;
        it->status = MemberStatus::Alive;
        it->leave_time = base::Instant{};
        blobs().release(it->where);
        it->where = fresh;
    }
    if (old_status == MemberStatus::Failed || old_status == MemberStatus::Left) {
        remove_name(failed_, n.name);
        remove_name(left_, n.name);
    }
    core_.log(Level::Info, "serf: EventMemberJoin: " + n.name + " " + ip_string(n.addr.ip));
    core_.emit(MemberEvent{EventType::MemberJoin, {member_of(n.name, *it)}});
}

void Members::on_leave(const swim::Node& n) {
    ++generation_;
    State* found = members_.find(n.name);
    if (found == nullptr)
        return;
    auto& ms = *found;
    EventType type;
    switch (ms.status) {
    case MemberStatus::Leaving:
        ms.status = MemberStatus::Left;
        ms.leave_time = core_.now;
        left_.push_back(n.name);
        type = EventType::MemberLeave;
        break;
    case MemberStatus::Alive:
        if (n.state == swim::State::Left) {
            // The node announced its own departure (memberlist "dead" from itself) but its
            // Serf leave intent never reached us (lost, or gossiped only to peers that were
            // dead already): it left, it did not fail. Newer Serf decides the same way.
            ms.status = MemberStatus::Left;
            ms.leave_ltime = ms.status_ltime;
            ms.leave_time = core_.now;
            left_.push_back(n.name);
            type = EventType::MemberLeave;
            break;
        }
        ms.status = MemberStatus::Failed;
        ms.leave_time = core_.now;
        failed_.push_back(n.name);
        type = EventType::MemberFailed;
        break;
    default:
        core_.log(Level::Warn, "serf: Bad state when leave: " + std::to_string(static_cast<int>(ms.status)));
        return;
    }
    core_.log(Level::Info,
              std::string("serf: ") +
                  (type == EventType::MemberLeave ? "EventMemberLeave: " : "EventMemberFailed: ") + n.name);
    core_.emit(MemberEvent{type, {member_of(n.name, ms)}});
}

void Members::on_update(const swim::Node& n) {
    ++generation_;
    State* ms = members_.find(n.name);
    if (ms == nullptr)
        return;
    const swim::StringPool::Id fresh = acquire_where(n);
    blobs().release(ms->where);
    ms->where = fresh;
    core_.log(Level::Info, "serf: EventMemberUpdate: " + n.name);
    core_.emit(MemberEvent{EventType::MemberUpdate, {member_of(n.name, *ms)}});
}

// ---- intents -----------------------------------------------------------------------------------

bool Members::join_intent(const wire::SerfJoin& msg) {
    ++generation_; // (more often than needed: harmless)
    clock_.witness(msg.ltime);
    State* it = members_.find(msg.node);
    if (it == nullptr)
        return intents_.upsert(msg.node, IntentType::Join, msg.ltime, core_.now);
    // A join at the time of the leave that made the member leaving is from a later process of
    // that node and wins the tie (IntentBuffer::upsert); Serf keeps such a member leaving for
    // good (docs/reliability.md, swarm seeds 657 and 1723).
    const bool tie_with_leave =
        msg.ltime == it->status_ltime && it->status == MemberStatus::Leaving && it->leave_ltime == msg.ltime;
    if (msg.ltime <= it->status_ltime && !tie_with_leave)
        return false;
    it->status_ltime = msg.ltime;
    if (it->status == MemberStatus::Leaving)
        it->status = MemberStatus::Alive;
    return true;
}

bool Members::leave_intent(const wire::SerfLeave& msg) {
    ++generation_;
    clock_.witness(msg.ltime);
    State* found = members_.find(msg.node);
    if (found == nullptr)
        return intents_.upsert(msg.node, IntentType::Leave, msg.ltime, core_.now);
    auto& ms = *found;
    if (msg.node == core_.name() && core_.state == NodeState::Alive) {
        // A leave intent about us at our own status time is refuted too (Serf only refutes a
        // newer one): a node that heard that leave before our join, at the same Lamport time,
        // would otherwise keep us "leaving" for good.
        if (msg.ltime < ms.status_ltime)
            return false;
        core_.log(Level::Debug, "serf: Refuting an older leave intent");
        broadcast_join(clock_.time());
        return false;
    }
    if (msg.ltime <= ms.status_ltime)
        return false;
    ms.status_ltime = msg.ltime;
    ms.leave_ltime = msg.ltime;
    switch (ms.status) {
    case MemberStatus::Alive:
        ms.status = MemberStatus::Leaving;
        if (msg.prune)
            prune(msg.node);
        return true;
    case MemberStatus::Failed:
        ms.status = MemberStatus::Left;
        remove_name(failed_, msg.node);
        left_.push_back(msg.node);
        core_.log(Level::Info, "serf: EventMemberLeave (forced): " + msg.node);
        core_.emit(MemberEvent{EventType::MemberLeave, {member_of(msg.node, ms)}});
        if (msg.prune)
            prune(msg.node);
        return true;
    case MemberStatus::Leaving:
    case MemberStatus::Left:
        if (msg.prune)
            prune(msg.node);
        return true;
    default:
        return false;
    }
}

void Members::broadcast_join(LamportTime ltime) {
    wire::SerfJoin msg{ltime, core_.name()};
    clock_.witness(ltime);
    join_intent(msg);
    queue_.queue("", wire::encode_serf(msg));
}

void Members::queue_intent(base::Bytes raw, std::function<void()> sent) {
    if (sent)
        queue_.queue("", std::move(raw), std::move(sent));
    else
        queue_.queue("", std::move(raw));
}

// ---- prunes and reaping --------------------------------------------------------------------------

void Members::prune(const std::string& n) {
    const State* it = members_.find(n);
    if (it == nullptr)
        return;
    if (it->status == MemberStatus::Leaving) {
        // Serf sleeps broadcast_timeout + leave_propagate_delay first; we schedule it.
        pending_prunes_[n] = core_.now + core_.config.broadcast_timeout + core_.config.leave_propagate_delay;
        return;
    }
    core_.log(Level::Info, "serf: EventMemberReap (forced): " + n);
    remove_name(left_, n);
    remove_name(failed_, n);
    erase(n);
}

void Members::erase(const std::string& n) {
    ++generation_;
    const State* it = members_.find(n);
    if (it == nullptr)
        return;
    Member m = member_of(n, *it);
    blobs().release(it->where);
    members_.erase(n);
    core_.forget_coordinate(n);
    core_.emit(MemberEvent{EventType::MemberReap, {m}});
}

void Members::run_prunes(base::Instant t) {
    for (auto it = pending_prunes_.begin(); it != pending_prunes_.end();) {
        if (it->second > t) {
            ++it;
            continue;
        }
        std::string n = it->first;
        it = pending_prunes_.erase(it);
        if (members_.find(n) == nullptr)
            continue;
        core_.log(Level::Info, "serf: EventMemberReap (forced): " + n);
        remove_name(left_, n);
        remove_name(failed_, n);
        erase(n);
    }
}

base::Instant Members::next_prune() const {
    base::Instant d = base::Instant::max();
    for (const auto& [n, t] : pending_prunes_)
        d = std::min(d, t);
    return d;
}

void Members::reap(base::Instant t, base::Duration failed_timeout, base::Duration left_timeout,
                   base::Duration intent_timeout) {
    auto reap_list = [&](std::vector<std::string>& names, base::Duration timeout) {
        std::vector<std::string> keep;
        for (const auto& n : names) {
            const State* it = members_.find(n);
            if (it == nullptr)
                continue;
            if (t - it->leave_time <= timeout) {
                keep.push_back(n);
                continue;
            }
            core_.log(Level::Info, "serf: EventMemberReap: " + n);
            erase(n);
        }
        names = std::move(keep);
    };
    reap_list(failed_, failed_timeout);
    reap_list(left_, left_timeout);
    intents_.reap(t, intent_timeout);
}

// ---- push-pull -----------------------------------------------------------------------------------

void Members::fill_state(wire::SerfPushPull& pp) const {
    pp.ltime = clock_.time();
    members_.for_each(
        [&](std::string_view n, const State& ms) { pp.status_ltimes[std::string(n)] = ms.status_ltime; });
    // A left member whose latest intent is a join (it was started again and memberlist here has
    // not heard yet) goes out as a join at that time, not as a leave at its join's time.
    for (const auto& n : left_) {
        const State* it = members_.find(n);
        if (it != nullptr && it->status_ltime > it->leave_ltime)
            continue;
        pp.left_members.push_back(n);
    }
}

void Members::merge_state(const wire::SerfPushPull& pp) {
    if (pp.ltime > 0)
        clock_.witness(pp.ltime - 1);
    // A left member becomes a leave intent at exactly its status time, as Serf's
    // MergeRemoteState does. One past it would let two nodes that hold a member as left raise
    // its time at every push-pull, past the join of a process started again under that name,
    // which a node still listing it as left then turns back into "leaving" for good.
    std::set<std::string> left(pp.left_members.begin(), pp.left_members.end());
    for (const auto& n : pp.left_members) {
        auto st = pp.status_ltimes.find(n);
        leave_intent(wire::SerfLeave{st == pp.status_ltimes.end() ? 0 : st->second, n, false});
    }
    for (const auto& [n, lt] : pp.status_ltimes) {
        if (left.count(n))
            continue;
        if (n == core_.name() && core_.state == NodeState::Alive) {
            // A status time for us newer than ours: push-pull cannot say "leaving", so the
            // sender may hold us leaving at that time (a leave of an earlier process of ours).
            // Answer with a newer join, as for a leave intent, instead of taking it as ours.
            const State* self = members_.find(n);
            if (self != nullptr && lt > self->status_ltime) {
                core_.log(Level::Debug, "serf: Refuting a newer status time for us");
                clock_.witness(lt);
                broadcast_join(clock_.time());
            }
            continue;
        }
        join_intent(wire::SerfJoin{lt, n});
    }
}

} // namespace clusterd::serf::detail
