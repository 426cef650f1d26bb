// Serf message codecs (serf/messages.go structs, serf.go userEvent(s)/Member/encodeTags,
// internal_query.go nodeKeyResponse, keymanager.go keyRequest) and size-limit checks.
#include "clusterd/wire/serf_messages.hpp"

#include <type_traits>

#include "gomsgpack.hpp"

namespace clusterd::wire {

namespace {

using base::Bytes;
using base::ByteView;
using base::make_error;
using base::Result;

#define WIRE_READ(expr, target)               \
    do {                                      \
        auto wire_r_ = (expr);                \
        if (!wire_r_) return wire_r_.error(); \
        target = std::move(*wire_r_);         \
    } while (0)

constexpr std::uint64_t kU32 = 0xffffffffULL;
constexpr std::uint64_t kU16 = 0xffff;
constexpr std::uint64_t kU8 = 0xff;

// ---------------- writers ----------------

void write_string_list(mp::Writer& w, const std::vector<std::string>& v, bool nil_when_empty) {
    if (v.empty() && nil_when_empty) {
        w.nil();
        return;
    }
    w.array_header(v.size());
    for (const auto& s : v) w.str(s);
}

void write_body(mp::Writer& w, const SerfLeave& m) {
    w.map_header(3);
    w.key("LTime"); w.uint(m.ltime);
    w.key("Node"); w.str(m.node);
    w.key("Prune"); w.boolean(m.prune);
}

void write_body(mp::Writer& w, const SerfJoin& m) {
    w.map_header(2);
    w.key("LTime"); w.uint(m.ltime);
    w.key("Node"); w.str(m.node);
}

void write_body(mp::Writer& w, const SerfUserEvent& m) {
    w.map_header(4);
    w.key("CC"); w.boolean(m.cc);
    w.key("LTime"); w.uint(m.ltime);
    w.key("Name"); w.str(m.name);
    w.key("Payload"); w.bytes(m.payload);
}

void write_user_events(mp::Writer& w, const SerfUserEvents& e) {
    w.map_header(2);
    w.key("Events");
    if (e.events.empty()) {
        w.nil();
    } else {
        w.array_header(e.events.size());
        for (const auto& ev : e.events) {
            w.map_header(2);
            w.key("Name"); w.str(ev.name);
            w.key("Payload"); w.bytes(ev.payload);
        }
    }
    w.key("LTime"); w.uint(e.ltime);
}

void write_body(mp::Writer& w, const SerfPushPull& m) {
    w.map_header(6);
    w.key("EventLTime"); w.uint(m.event_ltime);
    w.key("Events");
    w.array_header(m.events.size());
    for (const auto& e : m.events) {
        if (e) write_user_events(w, *e);
        else w.nil();
    }
    w.key("LTime"); w.uint(m.ltime);
    w.key("LeftMembers"); write_string_list(w, m.left_members, false);
    w.key("QueryLTime"); w.uint(m.query_ltime);
    w.key("StatusLTimes");
    w.map_header(m.status_ltimes.size());
    for (const auto& [k, v] : m.status_ltimes) {
        w.str(k);
        w.uint(v);
    }
}

void write_body(mp::Writer& w, const SerfQuery& m) {
    w.map_header(11);
    w.key("Addr"); w.bytes(m.addr);
    w.key("Filters");
    if (m.filters.empty()) {
        w.nil();
    } else {
        w.array_header(m.filters.size());
        for (const auto& f : m.filters) w.bytes_nonnil(f);
    }
    w.key("Flags"); w.uint(m.flags);
    w.key("ID"); w.uint(m.id);
    w.key("LTime"); w.uint(m.ltime);
    w.key("Name"); w.str(m.name);
    w.key("Payload"); w.bytes(m.payload);
    w.key("Port"); w.uint(m.port);
    w.key("RelayFactor"); w.uint(m.relay_factor);
    w.key("SourceNode"); w.str(m.source_node);
    w.key("Timeout"); w.sint(m.timeout.count());
}

void write_body(mp::Writer& w, const SerfQueryResponse& m) {
    w.map_header(5);
    w.key("Flags"); w.uint(m.flags);
    w.key("From"); w.str(m.from);
    w.key("ID"); w.uint(m.id);
    w.key("LTime"); w.uint(m.ltime);
    w.key("Payload"); w.bytes(m.payload);
}

void write_tags_map(mp::Writer& w, const std::map<std::string, std::string>& tags) {
    w.map_header(tags.size());
    for (const auto& [k, v] : tags) {
        w.str(k);
        w.str(v);
    }
}

void write_body(mp::Writer& w, const SerfConflictResponse& m) {
    w.map_header(11);
    w.key("Addr"); w.bytes(m.addr);
    w.key("DelegateCur"); w.uint(m.delegate_cur);
    w.key("DelegateMax"); w.uint(m.delegate_max);
    w.key("DelegateMin"); w.uint(m.delegate_min);
    w.key("Name"); w.str(m.name);
    w.key("Port"); w.uint(m.port);
    w.key("ProtocolCur"); w.uint(m.protocol_cur);
    w.key("ProtocolMax"); w.uint(m.protocol_max);
    w.key("ProtocolMin"); w.uint(m.protocol_min);
    w.key("Status"); w.sint(m.status);
    w.key("Tags"); write_tags_map(w, m.tags);
}

void write_body(mp::Writer& w, const SerfKeyRequest& m) {
    w.map_header(1);
    w.key("Key"); w.bytes_nonnil(m.key);  // Serf decodes base64 first: never nil
}

void write_body(mp::Writer& w, const SerfKeyResponse& m) {
    w.map_header(4);
    w.key("Keys"); write_string_list(w, m.keys, true);
    w.key("Message"); w.str(m.message);
    w.key("PrimaryKey"); w.str(m.primary_key);
    w.key("Result"); w.boolean(m.result);
}

void write_body(mp::Writer& w, const SerfRelay& m) {
    w.map_header(2);
    w.key("DestAddr");
    w.map_header(3);
    w.key("IP"); w.bytes(m.dest_ip);
    w.key("Port"); w.sint(m.dest_port);
    w.key("Zone"); w.str(m.dest_zone);
    w.key("DestName"); w.str(m.dest_name);
    w.raw(m.inner);
}

// ---------------- readers ----------------

Result<std::vector<std::string>> read_string_list(mp::Reader& r) {
    auto n = r.array_header();
    if (!n) return n.error();
    std::vector<std::string> out;
    out.reserve(*n);
    for (std::size_t i = 0; i < *n; ++i) {
        auto s = r.str();
        if (!s) return s.error();
        out.push_back(std::move(*s));
    }
    return out;
}

Result<std::map<std::string, std::string>> read_string_map(mp::Reader& r) {
    auto n = r.map_header();
    if (!n) return n.error();
    std::map<std::string, std::string> out;
    for (std::size_t i = 0; i < *n; ++i) {
        auto k = r.str();
        if (!k) return k.error();
        auto v = r.str();
        if (!v) return v.error();
        out[std::move(*k)] = std::move(*v);
    }
    return out;
}

Result<SerfLeave> read_leave(mp::Reader& r) {
    SerfLeave m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "LTime") WIRE_READ(in.uint(), m.ltime);
        else if (k == "Node") WIRE_READ(in.str(), m.node);
        else if (k == "Prune") WIRE_READ(in.boolean(), m.prune);
        else return false;
        return true;
    });
    if (!st) return st.error();
    return m;
}

