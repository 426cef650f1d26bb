// Codecs of the IPC v1 headers, bodies and records. Struct fields are written in the order the Go
// agent writes them (alphabetical); decoding accepts any order, ignores unknown fields and treats
// nil as the zero value, as go-msgpack does.
#include "clusterd/rpc/protocol.hpp"

#include <array>
#include <limits>

namespace clusterd::rpc {

namespace {

constexpr std::array<std::string_view, 21> kCommands = {
    cmd::kHandshake, cmd::kAuth,     cmd::kEvent,      cmd::kForceLeave, cmd::kJoin,
    cmd::kMembers,   cmd::kMembersFiltered, cmd::kTags, cmd::kStream,    cmd::kMonitor,
    cmd::kStop,      cmd::kLeave,    cmd::kQuery,      cmd::kRespond,    cmd::kInstallKey,
    cmd::kUseKey,    cmd::kRemoveKey, cmd::kListKeys,  cmd::kStats,      cmd::kGetCoordinate,
    cmd::kStoreList};

base::Status bad(std::string_view field, std::string_view want) {
    return base::make_error("malformed", "field " + std::string(field) + " is not " + std::string(want));
}

base::Status need_map(const mp::Value& v, std::string_view what) {
    if (v.is_map()) return base::ok_status();
    return base::make_error("malformed", std::string(what) + " is not a map");
}

// Field readers: absent or nil leaves `out` untouched.
base::Status get(const mp::Value& m, std::string_view f, std::string& out) {
    const mp::Value* v = m.find(f);
    if (v == nullptr || v->is_nil()) return base::ok_status();
    if (v->kind != mp::Value::Kind::Str && v->kind != mp::Value::Kind::Bin) return bad(f, "a string");
    out = v->s;
    return base::ok_status();
}
base::Status get(const mp::Value& m, std::string_view f, base::Bytes& out) {
    const mp::Value* v = m.find(f);
    if (v == nullptr || v->is_nil()) return base::ok_status();
    if (v->kind != mp::Value::Kind::Str && v->kind != mp::Value::Kind::Bin) return bad(f, "bytes");
    out.assign(v->s.begin(), v->s.end());
    return base::ok_status();
}
base::Status get(const mp::Value& m, std::string_view f, bool& out) {
    const mp::Value* v = m.find(f);
    if (v == nullptr || v->is_nil()) return base::ok_status();
    if (v->kind != mp::Value::Kind::Bool) return bad(f, "a bool");
    out = v->b;
    return base::ok_status();
}
base::Status get_u(const mp::Value& m, std::string_view f, std::uint64_t& out, std::uint64_t max) {
    const mp::Value* v = m.find(f);
    if (v == nullptr || v->is_nil()) return base::ok_status();
    std::uint64_t x = 0;
    if (!v->as_uint(x) || x > max) return bad(f, "an unsigned integer in range");
    out = x;
    return base::ok_status();
}
base::Status get_i(const mp::Value& m, std::string_view f, std::int64_t& out, std::int64_t min,
                   std::int64_t max) {
    const mp::Value* v = m.find(f);
    if (v == nullptr || v->is_nil()) return base::ok_status();
    std::int64_t x = 0;
    if (!v->as_int(x) || x < min || x > max) return bad(f, "an integer in range");
    out = x;
    return base::ok_status();
}
base::Status get(const mp::Value& m, std::string_view f, double& out) {
    const mp::Value* v = m.find(f);
    if (v == nullptr || v->is_nil()) return base::ok_status();
    std::int64_t x = 0;
    if (v->kind == mp::Value::Kind::Float) {
        out = v->f;
    } else if (v->as_int(x)) {
        out = static_cast<double>(x);
    } else {
        return bad(f, "a number");
    }
    return base::ok_status();
}
base::Status get(const mp::Value& m, std::string_view f, std::vector<std::string>& out) {
    const mp::Value* v = m.find(f);
    if (v == nullptr || v->is_nil()) return base::ok_status();
    if (v->kind != mp::Value::Kind::Array) return bad(f, "an array");
    out.clear();
    for (const auto& e : v->items) {
        if (e.kind != mp::Value::Kind::Str && e.kind != mp::Value::Kind::Bin) return bad(f, "an array of strings");
        out.push_back(e.s);
    }
    return base::ok_status();
}
base::Status get(const mp::Value& m, std::string_view f, std::map<std::string, std::string>& out) {
    const mp::Value* v = m.find(f);
    if (v == nullptr || v->is_nil()) return base::ok_status();
    if (!v->is_map()) return bad(f, "a map");
    out.clear();
    for (std::size_t k = 0; k + 1 < v->items.size(); k += 2) {
        const auto& key = v->items[k];
        const auto& val = v->items[k + 1];
        auto is_s = [](const mp::Value& x) {
            return x.kind == mp::Value::Kind::Str || x.kind == mp::Value::Kind::Bin || x.is_nil();
        };
        if (!is_s(key) || !is_s(val)) return bad(f, "a map of strings");
        out[key.s] = val.s;
    }
    return base::ok_status();
}

#define CLUSTERD_TRY(expr)             \
    do {                               \
        auto st_ = (expr);             \
        if (!st_.ok()) return st_;     \
    } while (false)

template <typename T>
base::Status get_small(const mp::Value& m, std::string_view f, T& out) {
    std::uint64_t x = out;
    CLUSTERD_TRY(get_u(m, f, x, static_cast<std::uint64_t>(std::numeric_limits<T>::max())));
    out = static_cast<T>(x);
    return base::ok_status();
}

}  // namespace

bool is_known_command(std::string_view command) {
    for (auto c : kCommands)
        if (c == command) return true;
    return false;
}

bool command_has_body(std::string_view c) {
    return is_known_command(c) && c != cmd::kMembers && c != cmd::kLeave && c != cmd::kListKeys &&
           c != cmd::kStats && c != cmd::kStoreList;
}

// ---------------------------------------------------------------- encoders

void encode(base::Bytes& out, const RequestHeader& v) {
    mp::Writer w(out);
    w.map(2);
    w.str("Command");
    w.str(v.command);
    w.str("Seq");
    w.uint(v.seq);
}

void encode(base::Bytes& out, const ResponseHeader& v) {
    mp::Writer w(out);
    w.map(2);
    w.str("Error");
    w.str(v.error);
    w.str("Seq");
    w.uint(v.seq);
}

void encode(base::Bytes& out, const HandshakeRequest& v) {
    mp::Writer w(out);
    w.map(1);
    w.str("Version");
    w.sint(v.version);
}

void encode(base::Bytes& out, const AuthRequest& v) {
    mp::Writer w(out);
    w.map(1);
    w.str("AuthKey");
    w.str(v.auth_key);
}

void encode(base::Bytes& out, const EventRequest& v) {
    mp::Writer w(out);
    w.map(3);
    w.str("Coalesce");
    w.boolean(v.coalesce);
    w.str("Name");
    w.str(v.name);
    w.str("Payload");
    w.bytes_or_nil(v.payload);
}

void encode(base::Bytes& out, const ForceLeaveRequest& v) {
    mp::Writer w(out);
    w.map(2);
    w.str("Node");
    w.str(v.node);
    w.str("Prune");
    w.boolean(v.prune);
}

void encode(base::Bytes& out, const JoinRequest& v) {
    mp::Writer w(out);
    w.map(2);
    w.str("Existing");
    w.array(v.existing.size());
    for (const auto& a : v.existing) w.str(a);
    w.str("Replay");
    w.boolean(v.replay);
}

void encode(base::Bytes& out, const MembersFilteredRequest& v) {
    mp::Writer w(out);
    w.map(3);
    w.str("Name");
    w.str(v.name);
    w.str("Status");
    w.str(v.status);
    w.str("Tags");
    w.string_map(v.tags);
}

void encode(base::Bytes& out, const TagsRequest& v) {
    mp::Writer w(out);
    w.map(2);
    w.str("DeleteTags");
    w.array(v.delete_tags.size());
    for (const auto& t : v.delete_tags) w.str(t);
    w.str("Tags");
    w.string_map(v.tags);
}

void encode(base::Bytes& out, const StreamRequest& v) {
    mp::Writer w(out);
    w.map(1);
    w.str("Type");
    w.str(v.type);
}

void encode(base::Bytes& out, const MonitorRequest& v) {
    mp::Writer w(out);
    w.map(1);
    w.str("LogLevel");
    w.str(v.log_level);
}

void encode(base::Bytes& out, const StopRequest& v) {
    mp::Writer w(out);
    w.map(1);
    w.str("Stop");
    w.uint(v.stop);
}

void encode(base::Bytes& out, const QueryRequest& v) {
    mp::Writer w(out);
    const auto& p = v.params;
    w.map(7);
    w.str("FilterNodes");
    w.array(p.filter_nodes.size());
    for (const auto& n : p.filter_nodes) w.str(n);
    w.str("FilterTags");
    w.string_map(p.filter_tags);
    w.str("Name");
    w.str(p.name);
    w.str("Payload");
    w.bytes_or_nil(p.payload);
    w.str("RelayFactor");
    w.uint(p.relay_factor);
    w.str("RequestAck");
    w.boolean(p.request_ack);
    w.str("Timeout");
    w.sint(p.timeout.count());
}

void encode(base::Bytes& out, const RespondRequest& v) {
    mp::Writer w(out);
    w.map(2);
    w.str("ID");
    w.uint(v.id);
    w.str("Payload");
    w.bytes_or_nil(v.payload);
}

void encode(base::Bytes& out, const KeyRequest& v) {
    mp::Writer w(out);
    w.map(1);
    w.str("Key");
    w.str(v.key);
}

void encode(base::Bytes& out, const CoordinateRequest& v) {
    mp::Writer w(out);
    w.map(1);
    w.str("Node");
    w.str(v.node);
}

void encode(base::Bytes& out, const JoinResponse& v) {
    mp::Writer w(out);
    w.map(1);
    w.str("Num");
    w.sint(v.num);
}

void encode(base::Bytes& out, const Member& m) {
    mp::Writer w(out);
    w.map(11);
    w.str("Addr");
    w.bytes_or_nil(m.addr);
    w.str("DelegateCur");
    w.uint(m.delegate_cur);
    w.str("DelegateMax");
    w.uint(m.delegate_max);
    w.str("DelegateMin");
    w.uint(m.delegate_min);
    w.str("Name");
    w.str(m.name);
    w.str("Port");
    w.uint(m.port);
    w.str("ProtocolCur");
    w.uint(m.protocol_cur);
    w.str("ProtocolMax");
    w.uint(m.protocol_max);
    w.str("ProtocolMin");
    w.uint(m.protocol_min);
    w.str("Status");
    w.str(m.status);
    w.str("Tags");
    w.string_map(m.tags);
}

void encode(base::Bytes& out, const MembersResponse& v) {
    mp::Writer w(out);
    w.map(1);
    w.str("Members");
    w.array(v.members.size());
    for (const auto& m : v.members) encode(out, m);
}

void encode(base::Bytes& out, const KeyResponse& v, bool with_keys) {
    mp::Writer w(out);
    w.map(5);
    w.str("Keys");
    if (with_keys) {
        w.map(v.keys.size());
        for (const auto& [k, n] : v.keys) {
            w.str(k);
            w.sint(n);
        }
    } else {
        w.nil();
    }
    w.str("Messages");
    w.string_map(v.messages);
    w.str("NumErr");
    w.sint(v.num_err);
    w.str("NumNodes");
    w.sint(v.num_nodes);
    w.str("NumResp");
    w.sint(v.num_resp);
}

void encode(base::Bytes& out, const CoordinateResponse& v) {
    mp::Writer w(out);
    w.map(2);
    w.str("Coord");
    w.map(4);
    w.str("Adjustment");
    w.f64(v.coord.adjustment);
    w.str("Error");
    w.f64(v.coord.error);
    w.str("Height");
    w.f64(v.coord.height);
    w.str("Vec");
    if (v.coord.vec.empty()) {
        w.nil();
    } else {
        w.array(v.coord.vec.size());
        for (double d : v.coord.vec) w.f64(d);
    }
    w.str("Ok");
    w.boolean(v.ok);
}

void encode(base::Bytes& out, const StatsResponse& v) {
    mp::Writer w(out);
    w.map(v.size());
    for (const auto& [section, kv] : v) {
        w.str(section);
        w.string_map(kv);
    }
}

void encode(base::Bytes& out, const StoreListResponse& v) {
    mp::Writer w(out);
    w.map(4);
    w.str("Now");
    w.sint(v.now_ms);
    w.str("Rows");
    w.array(v.rows.size());
    for (const auto& r : v.rows) {
        w.map(6);
        w.str("Addr");
        w.str(r.addr);
        w.str("Created");
        w.sint(r.created_ms);
        w.str("Expires");
        w.sint(r.expires_ms);
        w.str("LastSeen");
        w.sint(r.last_seen_ms);
        w.str("Name");
        w.str(r.name);
        w.str("Problem");
        w.str(r.problem);
    }
    w.str("State");
    w.str(v.state);
    w.str("Store");
    w.str(v.store);
}

void encode(base::Bytes& out, const LogRecord& v) {
    mp::Writer w(out);
    w.map(1);
    w.str("Log");
    w.str(v.log);
}

void encode(base::Bytes& out, const QueryRecord& v) {
    mp::Writer w(out);
    w.map(3);
    w.str("From");
    w.str(v.from);
    w.str("Payload");
    w.bytes_or_nil(v.payload);
    w.str("Type");
    w.str(v.type);
}

void encode(base::Bytes& out, const MemberEvent& v) {
    mp::Writer w(out);
    w.map(2);
    w.str("Event");
    w.str(v.type);
    w.str("Members");
    w.array(v.members.size());
    for (const auto& m : v.members) encode(out, m);
}

void encode(base::Bytes& out, const UserEventRecord& v) {
    mp::Writer w(out);
    w.map(5);
    w.str("Coalesce");
    w.boolean(v.coalesce);
    w.str("Event");
    w.str("user");
    w.str("LTime");
    w.uint(v.ltime);
    w.str("Name");
    w.str(v.name);
    w.str("Payload");
    w.bytes_or_nil(v.payload);
}

void encode(base::Bytes& out, const QueryEventRecord& v) {
    mp::Writer w(out);
    w.map(5);
    w.str("Event");
    w.str("query");
    w.str("ID");
    w.uint(v.id);
    w.str("LTime");
    w.uint(v.ltime);
    w.str("Name");
    w.str(v.name);
    w.str("Payload");
    w.bytes_or_nil(v.payload);
}

// ---------------------------------------------------------------- decoders

base::Status decode(const mp::Value& v, RequestHeader& out) {
    CLUSTERD_TRY(need_map(v, "request header"));
    CLUSTERD_TRY(get(v, "Command", out.command));
    return get_u(v, "Seq", out.seq, UINT64_MAX);
}

base::Status decode(const mp::Value& v, ResponseHeader& out) {
    CLUSTERD_TRY(need_map(v, "response header"));
    CLUSTERD_TRY(get(v, "Error", out.error));
    return get_u(v, "Seq", out.seq, UINT64_MAX);
}

base::Status decode(const mp::Value& v, HandshakeRequest& out) {
    CLUSTERD_TRY(need_map(v, "handshake request"));
    std::int64_t x = 0;
    CLUSTERD_TRY(get_i(v, "Version", x, INT32_MIN, INT32_MAX));
    out.version = static_cast<std::int32_t>(x);
    return base::ok_status();
}

base::Status decode(const mp::Value& v, AuthRequest& out) {
    CLUSTERD_TRY(need_map(v, "auth request"));
    return get(v, "AuthKey", out.auth_key);
}

base::Status decode(const mp::Value& v, EventRequest& out) {
    CLUSTERD_TRY(need_map(v, "event request"));
    CLUSTERD_TRY(get(v, "Name", out.name));
    CLUSTERD_TRY(get(v, "Payload", out.payload));
    return get(v, "Coalesce", out.coalesce);
}

base::Status decode(const mp::Value& v, ForceLeaveRequest& out) {
    CLUSTERD_TRY(need_map(v, "force-leave request"));
    CLUSTERD_TRY(get(v, "Node", out.node));
    return get(v, "Prune", out.prune);
}

base::Status decode(const mp::Value& v, JoinRequest& out) {
    CLUSTERD_TRY(need_map(v, "join request"));
    CLUSTERD_TRY(get(v, "Existing", out.existing));
    return get(v, "Replay", out.replay);
}

base::Status decode(const mp::Value& v, MembersFilteredRequest& out) {
    CLUSTERD_TRY(need_map(v, "members-filtered request"));
    CLUSTERD_TRY(get(v, "Tags", out.tags));
    CLUSTERD_TRY(get(v, "Status", out.status));
    return get(v, "Name", out.name);
}

base::Status decode(const mp::Value& v, TagsRequest& out) {
    CLUSTERD_TRY(need_map(v, "tags request"));
    CLUSTERD_TRY(get(v, "Tags", out.tags));
    return get(v, "DeleteTags", out.delete_tags);
}

base::Status decode(const mp::Value& v, StreamRequest& out) {
    CLUSTERD_TRY(need_map(v, "stream request"));
    return get(v, "Type", out.type);
}

base::Status decode(const mp::Value& v, MonitorRequest& out) {
    CLUSTERD_TRY(need_map(v, "monitor request"));
    return get(v, "LogLevel", out.log_level);
}

base::Status decode(const mp::Value& v, StopRequest& out) {
    CLUSTERD_TRY(need_map(v, "stop request"));
    return get_u(v, "Stop", out.stop, UINT64_MAX);
}

base::Status decode(const mp::Value& v, QueryRequest& out) {
    CLUSTERD_TRY(need_map(v, "query request"));
    auto& p = out.params;
    CLUSTERD_TRY(get(v, "FilterNodes", p.filter_nodes));
    CLUSTERD_TRY(get(v, "FilterTags", p.filter_tags));
    CLUSTERD_TRY(get(v, "RequestAck", p.request_ack));
    CLUSTERD_TRY(get_small(v, "RelayFactor", p.relay_factor));
    std::int64_t ns = 0;
    CLUSTERD_TRY(get_i(v, "Timeout", ns, INT64_MIN, INT64_MAX));
    p.timeout = base::Duration(ns);
    CLUSTERD_TRY(get(v, "Name", p.name));
    return get(v, "Payload", p.payload);
}

base::Status decode(const mp::Value& v, RespondRequest& out) {
    CLUSTERD_TRY(need_map(v, "respond request"));
    CLUSTERD_TRY(get_u(v, "ID", out.id, UINT64_MAX));
    return get(v, "Payload", out.payload);
}

base::Status decode(const mp::Value& v, KeyRequest& out) {
    CLUSTERD_TRY(need_map(v, "key request"));
    return get(v, "Key", out.key);
}

base::Status decode(const mp::Value& v, CoordinateRequest& out) {
    CLUSTERD_TRY(need_map(v, "coordinate request"));
    return get(v, "Node", out.node);
}

base::Status decode(const mp::Value& v, JoinResponse& out) {
    CLUSTERD_TRY(need_map(v, "join response"));
    std::int64_t x = 0;
    CLUSTERD_TRY(get_i(v, "Num", x, INT32_MIN, INT32_MAX));
    out.num = static_cast<std::int32_t>(x);
    return base::ok_status();
}

base::Status decode(const mp::Value& v, Member& out) {
    CLUSTERD_TRY(need_map(v, "member"));
    CLUSTERD_TRY(get(v, "Name", out.name));
    CLUSTERD_TRY(get(v, "Addr", out.addr));
    CLUSTERD_TRY(get_small(v, "Port", out.port));
    CLUSTERD_TRY(get(v, "Tags", out.tags));
    CLUSTERD_TRY(get(v, "Status", out.status));
    CLUSTERD_TRY(get_small(v, "ProtocolMin", out.protocol_min));
    CLUSTERD_TRY(get_small(v, "ProtocolMax", out.protocol_max));
    CLUSTERD_TRY(get_small(v, "ProtocolCur", out.protocol_cur));
    CLUSTERD_TRY(get_small(v, "DelegateMin", out.delegate_min));
    CLUSTERD_TRY(get_small(v, "DelegateMax", out.delegate_max));
    return get_small(v, "DelegateCur", out.delegate_cur);
}

base::Status decode(const mp::Value& v, MembersResponse& out) {
    CLUSTERD_TRY(need_map(v, "members response"));
    out.members.clear();
    const mp::Value* arr = v.find("Members");
    if (arr == nullptr || arr->is_nil()) return base::ok_status();
    if (arr->kind != mp::Value::Kind::Array) return bad("Members", "an array");
    for (const auto& e : arr->items) {
        Member m;
        CLUSTERD_TRY(decode(e, m));
        out.members.push_back(std::move(m));
    }
    return base::ok_status();
}

base::Status decode(const mp::Value& v, KeyResponse& out) {
    CLUSTERD_TRY(need_map(v, "key response"));
    CLUSTERD_TRY(get(v, "Messages", out.messages));
    out.keys.clear();
    if (const mp::Value* keys = v.find("Keys"); keys != nullptr && !keys->is_nil()) {
        if (!keys->is_map()) return bad("Keys", "a map");
        for (std::size_t k = 0; k + 1 < keys->items.size(); k += 2) {
            std::int64_t n = 0;
            if (!keys->items[k + 1].as_int(n)) return bad("Keys", "a map of counts");
            out.keys[keys->items[k].s] = static_cast<int>(n);
        }
    }
    std::int64_t x = 0;
    CLUSTERD_TRY(get_i(v, "NumNodes", x, INT32_MIN, INT32_MAX));
    out.num_nodes = static_cast<int>(x);
    x = 0;
    CLUSTERD_TRY(get_i(v, "NumErr", x, INT32_MIN, INT32_MAX));
    out.num_err = static_cast<int>(x);
    x = 0;
    CLUSTERD_TRY(get_i(v, "NumResp", x, INT32_MIN, INT32_MAX));
    out.num_resp = static_cast<int>(x);
    return base::ok_status();
}

base::Status decode(const mp::Value& v, CoordinateResponse& out) {
    CLUSTERD_TRY(need_map(v, "coordinate response"));
    CLUSTERD_TRY(get(v, "Ok", out.ok));
    const mp::Value* c = v.find("Coord");
    if (c == nullptr || c->is_nil()) return base::ok_status();
    CLUSTERD_TRY(need_map(*c, "Coord"));
    CLUSTERD_TRY(get(*c, "Error", out.coord.error));
    CLUSTERD_TRY(get(*c, "Adjustment", out.coord.adjustment));
    CLUSTERD_TRY(get(*c, "Height", out.coord.height));
    out.coord.vec.clear();
    if (const mp::Value* vec = c->find("Vec"); vec != nullptr && !vec->is_nil()) {
        if (vec->kind != mp::Value::Kind::Array) return bad("Vec", "an array");
        for (const auto& d : vec->items) {
            if (d.kind != mp::Value::Kind::Float) return bad("Vec", "an array of floats");
            out.coord.vec.push_back(d.f);
        }
    }
    return base::ok_status();
}

base::Status decode(const mp::Value& v, StatsResponse& out) {
    CLUSTERD_TRY(need_map(v, "stats response"));
    out.clear();
    for (std::size_t k = 0; k + 1 < v.items.size(); k += 2) {
        mp::Value wrap;
        wrap.kind = mp::Value::Kind::Map;
        wrap.items = {v.items[k], v.items[k + 1]};
        std::map<std::string, std::string> section;
        CLUSTERD_TRY(get(wrap, v.items[k].s, section));
        out[v.items[k].s] = std::move(section);
    }
    return base::ok_status();
}

base::Status decode(const mp::Value& v, StoreListResponse& out) {
    constexpr auto lo = std::numeric_limits<std::int64_t>::min();
    constexpr auto hi = std::numeric_limits<std::int64_t>::max();
    CLUSTERD_TRY(need_map(v, "store-list response"));
    CLUSTERD_TRY(get(v, "Store", out.store));
    CLUSTERD_TRY(get(v, "State", out.state));
    CLUSTERD_TRY(get_i(v, "Now", out.now_ms, lo, hi));
    out.rows.clear();
    const mp::Value* arr = v.find("Rows");
    if (arr == nullptr || arr->is_nil()) return base::ok_status();
    if (arr->kind != mp::Value::Kind::Array) return bad("Rows", "an array");
    for (const auto& e : arr->items) {
        CLUSTERD_TRY(need_map(e, "store row"));
        StoreRow r;
        CLUSTERD_TRY(get(e, "Name", r.name));
        CLUSTERD_TRY(get(e, "Addr", r.addr));
        CLUSTERD_TRY(get_i(e, "Created", r.created_ms, lo, hi));
        CLUSTERD_TRY(get_i(e, "LastSeen", r.last_seen_ms, lo, hi));
        CLUSTERD_TRY(get_i(e, "Expires", r.expires_ms, lo, hi));
        CLUSTERD_TRY(get(e, "Problem", r.problem));
        out.rows.push_back(std::move(r));
    }
    return base::ok_status();
}

base::Status decode(const mp::Value& v, LogRecord& out) {
    CLUSTERD_TRY(need_map(v, "log record"));
    return get(v, "Log", out.log);
}

base::Status decode(const mp::Value& v, QueryRecord& out) {
    CLUSTERD_TRY(need_map(v, "query record"));
    CLUSTERD_TRY(get(v, "Type", out.type));
    CLUSTERD_TRY(get(v, "From", out.from));
    return get(v, "Payload", out.payload);
}

}  // namespace clusterd::rpc
