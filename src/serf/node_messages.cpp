// serf::Node messages: Serf user-message dispatch, user events, queries (origin and receiver
// sides, acks, relays), internal queries (_serf_ping/conflict/*-key) and name-conflict votes.
#include <algorithm>

#include "clusterd/serf/node.hpp"
#include "clusterd/wire/serf_messages.hpp"

namespace clusterd::serf {

using Level = LogLine::Level;

namespace {
/// A keyring port for nodes without encryption.
class NoKeyring final : public KeyringPort {
public:
    bool enabled() const override { return false; }
    base::Status install(const base::Bytes&) override { return base::make_error("no_keyring", "no keyring"); }
    base::Status use(const base::Bytes&) override { return base::make_error("no_keyring", "no keyring"); }
    base::Status remove(const base::Bytes&) override { return base::make_error("no_keyring", "no keyring"); }
    std::vector<base::Bytes> keys() const override { return {}; }
    base::Bytes primary() const override { return {}; }
    base::Status persist() override { return base::ok_status(); }
};

bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }
}  // namespace

void Node::notify_msg(base::ByteView buf) {
    if (buf.empty() || state_ == NodeState::Shutdown) return;
    auto decoded = wire::decode_serf(buf);
    if (!decoded) {
        ++stats_.malformed_messages;
        log(Level::Error, "serf: Error decoding message of type " + std::to_string(buf[0]) + ": " +
                              decoded.error().message);
        return;
    }
    bool rebroadcast = false;
    swim::BroadcastQueue* queue = &intent_q_;
    auto& msg = *decoded;
    if (auto* leave = std::get_if<wire::SerfLeave>(&msg)) {
        rebroadcast = handle_leave_intent(*leave);
    } else if (auto* join = std::get_if<wire::SerfJoin>(&msg)) {
        rebroadcast = handle_join_intent(*join);
    } else if (auto* ev = std::get_if<wire::SerfUserEvent>(&msg)) {
        rebroadcast = handle_user_event(*ev);
        queue = &event_q_;
    } else if (auto* q = std::get_if<wire::SerfQuery>(&msg)) {
        rebroadcast = handle_query(*q);
        queue = &query_q_;
    } else if (auto* resp = std::get_if<wire::SerfQueryResponse>(&msg)) {
        handle_query_response(*resp);
    } else if (auto* relay = std::get_if<wire::SerfRelay>(&msg)) {
        swim::Address dest{relay->dest_ip, static_cast<std::uint16_t>(relay->dest_port)};
        log(Level::Debug, "serf: Relaying response to addr: " + dest.to_string());
        ++stats_.relayed;
        endpoint_->send_user(dest, relay->inner);
    } else {
        log(Level::Warn, "serf: Received message of unknown type: " + std::to_string(buf[0]));
    }
    if (rebroadcast) queue->queue("", base::Bytes(buf.begin(), buf.end()));
}

// ---- user events -----------------------------------------------------------------------------

bool Node::handle_user_event(const wire::SerfUserEvent& msg) {
    event_clock_.witness(msg.ltime);
    auto verdict = event_buffer_.record(msg.ltime, msg.name, msg.payload, event_clock_.time(), event_min_time_);
    switch (verdict) {
        case DedupVerdict::New: break;
        case DedupVerdict::Duplicate: ++stats_.user_events_duplicate; return false;
        case DedupVerdict::TooOld:
            ++stats_.user_events_old;
            log(Level::Warn, "serf: received old event " + msg.name + " from time " + std::to_string(msg.ltime) +
                                 " (current: " + std::to_string(event_clock_.time()) + ")");
            return false;
        case DedupVerdict::BeforeMin: return false;
    }
    emit(UserEvent{msg.ltime, msg.name, msg.payload, msg.cc});
    return true;
}

base::Status Node::user_event(const std::string& ev_name, base::ByteView payload, bool coalesce, base::Instant now) {
    now_ = now;
    auto st = wire::check_user_event_size(ev_name, payload, config_.user_event_size_limit);
    if (!st) return st;
    wire::SerfUserEvent msg{event_clock_.time(), ev_name, base::Bytes(payload.begin(), payload.end()), coalesce};
    auto raw = wire::encode_serf(msg);
    st = wire::check_encoded_user_event_size(raw.size(), config_.user_event_size_limit);
    if (!st) return st;
    event_clock_.increment();
    handle_user_event(msg);
    event_q_.queue("", std::move(raw));
    endpoint_->expedite_gossip(now);
    return base::ok_status();
}

// ---- queries: receiver side ------------------------------------------------------------------

