// The etcd adapter's codecs (include/clusterd/store/etcd_codec.hpp): pure functions of bytes.
// HTTP/1.1 framing is libhttp-parser's (a small C state machine that already handles chunked
// bodies, Content-Length and read-until-close; we only bound what it may accumulate), JSON is
// nlohmann-json's, with a nesting limit checked before parsing.
#include "clusterd/store/etcd_codec.hpp"

#include <http_parser.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <climits>
#include <limits>
#include <nlohmann/json.hpp>

#include "clusterd/base/bytes.hpp"

namespace clusterd::store::etcd {
namespace {

using nlohmann::json;

constexpr int kMaxJsonDepth = 64;
constexpr std::uint16_t kDefaultPort = 2379;

base::Error bad(const std::string& what) {
    return base::make_error("etcd", what);
}

bool parse_u16(std::string_view s, std::uint16_t& out) {
    unsigned v = 0;
    if (s.empty() || s.size() > 5)
        return false;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v == 0 || v > 65535)
        return false;
    out = static_cast<std::uint16_t>(v);
    return true;
}

bool host_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == '_';
}

std::string printable(std::string_view s, std::size_t max = 200) {
    std::string out;
    for (char c : s.substr(0, max))
        out += (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) ? '?' : c;
    if (s.size() > max)
        out += "…";
    return out;
}

/// Deepest nesting of arrays/objects outside strings (stops counting past the limit).
bool depth_ok(std::string_view s) {
    int depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (char c : s) {
        if (in_string) {
            if (escaped)
                escaped = false;
            else if (c == '\\')
                escaped = true;
            else if (c == '"')
                in_string = false;
            continue;
        }
        if (c == '"')
            in_string = true;
        else if (c == '[' || c == '{') {
            if (++depth > kMaxJsonDepth)
                return false;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return true;
}

base::Result<json> parse_json(std::string_view s) {
    if (!depth_ok(s))
        return bad("answer nests JSON deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    json j = json::parse(s.begin(), s.end(), nullptr, false);
    if (j.is_discarded())
        return bad("answer is not JSON: '" + printable(s, 80) + "'");
    return j;
}

/// An int64 field: the gateway writes them as JSON strings; numbers are accepted too. Absent = 0
/// (proto3 leaves zero values out).
base::Result<std::int64_t> i64_field(const json& obj, const char* name) {
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null())
        return std::int64_t{0};
    if (it->is_number_integer() && !it->is_number_unsigned())
        return it->get<std::int64_t>();
    if (it->is_number_unsigned()) {
        const auto u = it->get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
            return bad(std::string("field '") + name + "' is out of range");
        return static_cast<std::int64_t>(u);
    }
    if (it->is_string()) {
        const auto& s = it->get_ref<const std::string&>();
        std::int64_t v = 0;
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
        if (!s.empty() && ec == std::errc() && p == s.data() + s.size())
            return v;
    }
    return bad(std::string("field '") + name + "' is not an integer");
}

base::Result<std::string> b64_field(const json& obj, const char* name, bool required) {
    auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) {
        if (required)
            return bad(std::string("field '") + name + "' is missing");
        return std::string();
    }
    if (!it->is_string())
        return bad(std::string("field '") + name + "' is not a string");
    base::Bytes raw;
    if (!base::base64_decode(it->get_ref<const std::string&>(), raw))
        return bad(std::string("field '") + name + "' is not base64");
    return base::to_string(raw);
}

base::Result<Kv> decode_kv(const json& j) {
    if (!j.is_object())
        return bad("a kv is not an object");
    Kv kv;
    auto key = b64_field(j, "key", true);
    if (!key)
        return key.error();
    auto value = b64_field(j, "value", false);
    if (!value)
        return value.error();
    auto create = i64_field(j, "create_revision");
    if (!create)
        return create.error();
    auto mod = i64_field(j, "mod_revision");
    if (!mod)
        return mod.error();
    auto lease = i64_field(j, "lease");
    if (!lease)
        return lease.error();
    kv.key = std::move(*key);
    kv.value = std::move(*value);
    kv.create_revision = *create;
    kv.mod_revision = *mod;
    kv.lease = *lease;
    return kv;
}

base::Status append_kvs(const json& obj, std::vector<Kv>& out) {
    auto it = obj.find("kvs");
    if (it == obj.end() || it->is_null())
        return base::ok_status();
    if (!it->is_array())
        return bad("field 'kvs' is not an array");
    for (const auto& e : *it) {
        auto kv = decode_kv(e);
        if (!kv)
            return kv.error();
        out.push_back(std::move(*kv));
    }
    return base::ok_status();
}

std::string b64(std::string_view s) {
    return base::base64_encode(base::ByteView(reinterpret_cast<const std::uint8_t*>(s.data()), s.size()));
}

json compare_mod(std::string_view key, std::int64_t mod_revision) {
    if (mod_revision == 0)
        return json{{"target", "CREATE"}, {"key", b64(key)}, {"create_revision", "0"}, {"result", "EQUAL"}};
    return json{{"target", "MOD"},
                {"key", b64(key)},
                {"mod_revision", std::to_string(mod_revision)},
                {"result", "EQUAL"}};
}

} // namespace