Result<SerfJoin> read_join(mp::Reader& r) {
    SerfJoin m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "LTime") WIRE_READ(in.uint(), m.ltime);
        else if (k == "Node") WIRE_READ(in.str(), m.node);
        else return false;
        return true;
    });
    if (!st) return st.error();
    return m;
}

Result<SerfUserEvent> read_user_event(mp::Reader& r) {
    SerfUserEvent m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "LTime") WIRE_READ(in.uint(), m.ltime);
        else if (k == "Name") WIRE_READ(in.str(), m.name);
        else if (k == "Payload") WIRE_READ(in.bytes(), m.payload);
        else if (k == "CC") WIRE_READ(in.boolean(), m.cc);
        else return false;
        return true;
    });
    if (!st) return st.error();
    return m;
}

Result<SerfEventEntry> read_event_entry(mp::Reader& r) {
    SerfEventEntry m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "Name") WIRE_READ(in.str(), m.name);
        else if (k == "Payload") WIRE_READ(in.bytes(), m.payload);
        else return false;
        return true;
    });
    if (!st) return st.error();
    return m;
}

Result<SerfUserEvents> read_user_events(mp::Reader& r) {
    SerfUserEvents m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "LTime") {
            WIRE_READ(in.uint(), m.ltime);
        } else if (k == "Events") {
            auto n = in.array_header();
            if (!n) return n.error();
            m.events.reserve(*n);
            for (std::size_t i = 0; i < *n; ++i) {
                auto e = read_event_entry(in);
                if (!e) return e.error();
                m.events.push_back(std::move(*e));
            }
        } else {
            return false;
        }
        return true;
    });
    if (!st) return st.error();
    return m;
}

