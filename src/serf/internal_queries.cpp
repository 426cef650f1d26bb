// Internal queries (see queries.hpp): _serf_ping, the name-conflict vote (both sides) and key
// management (answering _serf_*-key queries through the KeyringPort, starting key operations,
// collecting their answers).
#include <string>

#include "queries.hpp"

namespace clusterd::serf::detail {

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
} // namespace

void Queries::handle_internal(const QueryEvent& q) {
    const std::string op = q.name.substr(std::char_traits<char>::length(kInternalQueryPrefix));
    if (op == "ping")
        return;
    if (op == "conflict")
        return answer_conflict(q);
    if (op == "install-key")
        return answer_key_query(q, KeyOp::Install);
    if (op == "use-key")
        return answer_key_query(q, KeyOp::Use);
    if (op == "remove-key")
        return answer_key_query(q, KeyOp::Remove);
    if (op == "list-keys")
        return answer_key_query(q, KeyOp::List);
    core_.log(Level::Warn, "serf: Unhandled internal query '" + op + "'");
}

// ---- name conflicts ----------------------------------------------------------------------------

void Queries::start_conflict_vote() {
    auto payload = base::to_bytes(core_.name());
    auto r = start(std::string(kInternalQueryPrefix) + "conflict", payload, QueryParams{}, Kind::Conflict,
                   KeyOp::List);
    if (!r)
        core_.log(Level::Error, "serf: Failed to start name resolution query: " + r.error().message);
}

void Queries::answer_conflict(const QueryEvent& q) {
    std::string node = base::to_string(q.payload);
    if (node == core_.name())
        return;
    core_.log(Level::Debug, "serf: Got conflict resolution query for '" + node + "'");
    base::Bytes payload;
    if (const std::optional<Member> m = members_.find(node)) {
        wire::SerfConflictResponse c{m->name,
                                     m->addr,
                                     m->port,
                                     m->tags,
                                     static_cast<std::int64_t>(m->status),
                                     m->protocol_min,
                                     m->protocol_max,
                                     m->protocol_cur,
                                     m->delegate_min,
                                     m->delegate_max,
                                     m->delegate_cur};
        payload = wire::encode_serf(c);
    } else {
        payload = {static_cast<std::uint8_t>(wire::SerfMsgType::ConflictResponse), 0xc0}; // nil member
    }
    auto st = respond(q, payload);
    if (!st)
        core_.log(Level::Error, "serf: Failed to respond to conflict query: " + st.error().message);
}

void Queries::collect_conflict_vote(Pending& pq, const base::Bytes& p) {
    if (p.size() == 2 && p[0] == static_cast<std::uint8_t>(wire::SerfMsgType::ConflictResponse) &&
        p[1] == 0xc0) {
        ++pq.conflict_responses; // responder does not know the node: a vote against us
        return;
    }
    auto d = wire::decode_serf(p);
    if (!d || !std::holds_alternative<wire::SerfConflictResponse>(*d)) {
        core_.log(Level::Error, "serf: Invalid conflict query response");
        return;
    }
    const auto& m = std::get<wire::SerfConflictResponse>(*d);
    ++pq.conflict_responses;
    const auto& local = core_.endpoint->local_node();
    if (m.addr == local.addr.ip && m.port == local.addr.port)
        ++pq.conflict_matching;
}

void Queries::finish_conflict_vote(const Pending& pq) {
    std::size_t majority = pq.conflict_responses / 2 + 1;
    std::string tally =
        " [" + std::to_string(pq.conflict_matching) + " / " + std::to_string(pq.conflict_responses) + "]";
    if (pq.conflict_matching >= majority) {
        core_.log(Level::Info, "serf: majority in name conflict resolution" + tally);
    } else {
        core_.log(Level::Warn, "serf: minority in name conflict resolution, quiting" + tally);
        core_.shutdown();
    }
}

// ---- key management ------------------------------------------------------------------------------

base::Result<std::uint64_t> Queries::start_key_operation(KeyOp op, const std::string& key_base64,
                                                         std::uint8_t relay_factor) {
    base::Bytes key;
    if (!base::base64_decode(key_base64, key))
        return base::make_error("bad_key", "illegal base64 data in key");
    QueryParams params;
    params.relay_factor = relay_factor;
    auto payload = wire::encode_serf(wire::SerfKeyRequest{key});
    return start(std::string(kInternalQueryPrefix) + key_op_name(op), payload, params, Kind::Key, op);
}

void Queries::answer_key_query(const QueryEvent& q, KeyOp kop) {
    std::optional<base::Bytes> key;
    if (kop != KeyOp::List) {
        auto req = wire::decode_serf(q.payload);
        if (req && std::holds_alternative<wire::SerfKeyRequest>(*req))
            key = std::get<wire::SerfKeyRequest>(*req).key;
        else
            core_.log(Level::Error, "serf: Failed to decode key request");
    }
    core_.log(Level::Info, std::string("serf: Received ") + key_op_name(kop) + " query");
    NoKeyring none;
    KeyringPort& ring = core_.config.keyring ? *core_.config.keyring : static_cast<KeyringPort&>(none);
    wire::SerfKeyResponse resp = handle_key_query(kop, key, ring);
    if (!resp.result && !resp.message.empty())
        core_.log(Level::Error, "serf: " + resp.message);
    if (kop == KeyOp::List) {
        const std::size_t limit = core_.config.query_response_size_limit;
        auto fits = [&](const wire::SerfKeyResponse& r) {
            wire::SerfQueryResponse qr{q.ltime, q.id, core_.name(), 0, wire::encode_serf(r)};
            return wire::encode_serf(qr).size() <= limit;
        };
        auto fitted = fit_key_list(resp, limit, fits);
        if (!fitted) {
            core_.log(Level::Error, "serf: Failed to truncate response so that it fits into message");
            return;
        }
        if (!fitted->message.empty())
            core_.log(Level::Warn, "serf: " + fitted->message);
        resp = std::move(*fitted);
    }
    auto st = respond(q, wire::encode_serf(resp));
    if (!st)
        core_.log(Level::Error, "serf: Failed to respond to key query: " + st.error().message);
}

void Queries::collect_key_response(Pending& pq, const std::string& from, const base::Bytes& p) {
    if (!pq.keys)
        return;
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
    pq.keys->add(from, kr, err);
    if (pq.keys->complete())
        finish(pq);
}

} // namespace clusterd::serf::detail