bool Node::handle_query(const wire::SerfQuery& msg) {
    query_clock_.witness(msg.ltime);
    auto verdict = query_buffer_.record(msg.ltime, msg.id, query_clock_.time(), query_min_time_);
    switch (verdict) {
        case DedupVerdict::New: break;
        case DedupVerdict::Duplicate: ++stats_.queries_duplicate; return false;
        case DedupVerdict::TooOld:
            ++stats_.queries_old;
            log(Level::Warn, "serf: received old query " + msg.name + " from time " + std::to_string(msg.ltime) +
                                 " (current: " + std::to_string(query_clock_.time()) + ")");
            return false;
        case DedupVerdict::BeforeMin: return false;
    }
    bool rebroadcast = (msg.flags & wire::kQueryFlagNoBroadcast) == 0;

    std::vector<wire::QueryFilter> filters;
    for (const auto& raw : msg.filters) {
        auto f = wire::decode_filter(raw);
        if (!f) {
            log(Level::Warn, "serf: failed to decode query filter: " + f.error().message);
            return rebroadcast;
        }
        filters.push_back(std::move(f.value()));
    }
    if (!filters_match(filters, name(), config_.tags)) return rebroadcast;

    swim::Address origin{msg.addr, msg.port};
    if (msg.flags & wire::kQueryFlagAck) {
        wire::SerfQueryResponse ack{msg.ltime, msg.id, name(), wire::kQueryFlagAck, {}};
        auto raw = wire::encode_serf(ack);
        endpoint_->send_user(origin, raw);
        relay_response(msg.relay_factor, origin, msg.source_node, raw);
    }
    QueryEvent q{msg.ltime, msg.name, msg.payload, msg.id, msg.addr, msg.port, msg.source_node,
                 now_ + msg.timeout, msg.relay_factor};
    if (starts_with(msg.name, kInternalQueryPrefix))
        handle_internal_query(q);
    else
        emit(std::move(q));
    return rebroadcast;
}

base::Status Node::respond(const QueryEvent& q, base::ByteView payload, base::Instant now) {
    now_ = now;
    if (now >= q.deadline) return base::make_error("deadline", "response is past the deadline");
    wire::SerfQueryResponse resp{q.ltime, q.id, name(), 0, base::Bytes(payload.begin(), payload.end())};
    auto raw = wire::encode_serf(resp);
    return send_response(q, resp, raw.size(), raw);
}

base::Status Node::send_response(const QueryEvent& q, const wire::SerfQueryResponse& /*resp*/,
                                 std::size_t encoded_len, const base::Bytes& raw) {
    auto st = wire::check_query_response_size(encoded_len, config_.query_response_size_limit);
    if (!st) return st;
    swim::Address origin{q.addr, q.port};
    endpoint_->send_user(origin, raw);
    relay_response(q.relay_factor, origin, q.source_node, raw);
    return base::ok_status();
}

void Node::relay_response(std::uint8_t relay_factor, const swim::Address& dest, const std::string& dest_name,
                          const base::Bytes& raw_response) {
    if (relay_factor == 0 || members_.size() < static_cast<std::size_t>(relay_factor) + 1) return;
    wire::SerfRelay relay{dest.ip, dest.port, "", dest_name, raw_response};
    auto raw = wire::encode_serf(relay);
    if (raw.size() > config_.query_response_size_limit) {
        log(Level::Error, "serf: relayed response exceeds limit of " +
                              std::to_string(config_.query_response_size_limit) + " bytes");
        return;
    }
    std::vector<const Member*> all;
    for (const auto& [n, ms] : members_) all.push_back(&ms.member);
    std::vector<const Member*> picked;
    for (std::size_t i = 0; i < 3 * all.size() && picked.size() < relay_factor; ++i) {
        const Member* m = all[rng_.below(all.size())];
        if (m->status != MemberStatus::Alive || m->protocol_max < 5 || m->name == name()) continue;
        if (std::find(picked.begin(), picked.end(), m) != picked.end()) continue;
        picked.push_back(m);
    }
    for (const Member* m : picked) endpoint_->send_user(swim::Address{m->addr, m->port}, raw);
}

// ---- internal queries ------------------------------------------------------------------------

