// serf::Node core: construction, driver plumbing, member states from memberlist events,
// join/leave intents, push-pull state, reap/reconnect timers and the graceful leave sequence.
#include "clusterd/serf/node.hpp"

#include <algorithm>

#include "clusterd/coord/codec.hpp"
#include "clusterd/wire/serf_messages.hpp"

namespace clusterd::serf {

using Level = LogLine::Level;
namespace {
constexpr std::size_t kMaxQueued = 4096;  // bound for each output queue the driver polls

swim::Address address_of(const Member& m) { return swim::Address{m.addr, m.port}; }

void remove_name(std::vector<std::string>& v, const std::string& name) {
    v.erase(std::remove(v.begin(), v.end(), name), v.end());
}
}  // namespace

Node::Node(Config config, std::uint64_t seed, base::Instant now, const SnapshotState* restored,
           std::size_t snapshot_file_size)
    : config_(std::move(config)),
      rng_(seed),
      now_(now),
      event_buffer_(config_.event_buffer),
      query_buffer_(config_.query_buffer),
      intent_q_(config_.memberlist.retransmit_mult),
      event_q_(config_.memberlist.retransmit_mult),
      query_q_(config_.memberlist.retransmit_mult),
      coord_(config_.coordinates, base::Rng::mix(seed, 0xC00D)) {
    // Serf speaks delegate protocol `protocol_version` over memberlist protocol 2.
    config_.memberlist.delegate_protocol_version = config_.protocol_version;
    config_.memberlist.delegate_protocol_min = kProtocolVersionMin;
    config_.memberlist.delegate_protocol_max = kProtocolVersionMax;

    if (config_.coalesce_period > base::Duration::zero() && config_.quiescent_period > base::Duration::zero())
        member_coalescer_.emplace(config_.coalesce_period, config_.quiescent_period);
    if (config_.user_coalesce_period > base::Duration::zero() &&
        config_.user_quiescent_period > base::Duration::zero())
        user_coalescer_.emplace(config_.user_coalesce_period, config_.user_quiescent_period);

    // Serf starts every clock at 1, so a first intent at time 0 is already "old".
    clock_.increment();
    event_clock_.increment();
    query_clock_.increment();
    if (restored) {
        clock_.witness(restored->last_clock);
        event_clock_.witness(restored->last_event_clock);
        query_clock_.witness(restored->last_query_clock);
        event_min_time_ = restored->last_event_clock + 1;
        query_min_time_ = restored->last_query_clock + 1;
        previous_ = restored->previous_nodes();
        rng_.shuffle(previous_);
    }
    if (config_.snapshot)
        snapshot_.emplace(restored ? *restored : SnapshotState{}, snapshot_file_size, config_.rejoin_after_leave);

    next_reap_ = now + config_.reap_interval;
    next_reconnect_ = now + config_.reconnect_interval;
    next_queue_check_ = now + config_.queue_check_interval;

    endpoint_ = std::make_unique<swim::Endpoint>(config_.memberlist, this, base::Rng::mix(seed, 0x5111), now);
    // Start the endpoint now: it announces us alive and reports our own join (member + event).
    endpoint_->handle_timeout(now);
    if (members_.find(name()) == members_.end()) {
        swim::Node self = endpoint_->local_node();
        self.meta = node_meta(config_.memberlist.meta_max_size);
        notify_join(self);
    }
}

Node::~Node() = default;

// ---- plumbing -------------------------------------------------------------------------------

void Node::handle_packet(const swim::Address& from, base::ByteView msg, base::Instant now) {
    if (state_ == NodeState::Shutdown) return;
    now_ = now;
    endpoint_->handle_packet(from, msg, now);
    pump_join_results();
}

base::Result<base::Bytes> Node::handle_stream_request(const swim::Address& from, base::ByteView msg,
                                                      base::Instant now) {
    if (state_ == NodeState::Shutdown) return base::make_error("shutdown", "node is shut down");
    now_ = now;
    auto r = endpoint_->handle_stream_request(from, msg, now);
    pump_join_results();
    return r;
}

void Node::handle_stream_reply(std::uint64_t stream_id, base::ByteView msg, base::Instant now) {
    if (state_ == NodeState::Shutdown) return;
    now_ = now;
    endpoint_->handle_stream_reply(stream_id, msg, now);
    pump_join_results();
}

void Node::stream_failed(std::uint64_t stream_id, base::Instant now, std::string_view why) {
    if (state_ == NodeState::Shutdown) return;
    now_ = now;
    endpoint_->stream_failed(stream_id, now, why);
    pump_join_results();
}

void Node::handle_timeout(base::Instant now) {
    if (state_ == NodeState::Shutdown) return;
    now_ = now;
    endpoint_->handle_timeout(now);
    pump_join_results();
    run_timers(now);
}

base::Instant Node::next_deadline() const {
    if (state_ == NodeState::Shutdown) return base::Instant::max();
    base::Instant d = std::min({endpoint_->next_deadline(), next_reap_, next_reconnect_, next_queue_check_});
    if (member_coalescer_) d = std::min(d, member_coalescer_->next_deadline());
    if (user_coalescer_) d = std::min(d, user_coalescer_->next_deadline());
    for (const auto& [lt, pq] : pending_queries_) d = std::min(d, pq.collector.deadline());
    for (const auto& [n, t] : pending_prunes_) d = std::min(d, t);
    if (leave_phase_ != LeavePhase::None) d = std::min(d, leave_deadline_);
    return d;
}

std::optional<swim::Transmit> Node::poll_transmit() {
    if (state_ == NodeState::Shutdown) return std::nullopt;
    return endpoint_->poll_transmit();
}

std::optional<Event> Node::poll_event() {
    if (events_.empty()) return std::nullopt;
    Event e = std::move(events_.front());
    events_.pop_front();
    return e;
}

std::optional<QueryUpdate> Node::poll_query_update() {
    if (query_updates_.empty()) return std::nullopt;
    QueryUpdate u = std::move(query_updates_.front());
    query_updates_.pop_front();
    return u;
}

std::optional<JoinResult> Node::poll_join_result() {
    if (join_results_.empty()) return std::nullopt;
    JoinResult r = std::move(join_results_.front());
    join_results_.pop_front();
    return r;
}

std::optional<LogLine> Node::poll_log() {
    if (logs_.empty()) return std::nullopt;
    LogLine l = std::move(logs_.front());
    logs_.pop_front();
    return l;
}

std::string Node::drain_snapshot() {
    if (!snapshot_) return {};
    snapshot_->update_clock(clock_.time());
    return snapshot_->drain();
}

void Node::log(Level level, std::string text) {
    if (logs_.size() >= kMaxQueued) logs_.pop_front();
    logs_.push_back(LogLine{level, std::move(text)});
}

void Node::emit(Event e) {
    if (snapshot_) {
        if (const auto* m = std::get_if<MemberEvent>(&e)) snapshot_->record_member_event(*m, clock_.time());
        else if (const auto* u = std::get_if<UserEvent>(&e)) snapshot_->record_user_event(u->ltime);
        else snapshot_->record_query(std::get<QueryEvent>(e).ltime);
    }
    if (user_coalescer_ && user_coalescer_->offer(e, now_)) return;
    if (member_coalescer_ && member_coalescer_->offer(e, now_)) return;
    if (events_.size() >= kMaxQueued) {
        ++stats_.events_dropped;
        events_.pop_front();
    }
    events_.push_back(std::move(e));
}

// ---- members ---------------------------------------------------------------------------------

Member Node::member_from(const swim::Node& n) const {
    Member m;
    m.name = n.name;
    m.addr = n.addr.ip;
    m.port = n.addr.port;
    auto tags = wire::decode_tags(n.meta);
    if (tags) m.tags = std::move(tags.value());
    m.status = MemberStatus::Alive;
    m.protocol_min = n.pmin();
    m.protocol_max = n.pmax();
    m.protocol_cur = n.pcur();
    m.delegate_min = n.dmin();
    m.delegate_max = n.dmax();
    m.delegate_cur = n.dcur();
    return m;
}

std::vector<Member> Node::members() const {
    std::vector<Member> out;
    out.reserve(members_.size());
    for (const auto& [n, ms] : members_) out.push_back(ms.member);
    return out;
}

std::optional<Member> Node::member(const std::string& n) const {
    auto it = members_.find(n);
    if (it == members_.end()) return std::nullopt;
    return it->second.member;
}

Member Node::local_member() const {
    auto it = members_.find(name());
    return it == members_.end() ? Member{} : it->second.member;
}

bool Node::has_alive_members() const {
    for (const auto& [n, ms] : members_)
        if (n != name() && ms.member.status == MemberStatus::Alive) return true;
    return false;
}

void Node::notify_join(const swim::Node& n) {
    Member fresh = member_from(n);
    MemberStatus old_status = MemberStatus::None;
    auto it = members_.find(n.name);
    if (it == members_.end()) {
        MemberState ms;
        ms.member = fresh;
        if (auto j = intents_.recent(n.name, IntentType::Join)) ms.status_ltime = *j;
        if (auto l = intents_.recent(n.name, IntentType::Leave)) {
            ms.member.status = MemberStatus::Leaving;
            ms.status_ltime = *l;
            ms.leave_ltime = *l;
        }
        it = members_.emplace(n.name, std::move(ms)).first;
    } else {
        old_status = it->second.member.status;
        auto& m = it->second.member;
        m.status = MemberStatus::Alive;
        it->second.leave_time = base::Instant{};
        m.addr = fresh.addr;
        m.port = fresh.port;
        m.tags = fresh.tags;
        m.protocol_min = fresh.protocol_min;
        m.protocol_max = fresh.protocol_max;
        m.protocol_cur = fresh.protocol_cur;
        m.delegate_min = fresh.delegate_min;
        m.delegate_max = fresh.delegate_max;
        m.delegate_cur = fresh.delegate_cur;
    }
    if (old_status == MemberStatus::Failed || old_status == MemberStatus::Left) {
        remove_name(failed_, n.name);
        remove_name(left_, n.name);
    }
    log(Level::Info, "serf: EventMemberJoin: " + n.name + " " + ip_string(n.addr.ip));
    emit(MemberEvent{EventType::MemberJoin, {it->second.member}});
}

void Node::notify_leave(const swim::Node& n) {
    auto it = members_.find(n.name);
    if (it == members_.end()) return;
    auto& ms = it->second;
    EventType type;
    switch (ms.member.status) {
        case MemberStatus::Leaving:
            ms.member.status = MemberStatus::Left;
            ms.leave_time = now_;
            left_.push_back(n.name);
            type = EventType::MemberLeave;
            break;
        case MemberStatus::Alive:
            if (n.state == swim::State::Left) {
                // The node announced its own departure (memberlist "dead" from itself) but its
                // Serf leave intent never reached us (lost, or gossiped only to peers that were
                // dead already): it left, it did not fail. Newer Serf decides the same way.
                ms.member.status = MemberStatus::Left;
                ms.leave_ltime = ms.status_ltime;
                ms.leave_time = now_;
                left_.push_back(n.name);
                type = EventType::MemberLeave;
                break;
            }
            ms.member.status = MemberStatus::Failed;
            ms.leave_time = now_;
            failed_.push_back(n.name);
            type = EventType::MemberFailed;
            break;
        default:
            log(Level::Warn, "serf: Bad state when leave: " + std::to_string(static_cast<int>(ms.member.status)));
            return;
    }
    log(Level::Info, std::string("serf: ") + (type == EventType::MemberLeave ? "EventMemberLeave: " : "EventMemberFailed: ") +
                         n.name);
    emit(MemberEvent{type, {ms.member}});
}

void Node::notify_update(const swim::Node& n) {
    auto it = members_.find(n.name);
    if (it == members_.end()) return;
    Member fresh = member_from(n);
    fresh.status = it->second.member.status;
    it->second.member = fresh;
    log(Level::Info, "serf: EventMemberUpdate: " + n.name);
    emit(MemberEvent{EventType::MemberUpdate, {fresh}});
}

void Node::notify_conflict(const swim::Node& existing, const swim::Node& other) {
    if (existing.name != name()) {
        log(Level::Warn, "serf: Name conflict for '" + existing.name + "' both " + existing.addr.to_string() +
                             " and " + other.addr.to_string() + " are claiming");
        return;
    }
    log(Level::Error, "serf: Node name conflicts with another node at " + other.addr.to_string() +
                          ". Names must be unique! (Resolution enabled: " +
                          (config_.enable_name_conflict_resolution ? "true" : "false") + ")");
    if (!config_.enable_name_conflict_resolution) return;
    auto payload = base::to_bytes(name());
    auto r = start_query(std::string(kInternalQueryPrefix) + "conflict", payload, QueryParams{}, QueryKind::Conflict,
                         KeyOp::List, now_);
    if (!r) log(Level::Error, "serf: Failed to start name resolution query: " + r.error().message);
}

// ---- intents -------------------------------------------------------------------------------

bool Node::handle_join_intent(const wire::SerfJoin& msg) {
    clock_.witness(msg.ltime);
    auto it = members_.find(msg.node);
    if (it == members_.end()) return intents_.upsert(msg.node, IntentType::Join, msg.ltime, now_);
    if (msg.ltime <= it->second.status_ltime) return false;
    it->second.status_ltime = msg.ltime;
    if (it->second.member.status == MemberStatus::Leaving) it->second.member.status = MemberStatus::Alive;
    return true;
}

bool Node::handle_leave_intent(const wire::SerfLeave& msg) {
    clock_.witness(msg.ltime);
    auto it = members_.find(msg.node);
    if (it == members_.end()) return intents_.upsert(msg.node, IntentType::Leave, msg.ltime, now_);
    auto& ms = it->second;
    if (msg.node == name() && state_ == NodeState::Alive) {
        // A leave intent about us at our own status time is refuted too (Serf only refutes a
        // newer one): a node that heard that leave before our join, at the same Lamport time,
        // would otherwise keep us "leaving" for good.
        if (msg.ltime < ms.status_ltime) return false;
        log(Level::Debug, "serf: Refuting an older leave intent");
        broadcast_join(clock_.time());
        return false;
    }
    if (msg.ltime <= ms.status_ltime) return false;
    ms.status_ltime = msg.ltime;
    ms.leave_ltime = msg.ltime;
    switch (ms.member.status) {
        case MemberStatus::Alive:
            ms.member.status = MemberStatus::Leaving;
            if (msg.prune) handle_prune(msg.node);
            return true;
        case MemberStatus::Failed:
            ms.member.status = MemberStatus::Left;
            remove_name(failed_, msg.node);
            left_.push_back(msg.node);
            log(Level::Info, "serf: EventMemberLeave (forced): " + msg.node);
            emit(MemberEvent{EventType::MemberLeave, {ms.member}});
            if (msg.prune) handle_prune(msg.node);
            return true;
        case MemberStatus::Leaving:
        case MemberStatus::Left:
            if (msg.prune) handle_prune(msg.node);
            return true;
        default: return false;
    }
}

void Node::handle_prune(const std::string& n) {
    auto it = members_.find(n);
    if (it == members_.end()) return;
    if (it->second.member.status == MemberStatus::Leaving) {
        // Serf sleeps broadcast_timeout + leave_propagate_delay first; we schedule it.
        pending_prunes_[n] = now_ + config_.broadcast_timeout + config_.leave_propagate_delay;
        return;
    }
    log(Level::Info, "serf: EventMemberReap (forced): " + n);
    remove_name(left_, n);
    remove_name(failed_, n);
    erase_member(n);
}

void Node::erase_member(const std::string& n) {
    auto it = members_.find(n);
    if (it == members_.end()) return;
    Member m = it->second.member;
    members_.erase(it);
    coord_.forget_node(n);
    coord_cache_.erase(n);
    emit(MemberEvent{EventType::MemberReap, {m}});
}

void Node::broadcast_join(LamportTime ltime) {
    wire::SerfJoin msg{ltime, name()};
    clock_.witness(ltime);
    handle_join_intent(msg);
    intent_q_.queue("", wire::encode_serf(msg));
}

// ---- commands ------------------------------------------------------------------------------

base::Result<std::uint64_t> Node::join(const std::vector<swim::Address>& seeds, bool ignore_old, base::Instant now) {
    if (state_ != NodeState::Alive)
        return base::make_error("bad_state", "Serf can't Join after Leave or Shutdown");
    now_ = now;
    if (ignore_old) ++ignore_old_joins_;
    std::uint64_t id = endpoint_->join(seeds, now);
    joins_[id] = JoinTracker{true, ignore_old, false, false};
    if (seeds.empty()) {
        if (ignore_old) --ignore_old_joins_;
        joins_.erase(id);
    }
    pump_join_results();
    return id;
}

void Node::rejoin_previous(base::Instant now) {
    now_ = now;
    while (!previous_.empty()) {
        PreviousNode p = previous_.front();
        previous_.erase(previous_.begin());
        if (p.name == name()) continue;
        auto parsed = parse_host_port(p.addr);
        if (!parsed) {
            log(Level::Warn, "serf: Failed to parse snapshot address: " + p.addr);
            continue;
        }
        swim::Address a{parsed->first, parsed->second};
        log(Level::Info, "serf: Attempting re-join to previously known node: " + p.name + ": " + p.addr);
        std::uint64_t id = endpoint_->join({a}, now);
        joins_[id] = JoinTracker{false, false, true, false};
        return;  // the next one is tried when this one fails
    }
}

void Node::pump_join_results() {
    while (auto r = endpoint_->poll_join_result()) {
        auto it = joins_.find(r->join_id);
        if (it == joins_.end()) continue;
        JoinTracker& t = it->second;
        t.any_ok |= r->ok;
        if (t.rejoin) {
            if (r->ok) {
                log(Level::Info, "serf: Re-joined to previously known node: " + r->seed.to_string());
                previous_.clear();
                broadcast_join(clock_.time());
            } else if (r->remaining == 0) {
                rejoin_previous(now_);
            }
        }
        if (t.user) join_results_.push_back(*r);
        if (r->remaining == 0) {
            if (t.user && t.any_ok) broadcast_join(clock_.time());
            if (t.ignore_old && ignore_old_joins_ > 0) --ignore_old_joins_;
            joins_.erase(it);
        }
    }
}

base::Status Node::leave(base::Instant now) {
    now_ = now;
    if (state_ == NodeState::Left) return base::ok_status();
    if (state_ == NodeState::Leaving) return base::make_error("bad_state", "Leave already in progress");
    if (state_ == NodeState::Shutdown) return base::make_error("bad_state", "Leave called after Shutdown");
    state_ = NodeState::Leaving;
    if (snapshot_) snapshot_->record_leave();
    wire::SerfLeave msg{clock_.time(), name(), false};
    clock_.increment();
    handle_leave_intent(msg);
    if (has_alive_members()) {
        leave_intent_sent_ = false;
        intent_q_.queue("", wire::encode_serf(msg), [this] { leave_intent_sent_ = true; });
        endpoint_->expedite_gossip(now);
        leave_phase_ = LeavePhase::WaitIntent;
        leave_deadline_ = now + config_.broadcast_timeout;
    } else {
        endpoint_->leave(now);
        leave_phase_ = LeavePhase::WaitSwim;
        leave_deadline_ = now + config_.broadcast_timeout;
    }
    return base::ok_status();
}

void Node::advance_leave(base::Instant now) {
    switch (leave_phase_) {
        case LeavePhase::None: return;
        case LeavePhase::WaitIntent:
            if (!leave_intent_sent_ && now < leave_deadline_) return;
            if (!leave_intent_sent_) log(Level::Warn, "serf: timeout while waiting for graceful leave");
            endpoint_->leave(now);
            leave_phase_ = LeavePhase::WaitSwim;
            leave_deadline_ = now + config_.broadcast_timeout;
            [[fallthrough]];
        case LeavePhase::WaitSwim:
            if (!endpoint_->leave_done() && now < leave_deadline_) return;
            leave_phase_ = LeavePhase::Propagate;
            leave_deadline_ = now + config_.leave_propagate_delay;
            [[fallthrough]];
        case LeavePhase::Propagate:
            if (now < leave_deadline_) return;
            leave_phase_ = LeavePhase::None;
            if (state_ != NodeState::Shutdown) state_ = NodeState::Left;
            return;
    }
}

void Node::shutdown() {
    if (state_ == NodeState::Shutdown) return;
    if (state_ != NodeState::Left) log(Level::Warn, "serf: Shutdown without a Leave");
    state_ = NodeState::Shutdown;
    if (member_coalescer_)
        for (auto& e : member_coalescer_->flush()) events_.push_back(std::move(e));
    if (user_coalescer_)
        for (auto& e : user_coalescer_->flush()) events_.push_back(std::move(e));
}

base::Status Node::force_leave(const std::string& node, bool prune, base::Instant now) {
    now_ = now;
    wire::SerfLeave msg{clock_.time(), node, prune};
    clock_.increment();
    handle_leave_intent(msg);
    if (has_alive_members()) intent_q_.queue("", wire::encode_serf(msg));
    return base::ok_status();
}

base::Status Node::set_tags(std::map<std::string, std::string> tags, base::Instant now) {
    now_ = now;
    auto encoded = config_.protocol_version >= 3 ? wire::encode_tags(tags) : wire::encode_tags_legacy(tags);
    auto st = wire::check_tags_size(encoded.size());
    if (!st) return st;
    config_.tags = std::move(tags);
    auto it = members_.find(name());
    if (it != members_.end()) it->second.member.tags = config_.tags;
    endpoint_->update_meta(now);
    return base::ok_status();
}

// ---- delegate: meta, broadcasts, push-pull ---------------------------------------------------

base::Bytes Node::node_meta(std::size_t limit) {
    auto b = config_.protocol_version >= 3 ? wire::encode_tags(config_.tags) : wire::encode_tags_legacy(config_.tags);
    if (b.size() > limit) {
        log(Level::Error, "serf: Node tags exceed length limit of " + std::to_string(limit) + " bytes");
        return {};
    }
    return b;
}

std::vector<base::Bytes> Node::get_broadcasts(std::size_t overhead, std::size_t limit) {
    std::size_t n = members_.size();
    auto msgs = intent_q_.get(overhead, limit, n);
    std::size_t used = 0;
    for (const auto& m : msgs) used += m.size() + overhead;
    if (used < limit) {
        for (auto& m : query_q_.get(overhead, limit - used, n)) {
            used += m.size() + overhead;
            msgs.push_back(std::move(m));
        }
    }
    if (used < limit) {
        for (auto& m : event_q_.get(overhead, limit - used, n)) {
            used += m.size() + overhead;
            msgs.push_back(std::move(m));
        }
    }
    return msgs;
}

base::Bytes Node::local_state(bool /*join*/) {
    wire::SerfPushPull pp;
    pp.ltime = clock_.time();
    for (const auto& [n, ms] : members_) pp.status_ltimes[n] = ms.status_ltime;
    // A left member whose latest intent is a join (it was started again and memberlist here has
    // not heard yet) goes out as a join at that time, not as a leave at its join's time.
    for (const auto& n : left_) {
        auto it = members_.find(n);
        if (it != members_.end() && it->second.status_ltime > it->second.leave_ltime) continue;
        pp.left_members.push_back(n);
    }
    pp.event_ltime = event_clock_.time();
    pp.events = event_buffer_.export_slots();
    pp.query_ltime = query_clock_.time();
    return wire::encode_serf(pp);
}

void Node::merge_remote_state(base::ByteView buf, bool join) {
    if (buf.empty()) {
        log(Level::Error, "serf: Remote state is zero bytes");
        return;
    }
    if (buf[0] != static_cast<std::uint8_t>(wire::SerfMsgType::PushPull)) {
        log(Level::Error, "serf: Remote state has bad type prefix: " + std::to_string(buf[0]));
        ++stats_.malformed_messages;
        return;
    }
    auto decoded = wire::decode_serf(buf);
    if (!decoded || !std::holds_alternative<wire::SerfPushPull>(*decoded)) {
        log(Level::Error, "serf: Failed to decode remote state");
        ++stats_.malformed_messages;
        return;
    }
    const auto& pp = std::get<wire::SerfPushPull>(*decoded);
    if (pp.ltime > 0) clock_.witness(pp.ltime - 1);
    if (pp.event_ltime > 0) event_clock_.witness(pp.event_ltime - 1);
    if (pp.query_ltime > 0) query_clock_.witness(pp.query_ltime - 1);

    // A left member becomes a leave intent at exactly its status time, as Serf's
    // MergeRemoteState does. One past it would let two nodes that hold a member as left raise
    // its time at every push-pull, past the join of a process started again under that name,
    // which a node still listing it as left then turns back into "leaving" for good.
    std::set<std::string> left(pp.left_members.begin(), pp.left_members.end());
    for (const auto& n : pp.left_members) {
        auto st = pp.status_ltimes.find(n);
        handle_leave_intent(wire::SerfLeave{st == pp.status_ltimes.end() ? 0 : st->second, n, false});
    }
    for (const auto& [n, lt] : pp.status_ltimes) {
        if (left.count(n)) continue;
        if (n == name() && state_ == NodeState::Alive) {
            // A status time for us newer than ours: push-pull cannot say "leaving", so the
            // sender may hold us leaving at that time (a leave of an earlier process of ours).
            // Answer with a newer join, as for a leave intent, instead of taking it as ours.
            auto self = members_.find(n);
            if (self != members_.end() && lt > self->second.status_ltime) {
                log(Level::Debug, "serf: Refuting a newer status time for us");
                clock_.witness(lt);
                broadcast_join(clock_.time());
            }
            continue;
        }
        handle_join_intent(wire::SerfJoin{lt, n});
    }
    if (join && ignore_old_joins_ > 0 && pp.event_ltime > event_min_time_) event_min_time_ = pp.event_ltime;
    for (const auto& slot : pp.events) {
        if (!slot) continue;
        for (const auto& e : slot->events)
            handle_user_event(wire::SerfUserEvent{slot->ltime, e.name, e.payload, false});
    }
}

// ---- coordinates -----------------------------------------------------------------------------

base::Bytes Node::ack_payload() {
    if (config_.disable_coordinates) return {};
    return coord::encode_ping_payload(coord_.coordinate());
}

void Node::notify_ping_complete(const swim::Node& node, base::Duration rtt, base::ByteView payload) {
    if (config_.disable_coordinates || payload.empty()) return;
    auto c = coord::decode_ping_payload(payload);
    if (!c) {
        ++stats_.coordinate_rejected;
        log(Level::Error, "serf: Failed to decode coordinate from ping: " + c.error().message);
        return;
    }
    auto r = coord_.update(node.name, *c, rtt);
    if (!r) {
        ++stats_.coordinate_rejected;
        log(Level::Debug, "serf: Rejected coordinate from " + node.name + ": " + r.error().message);
        return;
    }
    coord_cache_[node.name] = *c;
    coord_cache_[name()] = coord_.coordinate();
}

std::optional<coord::Coordinate> Node::local_coordinate() const {
    if (config_.disable_coordinates) return std::nullopt;
    return coord_.coordinate();
}

std::optional<coord::Coordinate> Node::coordinate_of(const std::string& node) const {
    if (config_.disable_coordinates) return std::nullopt;
    if (node == name()) return coord_.coordinate();
    auto it = coord_cache_.find(node);
    if (it == coord_cache_.end()) return std::nullopt;
    return it->second;
}

// ---- timers ----------------------------------------------------------------------------------

void Node::run_timers(base::Instant now) {
    for (auto it = pending_prunes_.begin(); it != pending_prunes_.end();) {
        if (it->second > now) {
            ++it;
            continue;
        }
        std::string n = it->first;
        it = pending_prunes_.erase(it);
        auto m = members_.find(n);
        if (m == members_.end()) continue;
        log(Level::Info, "serf: EventMemberReap (forced): " + n);
        remove_name(left_, n);
        remove_name(failed_, n);
        erase_member(n);
    }
    if (now >= next_reap_) {
        next_reap_ = now + config_.reap_interval;
        reap(now);
    }
    if (now >= next_reconnect_) {
        next_reconnect_ = now + config_.reconnect_interval;
        reconnect(now);
    }
    if (now >= next_queue_check_) {
        next_queue_check_ = now + config_.queue_check_interval;
        for (auto* q : {&intent_q_, &event_q_, &query_q_})
            if (q->size() > config_.max_queue_depth) q->prune(config_.max_queue_depth);
    }
    finish_queries(now);
    advance_leave(now);
    if (member_coalescer_)
        for (auto& e : member_coalescer_->poll(now)) events_.push_back(std::move(e));
    if (user_coalescer_)
        for (auto& e : user_coalescer_->poll(now)) events_.push_back(std::move(e));
}

void Node::reap(base::Instant now) {
    auto reap_list = [&](std::vector<std::string>& names, base::Duration timeout) {
        std::vector<std::string> keep;
        for (const auto& n : names) {
            auto it = members_.find(n);
            if (it == members_.end()) continue;
            if (now - it->second.leave_time <= timeout) {
                keep.push_back(n);
                continue;
            }
            log(Level::Info, "serf: EventMemberReap: " + n);
            erase_member(n);
        }
        names = std::move(keep);
    };
    reap_list(failed_, config_.reconnect_timeout);
    reap_list(left_, config_.tombstone_timeout);
    intents_.reap(now, config_.recent_intent_timeout);
}

void Node::reconnect(base::Instant now) {
    if (failed_.empty() || state_ != NodeState::Alive) return;
    double num_failed = static_cast<double>(failed_.size());
    double num_alive = static_cast<double>(members_.size() - failed_.size() - left_.size());
    if (num_alive <= 0) num_alive = 1;
    if (rng_.unit() > num_failed / num_alive) {
        log(Level::Debug, "serf: forgoing reconnect for random throttling");
        return;
    }
    const std::string& n = failed_[rng_.below(failed_.size())];
    auto it = members_.find(n);
    if (it == members_.end()) return;
    swim::Address a = address_of(it->second.member);
    log(Level::Info, "serf: attempting reconnect to " + n + " " + a.to_string());
    ++stats_.reconnect_attempts;
    std::uint64_t id = endpoint_->join({a}, now);
    joins_[id] = JoinTracker{false, false, false, false};
}

base::Duration Node::default_query_timeout() const {
    return serf::default_query_timeout(config_.memberlist.gossip_interval, endpoint_->num_alive(),
                                       config_.query_timeout_mult);
}

}  // namespace clusterd::serf