Result<SerfPushPull> read_push_pull(mp::Reader& r) {
    SerfPushPull m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "LTime") {
            WIRE_READ(in.uint(), m.ltime);
        } else if (k == "StatusLTimes") {
            auto n = in.map_header();
            if (!n) return n.error();
            for (std::size_t i = 0; i < *n; ++i) {
                auto name = in.str();
                if (!name) return name.error();
                auto t = in.uint();
                if (!t) return t.error();
                m.status_ltimes[std::move(*name)] = *t;
            }
        } else if (k == "LeftMembers") {
            WIRE_READ(read_string_list(in), m.left_members);
        } else if (k == "EventLTime") {
            WIRE_READ(in.uint(), m.event_ltime);
        } else if (k == "Events") {
            auto n = in.array_header();
            if (!n) return n.error();
            m.events.reserve(*n);
            for (std::size_t i = 0; i < *n; ++i) {
                auto nil = in.try_nil();
                if (!nil) return nil.error();
                if (*nil) {
                    m.events.emplace_back(std::nullopt);
                    continue;
                }
                auto e = read_user_events(in);
                if (!e) return e.error();
                m.events.emplace_back(std::move(*e));
            }
        } else if (k == "QueryLTime") {
            WIRE_READ(in.uint(), m.query_ltime);
        } else {
            return false;
        }
        return true;
    });
    if (!st) return st.error();
    return m;
}

Result<SerfQuery> read_query(mp::Reader& r) {
    SerfQuery m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "LTime") WIRE_READ(in.uint(), m.ltime);
        else if (k == "ID") WIRE_READ(in.uint(kU32), m.id);
        else if (k == "Addr") WIRE_READ(in.bytes(), m.addr);
        else if (k == "Port") WIRE_READ(in.uint(kU16), m.port);
        else if (k == "SourceNode") WIRE_READ(in.str(), m.source_node);
        else if (k == "Filters") {
            auto n = in.array_header();
            if (!n) return n.error();
            m.filters.reserve(*n);
            for (std::size_t i = 0; i < *n; ++i) {
                auto f = in.bytes();
                if (!f) return f.error();
                m.filters.push_back(std::move(*f));
            }
        } else if (k == "Flags") WIRE_READ(in.uint(kU32), m.flags);
        else if (k == "RelayFactor") WIRE_READ(in.uint(kU8), m.relay_factor);
        else if (k == "Timeout") {
            auto v = in.sint();
            if (!v) return v.error();
            m.timeout = base::Duration{*v};
        } else if (k == "Name") WIRE_READ(in.str(), m.name);
        else if (k == "Payload") WIRE_READ(in.bytes(), m.payload);
        else return false;
        return true;
    });
    if (!st) return st.error();
    return m;
}

Result<SerfQueryResponse> read_query_response(mp::Reader& r) {
    SerfQueryResponse m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "LTime") WIRE_READ(in.uint(), m.ltime);
        else if (k == "ID") WIRE_READ(in.uint(kU32), m.id);
        else if (k == "From") WIRE_READ(in.str(), m.from);
        else if (k == "Flags") WIRE_READ(in.uint(kU32), m.flags);
        else if (k == "Payload") WIRE_READ(in.bytes(), m.payload);
        else return false;
        return true;
    });
    if (!st) return st.error();
    return m;
}

Result<SerfConflictResponse> read_conflict(mp::Reader& r) {
    SerfConflictResponse m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "Name") WIRE_READ(in.str(), m.name);
        else if (k == "Addr") WIRE_READ(in.bytes(), m.addr);
        else if (k == "Port") WIRE_READ(in.uint(kU16), m.port);
        else if (k == "Tags") WIRE_READ(read_string_map(in), m.tags);
        else if (k == "Status") WIRE_READ(in.sint(), m.status);
        else if (k == "ProtocolMin") WIRE_READ(in.uint(kU8), m.protocol_min);
        else if (k == "ProtocolMax") WIRE_READ(in.uint(kU8), m.protocol_max);
        else if (k == "ProtocolCur") WIRE_READ(in.uint(kU8), m.protocol_cur);
        else if (k == "DelegateMin") WIRE_READ(in.uint(kU8), m.delegate_min);
        else if (k == "DelegateMax") WIRE_READ(in.uint(kU8), m.delegate_max);
        else if (k == "DelegateCur") WIRE_READ(in.uint(kU8), m.delegate_cur);
        else return false;
        return true;
    });
    if (!st) return st.error();
    return m;
}