void Node::handle_internal_query(const QueryEvent& q) {
    const std::string op = q.name.substr(std::char_traits<char>::length(kInternalQueryPrefix));
    if (op == "ping") return;
    if (op == "conflict") {
        std::string node = base::to_string(q.payload);
        if (node == name()) return;
        log(Level::Debug, "serf: Got conflict resolution query for '" + node + "'");
        base::Bytes payload;
        auto it = members_.find(node);
        if (it == members_.end()) {
            payload = {static_cast<std::uint8_t>(wire::SerfMsgType::ConflictResponse), 0xc0};  // nil member
        } else {
            const Member& m = it->second.member;
            wire::SerfConflictResponse c{m.name, m.addr, m.port, m.tags, static_cast<std::int64_t>(m.status),
                                         m.protocol_min, m.protocol_max, m.protocol_cur,
                                         m.delegate_min, m.delegate_max, m.delegate_cur};
            payload = wire::encode_serf(c);
        }
        auto st = respond(q, payload, now_);
        if (!st) log(Level::Error, "serf: Failed to respond to conflict query: " + st.error().message);
        return;
    }
    KeyOp kop;
    if (op == "install-key") kop = KeyOp::Install;
    else if (op == "use-key") kop = KeyOp::Use;
    else if (op == "remove-key") kop = KeyOp::Remove;
    else if (op == "list-keys") kop = KeyOp::List;
    else {
        log(Level::Warn, "serf: Unhandled internal query '" + op + "'");
        return;
    }
    std::optional<base::Bytes> key;
    if (kop != KeyOp::List) {
        auto req = wire::decode_serf(q.payload);
        if (req && std::holds_alternative<wire::SerfKeyRequest>(*req))
            key = std::get<wire::SerfKeyRequest>(*req).key;
        else
            log(Level::Error, "serf: Failed to decode key request");
    }
    log(Level::Info, std::string("serf: Received ") + key_op_name(kop) + " query");
    NoKeyring none;
    KeyringPort& ring = config_.keyring ? *config_.keyring : static_cast<KeyringPort&>(none);
    wire::SerfKeyResponse resp = handle_key_query(kop, key, ring);
    if (!resp.result && !resp.message.empty()) log(Level::Error, "serf: " + resp.message);
    if (kop == KeyOp::List) {
        auto fits = [&](const wire::SerfKeyResponse& r) {
            wire::SerfQueryResponse qr{q.ltime, q.id, name(), 0, wire::encode_serf(r)};
            return wire::encode_serf(qr).size() <= config_.query_response_size_limit;
        };
        auto fitted = fit_key_list(resp, config_.query_response_size_limit, fits);
        if (!fitted) {
            log(Level::Error, "serf: Failed to truncate response so that it fits into message");
            return;
        }
        if (!fitted->message.empty()) log(Level::Warn, "serf: " + fitted->message);
        resp = std::move(*fitted);
    }
    auto st = respond(q, wire::encode_serf(resp), now_);
    if (!st) log(Level::Error, "serf: Failed to respond to key query: " + st.error().message);
}

// ---- queries: origin side --------------------------------------------------------------------

base::Result<std::uint64_t> Node::query(const std::string& qname, base::ByteView payload, const QueryParams& params,
                                        base::Instant now) {
    return start_query(qname, payload, params, QueryKind::User, KeyOp::List, now);
}

base::Result<std::uint64_t> Node::key_operation(KeyOp op, const std::string& key_base64, std::uint8_t relay_factor,
                                                base::Instant now) {
    base::Bytes key;
    if (!base::base64_decode(key_base64, key))
        return base::make_error("bad_key", "illegal base64 data in key");
    QueryParams params;
    params.relay_factor = relay_factor;
    auto payload = wire::encode_serf(wire::SerfKeyRequest{key});
    return start_query(std::string(kInternalQueryPrefix) + key_op_name(op), payload, params, QueryKind::Key, op, now);
}

base::Result<std::uint64_t> Node::start_query(const std::string& qname, base::ByteView payload,
                                              const QueryParams& params, QueryKind kind, KeyOp key_op,
                                              base::Instant now) {
    now_ = now;
    if (state_ == NodeState::Shutdown) return base::make_error("bad_state", "node is shut down");
    if (config_.protocol_version < 4)
        return base::make_error("unsupported", "Feature not supported");
    base::Duration timeout = params.timeout > base::Duration::zero() ? params.timeout : default_query_timeout();
    wire::SerfQuery q;
    q.ltime = query_clock_.time();
    q.id = static_cast<std::uint32_t>(rng_.next() & 0x7fffffffu);
    q.addr = endpoint_->local_node().addr.ip;
    q.port = endpoint_->local_node().addr.port;
    q.source_node = name();
    if (!params.filter_nodes.empty()) q.filters.push_back(wire::encode_filter(wire::FilterNodes{params.filter_nodes}));
    for (const auto& [tag, expr] : params.filter_tags)
        q.filters.push_back(wire::encode_filter(wire::FilterTag{tag, expr}));
    q.flags = params.request_ack ? wire::kQueryFlagAck : 0;
    q.relay_factor = params.relay_factor;
    q.timeout = timeout;
    q.name = qname;
    q.payload.assign(payload.begin(), payload.end());
    auto raw = wire::encode_serf(q);
    auto st = wire::check_query_size(raw.size(), config_.query_size_limit);
    if (!st) return st.error();

    std::uint64_t handle = next_handle_++;
    PendingQuery pq{handle, kind, QueryCollector(q.ltime, q.id, now + timeout, params.request_ack), key_op,
                    std::nullopt, 0, 0};
    if (kind == QueryKind::Key) pq.keys.emplace(endpoint_->num_alive());
    pending_queries_.erase(q.ltime);
    pending_queries_.emplace(q.ltime, std::move(pq));
    handle_query(q);
    query_q_.queue("", std::move(raw));
    endpoint_->expedite_gossip(now);
    return handle;
}

