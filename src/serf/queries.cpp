// Queries: receiver side (dedup, filters, acks, relays, responses) and origin side (pending
// queries, responses, deadlines). Internal queries are in internal_queries.cpp (see queries.hpp).
#include "queries.hpp"

#include <algorithm>

namespace clusterd::serf::detail {

namespace {
bool starts_with(const std::string& s, const char* p) {
    return s.rfind(p, 0) == 0;
}
} // namespace

Queries::Queries(Core& core, const Members& members)
    : core_(core), members_(members), buffer_(core.config.query_buffer),
      queue_(core.config.memberlist.retransmit_mult, core.config.memberlist.message_pool) {
    queue_.track_targets(core.config.distinct_targets);
    clock_.increment();
}

void Queries::restore(LamportTime last_query_clock) {
    clock_.witness(last_query_clock);
    min_time_ = last_query_clock + 1;
}

base::Duration Queries::default_timeout() const {
    return serf::default_query_timeout(core_.config.memberlist.gossip_interval, core_.endpoint->num_alive(),
                                       core_.config.query_timeout_mult);
}

// ---- receiver side -----------------------------------------------------------------------------

bool Queries::handle(const wire::SerfQuery& msg) {
    clock_.witness(msg.ltime);
    auto verdict = buffer_.record(msg.ltime, msg.id, clock_.time(), min_time_);
    switch (verdict) {
    case DedupVerdict::New:
        break;
    case DedupVerdict::Duplicate:
        ++core_.stats.queries_duplicate;
        return false;
    case DedupVerdict::TooOld:
        ++core_.stats.queries_old;
        core_.log(Level::Warn, "serf: received old query " + msg.name + " from time " +
                                   std::to_string(msg.ltime) + " (current: " + std::to_string(clock_.time()) +
                                   ")");
        return false;
    case DedupVerdict::BeforeMin:
        return false;
    }
    ++core_.stats.queries;
    core_.stats.queries_by_name.add(msg.name);
    bool rebroadcast = (msg.flags & wire::kQueryFlagNoBroadcast) == 0;

    std::vector<wire::QueryFilter> filters;
    for (const auto& raw : msg.filters) {
        auto f = wire::decode_filter(raw);
        if (!f) {
            core_.log(Level::Warn, "serf: failed to decode query filter: " + f.error().message);
            return rebroadcast;
        }
        filters.push_back(std::move(f.value()));
    }
    if (!filters_match(filters, core_.name(), core_.config.tags))
        return rebroadcast;

    swim::Address origin{msg.addr, msg.port};
    if (msg.flags & wire::kQueryFlagAck) {
        wire::SerfQueryResponse ack{msg.ltime, msg.id, core_.name(), wire::kQueryFlagAck, {}};
        auto raw = wire::encode_serf(ack);
        core_.endpoint->send_user(origin, raw);
        relay_response(msg.relay_factor, origin, msg.source_node, raw);
    }
    QueryEvent q{msg.ltime,       msg.name, msg.payload,     msg.id,
                 msg.addr,        msg.port, msg.source_node, core_.now + msg.timeout,
                 msg.relay_factor};
    if (starts_with(msg.name, kInternalQueryPrefix))
        handle_internal(q);
    else
        core_.emit(std::move(q));
    return rebroadcast;
}

base::Status Queries::respond(const QueryEvent& q, base::ByteView payload) {
    if (core_.now >= q.deadline)
        return base::make_error("deadline", "response is past the deadline");
    wire::SerfQueryResponse resp{q.ltime, q.id, core_.name(), 0, base::Bytes(payload.begin(), payload.end())};
    return send_response(q, wire::encode_serf(resp));
}

base::Status Queries::send_response(const QueryEvent& q, const base::Bytes& raw) {
    auto st = wire::check_query_response_size(raw.size(), core_.config.query_response_size_limit);
    if (!st)
        return st;
    swim::Address origin{q.addr, q.port};
    core_.endpoint->send_user(origin, raw);
    relay_response(q.relay_factor, origin, q.source_node, raw);
    return base::ok_status();
}

void Queries::relay_response(std::uint8_t relay_factor, const swim::Address& dest,
                             const std::string& dest_name, const base::Bytes& raw_response) {
    const auto& table = members_.table();
    if (relay_factor == 0 || table.size() < static_cast<std::size_t>(relay_factor) + 1)
        return;
    wire::SerfRelay relay{dest.ip, dest.port, "", dest_name, raw_response};
    auto raw = wire::encode_serf(relay);
    if (raw.size() > core_.config.query_response_size_limit) {
        core_.log(Level::Error, "serf: relayed response exceeds limit of " +
                                    std::to_string(core_.config.query_response_size_limit) + " bytes");
        return;
    }
    std::vector<std::pair<std::string_view, const Members::State*>> all;
    table.for_each([&](std::string_view n, const Members::State& ms) { all.emplace_back(n, &ms); });
    std::sort(all.begin(), all.end(),
              [](const auto& a, const auto& b) { return a.first < b.first; }); // name order

    std::vector<std::size_t> chosen;
    std::vector<Member> picked;
    for (std::size_t i = 0; i < 3 * all.size() && picked.size() < relay_factor; ++i) {
        const std::size_t at = core_.rng.below(all.size());
        const auto& [name, ms] = all[at];
        if (ms->status != MemberStatus::Alive || name == core_.name())
            continue;
        if (std::find(chosen.begin(), chosen.end(), at) != chosen.end())
            continue;
        Member m = members_.member_of(name, *ms);
        if (m.protocol_max < 5)
            continue;
        chosen.push_back(at);
        picked.push_back(std::move(m));
    }
    for (const Member& m : picked)
        core_.endpoint->send_user(swim::Address{m.addr, m.port}, raw);
}

// ---- origin side -------------------------------------------------------------------------------

base::Result<std::uint64_t> Queries::start_user(const std::string& qname, base::ByteView payload,
                                                const QueryParams& params) {
    return start(qname, payload, params, Kind::User, KeyOp::List);
}

base::Result<std::uint64_t> Queries::start(const std::string& qname, base::ByteView payload,
                                           const QueryParams& params, Kind kind, KeyOp key_op) {
    if (core_.state == NodeState::Shutdown)
        return base::make_error("bad_state", "node is shut down");
    if (core_.config.protocol_version < 4)
        return base::make_error("unsupported", "Feature not supported");
    const base::Instant now = core_.now;
    base::Duration timeout = params.timeout > base::Duration::zero() ? params.timeout : default_timeout();
    wire::SerfQuery q;
    q.ltime = clock_.time();
    q.id = static_cast<std::uint32_t>(core_.rng.next() & 0x7fffffffu);
    q.addr = core_.endpoint->local_node().addr.ip;
    q.port = core_.endpoint->local_node().addr.port;
    q.source_node = core_.name();
    if (!params.filter_nodes.empty())
        q.filters.push_back(wire::encode_filter(wire::FilterNodes{params.filter_nodes}));
    for (const auto& [tag, expr] : params.filter_tags)
        q.filters.push_back(wire::encode_filter(wire::FilterTag{tag, expr}));
    q.flags = params.request_ack ? wire::kQueryFlagAck : 0;
    q.relay_factor = params.relay_factor;
    q.timeout = timeout;
    q.name = qname;
    q.payload.assign(payload.begin(), payload.end());
    auto raw = wire::encode_serf(q);
    auto st = wire::check_query_size(raw.size(), core_.config.query_size_limit);
    if (!st)
        return st.error();

    const std::uint64_t query_handle = next_handle_++;
    Pending pq{query_handle,
               kind,
               QueryCollector(q.ltime, q.id, now + timeout, params.request_ack),
               key_op,
               std::nullopt,
               0,
               0};
    if (kind == Kind::Key)
        pq.keys.emplace(core_.endpoint->num_alive());
    pending_.erase(q.ltime);
    pending_.emplace(q.ltime, std::move(pq));
    handle(q);
    queue_.queue("", std::move(raw));
    core_.endpoint->expedite_gossip(now);
    return query_handle;
}

void Queries::handle_response(const wire::SerfQueryResponse& resp) {
    auto it = pending_.find(resp.ltime);
    if (it == pending_.end()) {
        ++core_.stats.query_responses_unknown;
        core_.log(Level::Warn, "serf: reply for non-running query (LTime: " + std::to_string(resp.ltime) +
                                   ", ID: " + std::to_string(resp.id) + ") From: " + resp.from);
        return;
    }
    Pending& pq = it->second;
    if (pq.collector.id() != resp.id) {
        core_.log(Level::Warn, "serf: query reply ID mismatch (Local: " + std::to_string(pq.collector.id()) +
                                   ", Response: " + std::to_string(resp.id) + ")");
        return;
    }
    if (pq.collector.finished(core_.now))
        return;
    if (resp.flags & wire::kQueryFlagAck) {
        if (pq.collector.add_ack(resp.from, core_.now) && pq.kind == Kind::User)
            core_.query_updates.push_back(QueryAck{pq.handle, resp.from});
        return;
    }
    if (!pq.collector.add_response(resp.from, core_.now)) {
        ++core_.stats.query_responses_duplicate;
        return;
    }
    switch (pq.kind) {
    case Kind::User:
        core_.query_updates.push_back(QueryResponse{pq.handle, resp.from, resp.payload});
        break;
    case Kind::Conflict:
        collect_conflict_vote(pq, resp.payload);
        break;
    case Kind::Key:
        collect_key_response(pq, resp.from, resp.payload);
        break;
    }
}

void Queries::finish(Pending& pq) {
    switch (pq.kind) {
    case Kind::User:
        core_.query_updates.push_back(QueryDone{pq.handle});
        break;
    case Kind::Key:
        if (pq.keys) {
            auto verdict = pq.keys->verdict();
            core_.query_updates.push_back(
                KeyOperationDone{pq.handle, pq.key_op, pq.keys->response(),
                                 verdict ? std::string() : verdict.error().message});
            pq.keys.reset();
        }
        break;
    case Kind::Conflict:
        finish_conflict_vote(pq);
        break;
    }
}

void Queries::finish_due(base::Instant t) {
    for (auto it = pending_.begin(); it != pending_.end();) {
        if (!it->second.collector.finished(t)) {
            ++it;
            continue;
        }
        Pending pq = std::move(it->second);
        it = pending_.erase(it);
        finish(pq);
        if (core_.state == NodeState::Shutdown)
            return;
    }
}

base::Instant Queries::next_deadline() const {
    base::Instant d = base::Instant::max();
    for (const auto& [lt, pq] : pending_)
        d = std::min(d, pq.collector.deadline());
    return d;
}

} // namespace clusterd::serf::detail