Result<SerfKeyRequest> read_key_request(mp::Reader& r) {
    SerfKeyRequest m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "Key") WIRE_READ(in.bytes(), m.key);
        else return false;
        return true;
    });
    if (!st) return st.error();
    return m;
}

Result<SerfKeyResponse> read_key_response(mp::Reader& r) {
    SerfKeyResponse m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "Result") WIRE_READ(in.boolean(), m.result);
        else if (k == "Message") WIRE_READ(in.str(), m.message);
        else if (k == "Keys") WIRE_READ(read_string_list(in), m.keys);
        else if (k == "PrimaryKey") WIRE_READ(in.str(), m.primary_key);
        else return false;
        return true;
    });
    if (!st) return st.error();
    return m;
}

Result<SerfRelay> read_relay(mp::Reader& r) {
    SerfRelay m;
    auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
        if (k == "DestAddr") {
            auto s2 = mp::read_struct(in, [&](const std::string& k2, mp::Reader& in2) -> Result<bool> {
                if (k2 == "IP") WIRE_READ(in2.bytes(), m.dest_ip);
                else if (k2 == "Port") WIRE_READ(in2.sint(), m.dest_port);
                else if (k2 == "Zone") WIRE_READ(in2.str(), m.dest_zone);
                else return false;
                return true;
            });
            if (!s2) return s2.error();
        } else if (k == "DestName") {
            WIRE_READ(in.str(), m.dest_name);
        } else {
            return false;
        }
        return true;
    });
    if (!st) return st.error();
    auto rest = r.rest();
    if (rest.empty()) return make_error("truncated", "relay message without an inner message");
    m.inner.assign(rest.begin(), rest.end());
    return m;
}

template <typename T>
Result<SerfMessage> wrap(Result<T> r, const char* what) {
    if (!r) return r.error().with_prefix(what);
    return SerfMessage{std::move(*r)};
}

}  // namespace

SerfMsgType serf_message_type(const SerfMessage& m) {
    return std::visit(
        [](const auto& v) -> SerfMsgType {
            using T = std::decay_t<decltype(v)>;
            if constexpr (std::is_same_v<T, SerfLeave>) return SerfMsgType::Leave;
            else if constexpr (std::is_same_v<T, SerfJoin>) return SerfMsgType::Join;
            else if constexpr (std::is_same_v<T, SerfPushPull>) return SerfMsgType::PushPull;
            else if constexpr (std::is_same_v<T, SerfUserEvent>) return SerfMsgType::UserEvent;
            else if constexpr (std::is_same_v<T, SerfQuery>) return SerfMsgType::Query;
            else if constexpr (std::is_same_v<T, SerfQueryResponse>) return SerfMsgType::QueryResponse;
            else if constexpr (std::is_same_v<T, SerfConflictResponse>) return SerfMsgType::ConflictResponse;
            else if constexpr (std::is_same_v<T, SerfKeyRequest>) return SerfMsgType::KeyRequest;
            else if constexpr (std::is_same_v<T, SerfKeyResponse>) return SerfMsgType::KeyResponse;
            else if constexpr (std::is_same_v<T, SerfRelay>) return SerfMsgType::Relay;
            else static_assert(sizeof(T) == 0, "unhandled serf message");
        },
        m);
}

Bytes encode_serf(const SerfMessage& m) {
    Bytes out;
    out.push_back(static_cast<std::uint8_t>(serf_message_type(m)));
    mp::Writer w(out);
    std::visit([&](const auto& v) { write_body(w, v); }, m);
    return out;
}

Result<SerfMessage> decode_serf(ByteView buf) {
    if (buf.empty()) return make_error("truncated", "empty serf message");
    mp::Reader r(buf.subspan(1));
    switch (static_cast<SerfMsgType>(buf[0])) {
        case SerfMsgType::Leave: return wrap(read_leave(r), "serf leave");
        case SerfMsgType::Join: return wrap(read_join(r), "serf join");
        case SerfMsgType::PushPull: return wrap(read_push_pull(r), "serf push-pull");
        case SerfMsgType::UserEvent: return wrap(read_user_event(r), "serf user event");
        case SerfMsgType::Query: return wrap(read_query(r), "serf query");
        case SerfMsgType::QueryResponse: return wrap(read_query_response(r), "serf query response");
        case SerfMsgType::ConflictResponse: return wrap(read_conflict(r), "serf conflict response");
        case SerfMsgType::KeyRequest: return wrap(read_key_request(r), "serf key request");
        case SerfMsgType::KeyResponse: return wrap(read_key_response(r), "serf key response");
        case SerfMsgType::Relay: return wrap(read_relay(r), "serf relay");
    }
    return make_error("unknown_type", "unknown serf message type " + std::to_string(buf[0]));
}

