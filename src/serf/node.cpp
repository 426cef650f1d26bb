// serf::Node: the facade over the per-seam classes (see node.hpp), and the shared Core.
#include "clusterd/serf/node.hpp"

#include "clusterd/swim/intern.hpp"

#include <algorithm>

#include "gossip_delegate.hpp"
#include "lifecycle.hpp"
#include "members.hpp"
#include "node_core.hpp"
#include "queries.hpp"
#include "user_events.hpp"

#include "clusterd/swim/broadcast_queue.hpp"

namespace clusterd::serf {

namespace detail {

// ---- Core ------------------------------------------------------------------------------------

namespace {
std::shared_ptr<swim::InternPools> intern_pools_of(Config& c) {
    if (!c.memberlist.intern_pools)
        c.memberlist.intern_pools = std::make_shared<swim::InternPools>();
    return c.memberlist.intern_pools;
}
} // namespace

Core::Core(Config cfg, std::uint64_t seed, base::Instant start)
    : config(std::move(cfg)), rng(seed), now(start), coord(config.coordinates, base::Rng::mix(seed, 0xC00D)),
      peers(intern_pools_of(config), config.coordinates) {
    // Serf speaks delegate protocol `protocol_version` over memberlist protocol 2.
    config.memberlist.delegate_protocol_version = config.protocol_version;
    config.memberlist.delegate_protocol_min = kProtocolVersionMin;
    config.memberlist.delegate_protocol_max = kProtocolVersionMax;
    // memberlist's queue and Serf's three share one message pool (unless the caller gave one).
    if (!config.memberlist.message_pool)
        config.memberlist.message_pool = std::make_shared<swim::MessagePool>();
    if (config.coalesce_period > base::Duration::zero() && config.quiescent_period > base::Duration::zero())
        member_coalescer.emplace(config.coalesce_period, config.quiescent_period,
                                 config.memberlist.intern_pools);
    if (config.user_coalesce_period > base::Duration::zero() &&
        config.user_quiescent_period > base::Duration::zero())
        user_coalescer.emplace(config.user_coalesce_period, config.user_quiescent_period);
}

void Core::log(Level level, std::string text) {
    if (logs.size() >= kMaxQueued)
        logs.pop_front();
    logs.push_back(LogLine{level, std::move(text)});
}

void Core::emit(Event e) {
    if (const auto* m = std::get_if<MemberEvent>(&e)) {
        switch (m->type) {
        case EventType::MemberJoin:
            ++stats.member_join;
            break;
        case EventType::MemberLeave:
            ++stats.member_left;
            break;
        case EventType::MemberFailed:
            ++stats.member_failed;
            break;
        case EventType::MemberUpdate:
            ++stats.member_update;
            break;
        case EventType::MemberReap:
            ++stats.member_reap;
            break;
        default:
            break;
        }
    }
    if (snapshot) {
        if (const auto* m = std::get_if<MemberEvent>(&e))
            snapshot->record_member_event(*m, member_clock->time());
        else if (const auto* u = std::get_if<UserEvent>(&e))
            snapshot->record_user_event(u->ltime);
        else
            snapshot->record_query(std::get<QueryEvent>(e).ltime);
    }
    if (user_coalescer && user_coalescer->offer(e, now))
        return;
    if (member_coalescer && member_coalescer->offer(e, now))
        return;
    if (events.size() >= kMaxQueued) {
        ++stats.events_dropped;
        events.pop_front();
    }
    events.push_back(std::move(e));
}

void Core::drain_coalescers(base::Instant t, bool flush) {
    if (member_coalescer)
        for (auto& e : flush ? member_coalescer->flush() : member_coalescer->poll(t))
            events.push_back(std::move(e));
    if (user_coalescer)
        for (auto& e : flush ? user_coalescer->flush() : user_coalescer->poll(t))
            events.push_back(std::move(e));
}

base::Instant Core::coalescer_deadline() const {
    base::Instant d = base::Instant::max();
    if (member_coalescer)
        d = std::min(d, member_coalescer->next_deadline());
    if (user_coalescer)
        d = std::min(d, user_coalescer->next_deadline());
    return d;
}

void Core::forget_coordinate(const std::string& node) {
    peers.forget(node);
}

void Core::shutdown() {
    if (state == NodeState::Shutdown)
        return;
    if (state != NodeState::Left)
        log(Level::Warn, "serf: Shutdown without a Leave");
    state = NodeState::Shutdown;
    drain_coalescers(now, true);
}

// ---- the seams together ----------------------------------------------------------------------

struct NodeImpl {
    NodeImpl(Config config, std::uint64_t seed, base::Instant now, const SnapshotState* restored)
        : core(std::move(config), seed, now), members(core), events(core), queries(core, members),
          lifecycle(core, members, restored ? restored->previous_nodes() : std::vector<PreviousNode>{}),
          delegate(core, members, events, queries, lifecycle) {}