void Node::handle_query_response(const wire::SerfQueryResponse& resp) {
    auto it = pending_queries_.find(resp.ltime);
    if (it == pending_queries_.end()) {
        ++stats_.query_responses_unknown;
        log(Level::Warn, "serf: reply for non-running query (LTime: " + std::to_string(resp.ltime) +
                             ", ID: " + std::to_string(resp.id) + ") From: " + resp.from);
        return;
    }
    PendingQuery& pq = it->second;
    if (pq.collector.id() != resp.id) {
        log(Level::Warn, "serf: query reply ID mismatch (Local: " + std::to_string(pq.collector.id()) +
                             ", Response: " + std::to_string(resp.id) + ")");
        return;
    }
    if (pq.collector.finished(now_)) return;
    if (resp.flags & wire::kQueryFlagAck) {
        if (pq.collector.add_ack(resp.from, now_) && pq.kind == QueryKind::User)
            query_updates_.push_back(QueryAck{pq.handle, resp.from});
        return;
    }
    if (!pq.collector.add_response(resp.from, now_)) {
        ++stats_.query_responses_duplicate;
        return;
    }
    switch (pq.kind) {
        case QueryKind::User: query_updates_.push_back(QueryResponse{pq.handle, resp.from, resp.payload}); break;
        case QueryKind::Conflict: {
            const auto& p = resp.payload;
            if (p.size() == 2 && p[0] == static_cast<std::uint8_t>(wire::SerfMsgType::ConflictResponse) &&
                p[1] == 0xc0) {
                ++pq.conflict_responses;  // responder does not know the node: a vote against us
                break;
            }
            auto d = wire::decode_serf(p);
            if (!d || !std::holds_alternative<wire::SerfConflictResponse>(*d)) {
                log(Level::Error, "serf: Invalid conflict query response");
                break;
            }
            const auto& m = std::get<wire::SerfConflictResponse>(*d);
            ++pq.conflict_responses;
            const auto& local = endpoint_->local_node();
            if (m.addr == local.addr.ip && m.port == local.addr.port) ++pq.conflict_matching;
            break;
        }
        case QueryKind::Key: {
            if (!pq.keys) break;
            const auto& p = resp.payload;
            std::optional<wire::SerfKeyResponse> kr;
            std::string err;
            if (p.empty() || p[0] != static_cast<std::uint8_t>(wire::SerfMsgType::KeyResponse)) {
                err = "Invalid key query response type: " + base::to_hex(p);
            } else {
                auto d = wire::decode_serf(p);
                if (d && std::holds_alternative<wire::SerfKeyResponse>(*d))
                    kr = std::get<wire::SerfKeyResponse>(*d);
                else
                    err = "Failed to decode key query response: " + base::to_hex(p);
            }
            pq.keys->add(resp.from, kr, err);
            if (pq.keys->complete()) finish_query(pq);
            break;
        }
    }
}

void Node::finish_query(PendingQuery& pq) {
    switch (pq.kind) {
        case QueryKind::User: query_updates_.push_back(QueryDone{pq.handle}); break;
        case QueryKind::Key:
            if (pq.keys) {
                auto verdict = pq.keys->verdict();
                query_updates_.push_back(KeyOperationDone{pq.handle, pq.key_op, pq.keys->response(),
                                                          verdict ? std::string() : verdict.error().message});
                pq.keys.reset();
            }
            break;
        case QueryKind::Conflict: {
            std::size_t majority = pq.conflict_responses / 2 + 1;
            std::string tally = " [" + std::to_string(pq.conflict_matching) + " / " +
                                std::to_string(pq.conflict_responses) + "]";
            if (pq.conflict_matching >= majority) {
                log(Level::Info, "serf: majority in name conflict resolution" + tally);
            } else {
                log(Level::Warn, "serf: minority in name conflict resolution, quiting" + tally);
                shutdown();
            }
            break;
        }
    }
}

void Node::finish_queries(base::Instant now) {
    for (auto it = pending_queries_.begin(); it != pending_queries_.end();) {
        if (!it->second.collector.finished(now)) {
            ++it;
            continue;
        }
        PendingQuery pq = std::move(it->second);
        it = pending_queries_.erase(it);
        finish_query(pq);
        if (state_ == NodeState::Shutdown) return;
    }
}

}  // namespace clusterd::serf