// ---------------- filters ----------------

Bytes encode_filter(const QueryFilter& f) {
    Bytes out;
    mp::Writer w(out);
    if (const auto* n = std::get_if<FilterNodes>(&f)) {
        out.push_back(0);
        write_string_list(w, n->nodes, true);
    } else {
        const auto& t = std::get<FilterTag>(f);
        out.push_back(1);
        w.map_header(2);
        w.key("Expr"); w.str(t.expr);
        w.key("Tag"); w.str(t.tag);
    }
    return out;
}

Result<QueryFilter> decode_filter(ByteView buf) {
    if (buf.empty()) return make_error("truncated", "empty query filter");
    mp::Reader r(buf.subspan(1));
    if (buf[0] == 0) {
        auto nodes = read_string_list(r);
        if (!nodes) return nodes.error().with_prefix("node filter");
        return QueryFilter{FilterNodes{std::move(*nodes)}};
    }
    if (buf[0] == 1) {
        FilterTag t;
        auto st = mp::read_struct(r, [&](const std::string& k, mp::Reader& in) -> Result<bool> {
            if (k == "Tag") WIRE_READ(in.str(), t.tag);
            else if (k == "Expr") WIRE_READ(in.str(), t.expr);
            else return false;
            return true;
        });
        if (!st) return st.error().with_prefix("tag filter");
        return QueryFilter{std::move(t)};
    }
    return make_error("unknown_type", "unknown query filter type " + std::to_string(buf[0]));
}

// ---------------- tags ----------------

Bytes encode_tags(const std::map<std::string, std::string>& tags) {
    Bytes out{kTagMagicByte};
    mp::Writer w(out);
    write_tags_map(w, tags);
    return out;
}

Bytes encode_tags_legacy(const std::map<std::string, std::string>& tags) {
    auto it = tags.find("role");
    return it == tags.end() ? Bytes{} : base::to_bytes(it->second);
}

Result<std::map<std::string, std::string>> decode_tags(ByteView meta) {
    if (meta.empty() || meta[0] != kTagMagicByte) {
        return std::map<std::string, std::string>{{"role", base::to_string(meta)}};
    }
    mp::Reader r(meta.subspan(1));
    auto m = read_string_map(r);
    if (!m) return m.error().with_prefix("tags");
    return m;
}

// ---------------- limits ----------------

base::Status check_user_event_size(const std::string& name, ByteView payload, std::size_t configured_limit) {
    std::size_t n = name.size() + payload.size();
    if (n > configured_limit)
        return make_error("too_large", "user event exceeds configured limit of " + std::to_string(configured_limit) +
                                           " bytes before encoding");
    if (n > kUserEventSizeLimitMax)
        return make_error("too_large", "user event exceeds sane limit of " + std::to_string(kUserEventSizeLimitMax) +
                                           " bytes before encoding");
    return base::ok_status();
}

base::Status check_encoded_user_event_size(std::size_t encoded_len, std::size_t configured_limit) {
    if (encoded_len > configured_limit)
        return make_error("too_large", "encoded user event exceeds configured limit of " +
                                           std::to_string(configured_limit) + " bytes after encoding");
    if (encoded_len > kUserEventSizeLimitMax)
        return make_error("too_large", "encoded user event exceeds sane limit of " +
                                           std::to_string(kUserEventSizeLimitMax) + " bytes before encoding");
    return base::ok_status();
}

base::Status check_query_size(std::size_t encoded_len, std::size_t limit) {
    if (encoded_len > limit)
        return make_error("too_large", "query exceeds limit of " + std::to_string(limit) + " bytes");
    return base::ok_status();
}

base::Status check_query_response_size(std::size_t encoded_len, std::size_t limit) {
    if (encoded_len > limit)
        return make_error("too_large", "response exceeds limit of " + std::to_string(limit) + " bytes");
    return base::ok_status();
}

base::Status check_tags_size(std::size_t encoded_len) {
    if (encoded_len > kMetaMaxSize)
        return make_error("too_large", "Encoded length of tags exceeds limit of " + std::to_string(kMetaMaxSize) + " bytes");
    return base::ok_status();
}

}  // namespace clusterd::wire