    /// The endpoint's input has been handled: its join results become Serf's.
    void after_input() { lifecycle.pump_join_results(); }
    void run_timers(base::Instant t);

    Core core;
    Members members;
    UserEvents events;
    Queries queries;
    Lifecycle lifecycle;
    GossipDelegate delegate;
    base::Instant next_queue_check{};
};

void NodeImpl::run_timers(base::Instant t) {
    lifecycle.run_timers(t);
    if (t >= next_queue_check) {
        next_queue_check = t + core.config.queue_check_interval;
        struct Checked {
            swim::BroadcastQueue* queue;
            const char* name; // Serf's names in the warning
            std::uint64_t* pruned;
        };
        for (const Checked& c : {Checked{&members.queue(), "Intent", &core.stats.intent_broadcasts_pruned},
                                 Checked{&events.queue(), "Event", &core.stats.event_broadcasts_pruned},
                                 Checked{&queries.queue(), "Query", &core.stats.query_broadcasts_pruned}}) {
            const std::size_t depth = c.queue->size();
            if (depth <= core.config.max_queue_depth)
                continue;
            core.log(Level::Warn, std::string("serf: ") + c.name + " queue depth (" + std::to_string(depth) +
                                      ") exceeds limit (" + std::to_string(core.config.max_queue_depth) +
                                      "), dropping messages!");
            *c.pruned += depth - core.config.max_queue_depth;
            c.queue->prune(core.config.max_queue_depth);
        }
    }
    queries.finish_due(t);
    lifecycle.advance_leave(t);
    core.drain_coalescers(t, false);
}

} // namespace detail

using detail::Level;

Node::Node(Config config, std::uint64_t seed, base::Instant now, const SnapshotState* restored,
           std::size_t snapshot_file_size)
    : impl_(std::make_unique<detail::NodeImpl>(std::move(config), seed, now, restored)) {
    auto& core = impl_->core;
    if (restored) {
        impl_->members.clock().witness(restored->last_clock);
        impl_->events.restore(restored->last_event_clock);
        impl_->queries.restore(restored->last_query_clock);
    }
    if (core.config.snapshot)
        core.snapshot.emplace(restored ? *restored : SnapshotState{}, snapshot_file_size,
                              core.config.rejoin_after_leave);
    impl_->next_queue_check = now + core.config.queue_check_interval;

    core.endpoint = std::make_unique<swim::Endpoint>(core.config.memberlist, &impl_->delegate,
                                                     base::Rng::mix(seed, 0x5111), now);
    // Anything queued in Serf's queues resumes a parked gossip tick (swim::Config::park_idle_gossip).
    for (swim::BroadcastQueue* q : {&impl_->members.queue(), &impl_->events.queue(), &impl_->queries.queue()})
        q->on_queued([&core] {
            if (core.endpoint)
                core.endpoint->wake_gossip(core.now);
        });
    // Start the endpoint now: it announces us alive and reports our own join (member + event).
    core.endpoint->handle_timeout(now);
    if (impl_->members.status_of(core.name()) == MemberStatus::None) {
        swim::Node self = core.endpoint->local_node();
        self.meta = impl_->delegate.node_meta(core.config.memberlist.meta_max_size);
        impl_->members.on_join(self);
    }
}

Node::~Node() {
    // The endpoint goes first: it holds the delegate (and through it every seam) by reference.
    if (impl_)
        impl_->core.endpoint.reset();
}

// ---- plumbing -------------------------------------------------------------------------------

void Node::handle_packet(const swim::Address& from, base::ByteView msg, base::Instant now) {
    auto& core = impl_->core;
    if (core.shut_down())
        return;
    core.now = now;
    core.endpoint->handle_packet(from, msg, now);
    impl_->after_input();
}

base::Result<base::Bytes> Node::handle_stream_request(const swim::Address& from, base::ByteView msg,
                                                      base::Instant now) {
    auto& core = impl_->core;
    if (core.shut_down())
        return base::make_error("shutdown", "node is shut down");
    core.now = now;
    auto r = core.endpoint->handle_stream_request(from, msg, now);
    impl_->after_input();
    return r;
}

void Node::handle_stream_reply(std::uint64_t stream_id, base::ByteView msg, base::Instant now) {
    auto& core = impl_->core;
    if (core.shut_down())
        return;
    core.now = now;
    core.endpoint->handle_stream_reply(stream_id, msg, now);
    impl_->after_input();
}

void Node::stream_failed(std::uint64_t stream_id, base::Instant now, std::string_view why,
                         swim::StreamFailure kind) {
    auto& core = impl_->core;
    if (core.shut_down())
        return;
    core.now = now;
    core.endpoint->stream_failed(stream_id, now, why, kind);
    impl_->after_input();
}

void Node::handle_timeout(base::Instant now) {
    auto& core = impl_->core;
    if (core.shut_down())
        return;
    core.now = now;
    core.endpoint->handle_timeout(now);
    impl_->after_input();
    impl_->run_timers(now);
}

base::Instant Node::next_deadline() const {
    const auto& core = impl_->core;
    if (core.shut_down())
        return base::Instant::max();
    return std::min({core.endpoint->next_deadline(), impl_->lifecycle.next_deadline(),
                     impl_->next_queue_check, core.coalescer_deadline(), impl_->queries.next_deadline()});
}

std::optional<swim::Transmit> Node::poll_transmit() {
    if (impl_->core.shut_down())
        return std::nullopt;
    return impl_->core.endpoint->poll_transmit();
}

// ---- outputs --------------------------------------------------------------------------------

namespace {
template <typename T> std::optional<T> pop(std::deque<T>& q) {
    if (q.empty())
        return std::nullopt;
    T v = std::move(q.front());
    q.pop_front();
    return v;
}
} // namespace

std::optional<Event> Node::poll_event() {
    return pop(impl_->core.events);
}
std::optional<QueryUpdate> Node::poll_query_update() {
    return pop(impl_->core.query_updates);
}
std::optional<JoinResult> Node::poll_join_result() {
    return pop(impl_->core.join_results);
}
std::optional<LogLine> Node::poll_log() {
    return pop(impl_->core.logs);
}

std::string Node::drain_snapshot() {
    auto& core = impl_->core;
    if (!core.snapshot)
        return {};
    core.snapshot->update_clock(impl_->members.clock().time());
    return core.snapshot->drain();
}

SnapshotRecorder* Node::snapshot_recorder() {
    auto& s = impl_->core.snapshot;
    return s ? &*s : nullptr;
}

// ---- commands -------------------------------------------------------------------------------

base::Result<std::uint64_t> Node::join(const std::vector<swim::Address>& seeds, bool ignore_old,
                                       base::Instant now) {
    impl_->core.now = now;
    return impl_->lifecycle.join(seeds, ignore_old);
}

void Node::rejoin_previous(base::Instant now) {
    impl_->core.now = now;
    impl_->lifecycle.rejoin_previous();
}

base::Status Node::leave(base::Instant now) {
    impl_->core.now = now;
    return impl_->lifecycle.leave(now);
}

void Node::shutdown() {
    impl_->core.shutdown();
}

base::Status Node::force_leave(const std::string& node, bool prune, base::Instant now) {
    impl_->core.now = now;
    return impl_->lifecycle.force_leave(node, prune);
}

base::Status Node::set_tags(std::map<std::string, std::string> tags, base::Instant now) {
    auto& core = impl_->core;
    core.now = now;
    auto encoded =
        core.config.protocol_version >= 3 ? wire::encode_tags(tags) : wire::encode_tags_legacy(tags);
    auto st = wire::check_tags_size(encoded.size());
    if (!st)
        return st;
    core.config.tags = std::move(tags);
    impl_->members.set_local_meta(encoded);
    core.endpoint->update_meta(now);
    return base::ok_status();
}

base::Status Node::user_event(const std::string& ev_name, base::ByteView payload, bool coalesce,
                              base::Instant now) {
    impl_->core.now = now;
    return impl_->events.fire(ev_name, payload, coalesce, now);
}

base::Result<std::uint64_t> Node::query(const std::string& qname, base::ByteView payload,
                                        const QueryParams& params, base::Instant now) {
    impl_->core.now = now;
    return impl_->queries.start_user(qname, payload, params);
}

base::Status Node::respond(const QueryEvent& q, base::ByteView payload, base::Instant now) {
    impl_->core.now = now;
    return impl_->queries.respond(q, payload);
}

base::Result<std::uint64_t> Node::key_operation(KeyOp op, const std::string& key_base64,
                                                std::uint8_t relay_factor, base::Instant now) {
    impl_->core.now = now;
    return impl_->queries.start_key_operation(op, key_base64, relay_factor);
}

// ---- state ----------------------------------------------------------------------------------

NodeState Node::state() const {
    return impl_->core.state;
}

std::vector<Member> Node::members() const {
    std::vector<Member> out;
    out.reserve(impl_->members.table().size());
    impl_->members.table().for_each([&](std::string_view n, const detail::Members::State& ms) {
        out.push_back(impl_->members.member_of(n, ms));
    });
    // In name order, as before the table kept rows by id (callers and tests read it sorted).
    std::sort(out.begin(), out.end(), [](const Member& a, const Member& b) { return a.name < b.name; });
    return out;
}

std::uint64_t Node::members_generation() const {
    return impl_->members.generation();
}

std::optional<Member> Node::member(const std::string& n) const {
    return impl_->members.find(n);
}

MemberStatus Node::member_status(const std::string& n) const {
    return impl_->members.status_of(n);
}

const std::string& Node::name() const {
    return impl_->core.name();
}
const std::map<std::string, std::string>& Node::tags() const {
    return impl_->core.config.tags;
}
const Config& Node::config() const {
    return impl_->core.config;
}
const NodeStats& Node::stats() const {
    return impl_->core.stats;
}
swim::Endpoint& Node::endpoint() {
    return *impl_->core.endpoint;
}
const swim::Endpoint& Node::endpoint() const {
    return *impl_->core.endpoint;
}
swim::Delegate& Node::delegate() {
    return impl_->delegate;
}

NodeClocks Node::clocks() const {
    return NodeClocks{impl_->members.clock().time(), impl_->events.clock().time(),
                      impl_->queries.clock().time(), impl_->events.min_time()};
}

NodeGauges Node::gauges() const {
    const auto& core = impl_->core;
    NodeGauges g;
    g.intent_queue = impl_->members.queue().size();
    g.event_queue = impl_->events.queue().size();
    g.query_queue = impl_->queries.queue().size();
    g.num_failed = impl_->members.failed().size();
    g.num_left = impl_->members.num_left();
    g.intent_buffer = impl_->members.intent_buffer_size();
    g.event_buffer_slots = impl_->events.buffer_slots();
    g.pending_outputs = core.events.size() + core.query_updates.size() + core.logs.size();
    g.pending_queries = impl_->queries.pending();
    g.coordinate_resets = core.coord.resets();
    return g;
}

std::optional<coord::Coordinate> Node::local_coordinate() const {
    const auto& core = impl_->core;
    if (core.config.disable_coordinates)
        return std::nullopt;
    return core.coord.coordinate();
}

std::optional<coord::Coordinate> Node::coordinate_of(const std::string& node) const {
    const auto& core = impl_->core;
    if (core.config.disable_coordinates)
        return std::nullopt;
    if (node == name())
        return core.coord.coordinate();
    return core.peers.get(node);
}

} // namespace clusterd::serf