// ---- URL -------------------------------------------------------------------------------------

std::string Endpoint::shown() const {
    return (host.find(':') != std::string::npos ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

base::Result<EtcdUrl> parse_url(const std::string& url) {
    constexpr std::string_view scheme = "etcd://";
    if (url.rfind(scheme, 0) != 0)
        return base::make_error("datastore", "an etcd datastore URL starts with etcd://");
    const std::string rest = url.substr(scheme.size());
    const auto slash = rest.find('/');
    const std::string authority = rest.substr(0, slash);
    if (authority.find('@') != std::string::npos)
        return base::make_error(
            "datastore", "etcd datastore: user names and passwords are not supported (this adapter does not "
                         "speak etcd authentication); use etcd://host:port/prefix on a trusted network");
    EtcdUrl out;
    std::size_t pos = 0;
    while (pos <= authority.size()) {
        const auto comma = std::min(authority.find(',', pos), authority.size());
        const std::string item = authority.substr(pos, comma - pos);
        pos = comma + 1;
        Endpoint ep;
        std::string port;
        bool has_port = false;
        if (!item.empty() && item[0] == '[') {
            const auto close = item.find(']');
            if (close == std::string::npos)
                return base::make_error("datastore", "etcd endpoint '" + item + "': missing ']'");
            ep.host = item.substr(1, close - 1);
            if (close + 1 < item.size()) {
                if (item[close + 1] != ':')
                    return base::make_error("datastore", "etcd endpoint '" + item + "' is not [v6]:port");
                has_port = true;
                port = item.substr(close + 2);
            }
            if (ep.host.empty() || !std::all_of(ep.host.begin(), ep.host.end(), [](char c) {
                    return std::isxdigit(static_cast<unsigned char>(c)) != 0 || c == ':' || c == '.';
                }))
                return base::make_error("datastore", "etcd endpoint '" + item + "': bad IPv6 address");
        } else {
            const auto colon = item.find(':');
            ep.host = item.substr(0, colon);
            if (colon != std::string::npos) {
                has_port = true;
                port = item.substr(colon + 1);
            }
            if (ep.host.empty() || !std::all_of(ep.host.begin(), ep.host.end(), host_char))
                return base::make_error("datastore",
                                        "etcd endpoint '" + item +
                                            "' is not host:port (etcd://h1:2379,h2:2379/prefix)");
        }
        ep.port = kDefaultPort;
        if (has_port && !parse_u16(port, ep.port))
            return base::make_error("datastore", "etcd endpoint '" + item + "': port must be 1..65535");
        out.endpoints.push_back(std::move(ep));
        if (comma == authority.size())
            break;
    }
    std::string prefix = slash == std::string::npos ? "" : rest.substr(slash);
    if (prefix.find_first_of("?#") != std::string::npos)
        return base::make_error("datastore",
                                "etcd datastore URL takes no parameters: etcd://host:port/prefix");
    while (!prefix.empty() && prefix.back() == '/')
        prefix.pop_back();
    if (prefix.empty())
        return base::make_error("datastore",
                                "etcd datastore needs a key prefix, e.g. etcd://127.0.0.1:2379/clusterd");
    for (char c : prefix)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
            return base::make_error("datastore", "etcd key prefix holds spaces or control characters");
    out.prefix = std::move(prefix);
    return out;
}

// ---- HTTP ------------------------------------------------------------------------------------

std::string http_post(const Endpoint& to, std::string_view path, std::string_view json_body) {
    std::string r;
    r.reserve(160 + path.size() + json_body.size());
    r += "POST ";
    r += path;
    r += " HTTP/1.1\r\nHost: ";
    r += to.shown();
    r += "\r\nContent-Type: application/json\r\nAccept: application/json\r\nContent-Length: ";
    r += std::to_string(json_body.size());
    r += "\r\n\r\n";
    r += json_body;
    return r;
}

struct ResponseParser::Impl {
    http_parser parser{};
    http_parser_settings settings{};
    HttpResponse resp;
    std::size_t max = 0;
    std::size_t total = 0;
    State state = State::NeedMore;
    std::string error;
    bool started = false;
    bool complete = false;
    bool too_big = false;

    static Impl& of(http_parser* p) { return *static_cast<Impl*>(p->data); }

    explicit Impl(std::size_t max_bytes) : max(max_bytes) {
        http_parser_settings_init(&settings);
        settings.on_headers_complete = [](http_parser* p) -> int {
            auto& self = of(p);
            // No body size is known for chunked or read-until-close answers: those are bounded
            // by the byte count in feed().
            if ((p->flags & F_CHUNKED) == 0 && p->content_length != ULLONG_MAX &&
                p->content_length > self.max) {
                self.too_big = true;
                return -1;
            }
            return 0;
        };
        settings.on_body = [](http_parser* p, const char* at, std::size_t len) -> int {
            of(p).resp.body.append(at, len);
            return 0;
        };
        settings.on_message_complete = [](http_parser* p) -> int {
            auto& self = of(p);
            self.complete = true;
            self.resp.status = static_cast<int>(p->status_code);
            self.resp.keep_alive = http_should_keep_alive(p) != 0;
            http_parser_pause(p, 1); // one response per request: nothing after it is ours
            return 0;
        };
        http_parser_init(&parser, HTTP_RESPONSE);
        parser.data = this;
    }

    State fail(std::string why) {
        error = std::move(why);
        state = State::Failed;
        return state;
    }

    State after_execute(std::size_t fed, std::size_t parsed) {
        if (complete) {
            if (parsed < fed)
                resp.keep_alive = false; // bytes after the response: do not reuse
            state = State::Done;
            return state;
        }
        if (too_big)
            return fail("answer declares a body larger than " + std::to_string(max) + " bytes");
        const auto err = HTTP_PARSER_ERRNO(&parser);
        if (err != HPE_OK)
            return fail(std::string("bad HTTP answer: ") + http_errno_description(err));
        return state;
    }
};

ResponseParser::ResponseParser(std::size_t max_bytes) : impl_(std::make_unique<Impl>(max_bytes)) {}
ResponseParser::~ResponseParser() = default;

ResponseParser::State ResponseParser::feed(const char* data, std::size_t n) {
    Impl& m = *impl_;
    if (m.state != State::NeedMore || n == 0)
        return m.state;
    m.started = true;
    // Only bytes up to the cap reach the parser; an answer that is not complete by then fails.
    const std::size_t take = std::min(n, m.max - m.total);
    m.total += take;
    const std::size_t parsed = take == 0 ? 0 : http_parser_execute(&m.parser, &m.settings, data, take);
    const State st = m.after_execute(n, parsed);
    if (st == State::NeedMore && take < n)
        return m.fail("answer is larger than " + std::to_string(m.max) + " bytes");
    return st;
}

ResponseParser::State ResponseParser::finish() {
    Impl& m = *impl_;
    if (m.state != State::NeedMore)
        return m.state;
    if (!m.started)
        return m.fail("connection closed without an answer");
    http_parser_execute(&m.parser, &m.settings, nullptr, 0);
    if (m.complete) {
        m.resp.keep_alive = false;
        m.state = State::Done;
        return m.state;
    }
    const auto err = HTTP_PARSER_ERRNO(&m.parser);
    if (err != HPE_OK && err != HPE_INVALID_EOF_STATE)
        return m.fail(std::string("bad HTTP answer: ") + http_errno_description(err));
    return m.fail("answer truncated: connection closed after " + std::to_string(m.total) + " bytes");
}

ResponseParser::State ResponseParser::state() const {
    return impl_->state;
}
bool ResponseParser::started() const {
    return impl_->started;
}
const HttpResponse& ResponseParser::response() const {
    return impl_->resp;
}
const std::string& ResponseParser::error() const {
    return impl_->error;
}

base::Result<HttpResponse> decode_response(std::string_view bytes, std::size_t max_bytes) {
    ResponseParser p(max_bytes);
    auto st = p.feed(bytes.data(), bytes.size());
    if (st == ResponseParser::State::NeedMore)
        st = p.finish();
    if (st == ResponseParser::State::Failed)
        return bad(p.error());
    return p.response();
}

// ---- answers ---------------------------------------------------------------------------------

base::Error http_error(const HttpResponse& r) {
    std::string detail;
    json j = depth_ok(r.body) ? json::parse(r.body, nullptr, false) : json(json::value_t::discarded);
    if (j.is_object()) {
        for (const char* k : {"message", "error"}) {
            auto it = j.find(k);
            if (it != j.end() && it->is_string() && !it->get_ref<const std::string&>().empty()) {
                detail = printable(it->get_ref<const std::string&>());
                break;
            }
            if (it != j.end() && it->is_object()) { // a streaming call's error object
                auto m = it->find("message");
                if (m != it->end() && m->is_string()) {
                    detail = printable(m->get_ref<const std::string&>());
                    break;
                }
            }
        }
    }
    if (detail.empty())
        detail = printable(r.body, 120);
    return base::make_error("etcd", "etcd answered " + std::to_string(r.status) +
                                        (detail.empty() ? "" : ": " + detail));
}

bool lease_not_found(const HttpResponse& r) {
    return r.status == 404 || r.body.find("requested lease not found") != std::string::npos;
}

base::Result<std::vector<Kv>> decode_range(std::string_view text) {
    auto j = parse_json(text);
    if (!j)
        return j.error();
    if (!j->is_object())
        return bad("range answer is not an object");
    std::vector<Kv> out;
    if (auto st = append_kvs(*j, out); !st)
        return st.error();
    return out;
}

base::Result<TxnAnswer> decode_txn(std::string_view text) {
    auto j = parse_json(text);
    if (!j)
        return j.error();
    if (!j->is_object())
        return bad("txn answer is not an object");
    TxnAnswer out;
    if (auto it = j->find("succeeded"); it != j->end() && !it->is_null()) {
        if (!it->is_boolean())
            return bad("field 'succeeded' is not a boolean");
        out.succeeded = it->get<bool>();
    }
    auto it = j->find("responses");
    if (it == j->end() || it->is_null())
        return out;
    if (!it->is_array())
        return bad("field 'responses' is not an array");
    for (const auto& r : *it) {
        if (!r.is_object())
            return bad("a txn response is not an object");
        auto rr = r.find("response_range");
        if (rr == r.end() || rr->is_null())
            continue;
        if (!rr->is_object())
            return bad("field 'response_range' is not an object");
        if (auto st = append_kvs(*rr, out.kvs); !st)
            return st.error();
    }
    return out;
}

base::Result<std::int64_t> decode_lease_grant(std::string_view text) {
    auto j = parse_json(text);
    if (!j)
        return j.error();
    if (!j->is_object())
        return bad("lease grant answer is not an object");
    if (auto e = j->find("error");
        e != j->end() && e->is_string() && !e->get_ref<const std::string&>().empty())
        return bad("lease grant: " + printable(e->get_ref<const std::string&>()));
    auto id = i64_field(*j, "ID");
    if (!id)
        return id.error();
    if (*id == 0)
        return bad("lease grant answer has no lease ID");
    return *id;
}

base::Result<std::int64_t> decode_keepalive(std::string_view text) {
    // A streaming call: one JSON object per line, here exactly one.
    const auto nl = text.find('\n');
    auto j = parse_json(nl == std::string_view::npos ? text : text.substr(0, nl));
    if (!j)
        return j.error();
    if (!j->is_object())
        return bad("keepalive answer is not an object");
    if (auto e = j->find("error"); e != j->end() && !e->is_null()) {
        HttpResponse r;
        r.status = 200;
        r.body = std::string(text);
        return bad("lease keepalive: " + http_error(r).message);
    }
    auto res = j->find("result");
    if (res == j->end() || !res->is_object())
        return bad("keepalive answer has no result object");
    auto ttl = i64_field(*res, "TTL");
    if (!ttl)
        return ttl.error();
    return std::max<std::int64_t>(0, *ttl);
}

// ---- requests --------------------------------------------------------------------------------

std::string range_request(std::string_view key, std::string_view range_end) {
    json j{{"key", b64(key)}};
    if (!range_end.empty())
        j["range_end"] = b64(range_end);
    return j.dump();
}

std::string prefix_end(std::string_view prefix) {
    std::string end(prefix);
    while (!end.empty()) {
        auto& last = reinterpret_cast<unsigned char&>(end.back());
        if (last < 0xff) {
            ++last;
            return end;
        }
        end.pop_back();
    }
    return std::string(1, '\0'); // every key
}

std::string put_if_request(std::string_view key, std::string_view value, std::int64_t lease,
                           std::int64_t mod_revision) {
    json put{{"key", b64(key)}, {"value", b64(value)}};
    if (lease != 0)
        put["lease"] = std::to_string(lease);
    json j{{"compare", json::array({compare_mod(key, mod_revision)})},
           {"success", json::array({json{{"request_put", put}}})},
           {"failure", json::array({json{{"request_range", json{{"key", b64(key)}}}}})}};
    return j.dump();
}

std::string delete_if_request(std::string_view key, std::int64_t mod_revision) {
    json j{{"compare", json::array({compare_mod(key, mod_revision)})},
           {"success", json::array({json{{"request_delete_range", json{{"key", b64(key)}}}}})},
           {"failure", json::array({json{{"request_range", json{{"key", b64(key)}}}}})}};
    return j.dump();
}

std::string delete_request(std::string_view key) {
    return json{{"key", b64(key)}}.dump();
}
std::string lease_grant_request(std::int64_t ttl_s) {
    return json{{"TTL", std::to_string(ttl_s)}}.dump();
}
std::string lease_id_request(std::int64_t id) {
    return json{{"ID", std::to_string(id)}}.dump();
}

// ---- rows ------------------------------------------------------------------------------------

std::string encode_row(const discovery::Row& row) {
    json j{{"name", row.name},
           {"address", row.address},
           {"protocol_min", row.protocol_min},
           {"protocol_max", row.protocol_max},
           {"created_ms", discovery::to_ms(row.created)},
           {"last_seen_ms", discovery::to_ms(row.last_seen)},
           {"expires_ms", discovery::to_ms(row.expires)}};
    return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

discovery::StoredRow decode_row(const std::string& name, std::string_view value) {
    discovery::StoredRow row;
    row.name = name;
    auto j = parse_json(value);
    if (!j || !j->is_object())
        return row;
    auto col = [&](const char* k) -> std::string {
        auto it = j->find(k);
        if (it == j->end() || it->is_null())
            return "";
        if (it->is_string())
            return it->get<std::string>();
        if (it->is_number_unsigned())
            return std::to_string(it->get<std::uint64_t>());
        if (it->is_number_integer())
            return std::to_string(it->get<std::int64_t>());
        return it->dump(-1, ' ', false, json::error_handler_t::replace);
    };
    row.address = col("address");
    row.protocol_min = col("protocol_min");
    row.protocol_max = col("protocol_max");
    row.created_ms = col("created_ms");
    row.last_seen_ms = col("last_seen_ms");
    row.expires_ms = col("expires_ms");
    return row;
}

std::vector<discovery::StoredRow> rows_of(const std::string& nodes_prefix, const std::vector<Kv>& kvs) {
    std::vector<discovery::StoredRow> out;
    for (const auto& kv : kvs) {
        if (kv.key.rfind(nodes_prefix, 0) != 0)
            continue;
        out.push_back(decode_row(kv.key.substr(nodes_prefix.size()), kv.value));
    }
    return out;
}

} // namespace clusterd::store::etcd
