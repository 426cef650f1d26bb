// The config key table and apply_key(): one place that knows each key's type, target field and
// value rules, shared by the YAML, JSON and flag front-ends.
#include "config_keys.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <limits>
#include <variant>

#include "clusterd/base/bytes.hpp"
#include "clusterd/config/duration.hpp"
#include "clusterd/config/event_filter.hpp"

namespace clusterd::config::detail {
namespace {

using Field = std::variant<std::string Config::*, bool Config::*, int Config::*, base::Duration Config::*,
                           std::vector<std::string> Config::*, std::map<std::string, std::string> Config::*>;

struct KeyDef {
    std::string_view name;
    Field field;
};

const std::array kKeys{
    KeyDef{"node_name", &Config::node_name},
    KeyDef{"role", &Config::role},
    KeyDef{"disable_coordinates", &Config::disable_coordinates},
    KeyDef{"tags", &Config::tags},
    KeyDef{"tags_file", &Config::tags_file},
    KeyDef{"bind", &Config::bind},
    KeyDef{"advertise", &Config::advertise},
    KeyDef{"encrypt_key", &Config::encrypt_key},
    KeyDef{"keyring_file", &Config::keyring_file},
    KeyDef{"cluster_label", &Config::cluster_label},
    KeyDef{"log_level", &Config::log_level},
    KeyDef{"rpc_addr", &Config::rpc_addr},
    KeyDef{"rpc_auth", &Config::rpc_auth},
    KeyDef{"http_addr", &Config::http_addr},
    KeyDef{"http_token", &Config::http_token},
    KeyDef{"protocol", &Config::protocol},
    KeyDef{"replay_on_join", &Config::replay_on_join},
    KeyDef{"query_response_size_limit", &Config::query_response_size_limit},
    KeyDef{"query_size_limit", &Config::query_size_limit},
    KeyDef{"user_event_size_limit", &Config::user_event_size_limit},
    KeyDef{"start_join", &Config::start_join},
    KeyDef{"event_handlers", &Config::event_handlers},
    KeyDef{"profile", &Config::profile},
    KeyDef{"snapshot_path", &Config::snapshot_path},
    KeyDef{"leave_on_terminate", &Config::leave_on_terminate},
    KeyDef{"skip_leave_on_interrupt", &Config::skip_leave_on_interrupt},
    KeyDef{"discover", &Config::discover},
    KeyDef{"interface", &Config::interface_name},
    KeyDef{"reconnect_interval", &Config::reconnect_interval},
    KeyDef{"reconnect_timeout", &Config::reconnect_timeout},
    KeyDef{"tombstone_timeout", &Config::tombstone_timeout},
    KeyDef{"disable_name_resolution", &Config::disable_name_resolution},
    KeyDef{"enable_syslog", &Config::enable_syslog},
    KeyDef{"syslog_facility", &Config::syslog_facility},
    KeyDef{"retry_join", &Config::retry_join},
    KeyDef{"retry_max_attempts", &Config::retry_max_attempts},
    KeyDef{"retry_interval", &Config::retry_interval},
    KeyDef{"rejoin_after_leave", &Config::rejoin_after_leave},
    KeyDef{"enable_compression", &Config::enable_compression},
    KeyDef{"disable_compression", &Config::enable_compression}, // inverted, see apply_key
    KeyDef{"statsite_addr", &Config::statsite_addr},
    KeyDef{"statsd_addr", &Config::statsd_addr},
    KeyDef{"metrics_interval", &Config::metrics_interval},
    KeyDef{"broadcast_timeout", &Config::broadcast_timeout},
    KeyDef{"validate_node_names", &Config::validate_node_names},
    KeyDef{"ttl_on_failure", &Config::ttl_on_failure},
    KeyDef{"datastore", &Config::datastore},
    KeyDef{"datastore_refresh_interval", &Config::datastore_refresh_interval},
    KeyDef{"datastore_password_file", &Config::datastore_password_file},
    KeyDef{"data_dir", &Config::data_dir},
    KeyDef{"handler_timeout", &Config::handler_timeout},
    KeyDef{"config_check", &Config::config_check},
    KeyDef{"rpc_max_connections", &Config::rpc_max_connections},
};

const KeyDef* find_key(const std::string& key) {
    for (const auto& k : kKeys)
        if (k.name == key)
            return &k;
    return nullptr;
}

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

const char* type_name(RawValue::Type t) {
    switch (t) {
    case RawValue::Type::String:
        return "a string";
    case RawValue::Type::Number:
        return "a number";
    case RawValue::Type::Bool:
        return "a boolean";
    case RawValue::Type::Any:
        break;
    }
    return "a value";
}

base::Status expect_scalar(const RawValue& v, RawValue::Type want, const std::string& where,
                           const char* what) {
    if (v.kind != RawValue::Kind::Scalar)
        return config_error(where, std::string("expected ") + what + ", got a " +
                                       (v.kind == RawValue::Kind::List  ? "list"
                                        : v.kind == RawValue::Kind::Map ? "map"
                                                                        : "null"));
    if (v.type != RawValue::Type::Any && v.type != want)
        return config_error(where, std::string("expected ") + what + ", got " + type_name(v.type));
    return base::ok_status();
}

base::Result<bool> to_bool(const RawValue& v, const std::string& where) {
    if (auto st = expect_scalar(v, RawValue::Type::Bool, where, "true or false"); !st)
        return st.error();
    const std::string t = lower(v.text);
    if (t == "true" || t == "yes" || t == "on" || t == "1")
        return true;
    if (t == "false" || t == "no" || t == "off" || t == "0")
        return false;
    return config_error(where, "expected true or false, got '" + v.text + "'");
}

base::Result<int> to_int(const RawValue& v, const std::string& where) {
    if (auto st = expect_scalar(v, RawValue::Type::Number, where, "an integer"); !st)
        return st.error();
    long long n = 0;
    const char* b = v.text.data();
    const char* e = b + v.text.size();
    auto [p, ec] = std::from_chars(b, e, n);
    if (ec != std::errc{} || p != e || n < std::numeric_limits<int>::min() ||
        n > std::numeric_limits<int>::max())
        return config_error(where, "expected an integer, got '" + v.text + "'");
    return static_cast<int>(n);
}

base::Status check_value(Config& cfg, const std::string& key, const std::string& where) {
    auto err = [&](const std::string& m) -> base::Status { return config_error(where, m); };
    if (key == "bind" || key == "rpc_addr" || (key == "advertise" && !cfg.advertise.empty())) {
        const std::string& v = key == "bind" ? cfg.bind : key == "rpc_addr" ? cfg.rpc_addr : cfg.advertise;
        if (auto st = check_ip_port(v, key == "rpc_addr" ? 7373 : 7946, nullptr, nullptr, key == "advertise");
            !st)
            return err(st.error().message);
    } else if (key == "http_addr" && !cfg.http_addr.empty()) {
        if (auto st = check_ip_port(cfg.http_addr, 8374); !st)
            return err(st.error().message);
    } else if (key == "encrypt_key" && !cfg.encrypt_key.empty()) {
        base::Bytes raw;
        if (!base::base64_decode(cfg.encrypt_key, raw))
            return err("not valid base64 (expected the base64 of a 16, 24 or 32-byte key, e.g. from "
                       "`clusterd keygen`)");
        if (raw.size() != 16 && raw.size() != 24 && raw.size() != 32)
            return err("key is " + std::to_string(raw.size()) +
                       " bytes; it must be 16, 24 or 32 bytes (AES-128/192/256)");
    } else if (key == "ttl_on_failure") {
        if (cfg.ttl_on_failure < 60)
            return err("must be at least 60 seconds, got " + std::to_string(cfg.ttl_on_failure));
    } else if (key == "datastore" && !cfg.datastore.empty()) {
        const std::string& d = cfg.datastore;
        auto starts = [&](const char* p) { return d.rfind(p, 0) == 0; };
        if (starts("sqlite:")) {
            if (d == "sqlite:" || d == "sqlite://")
                return err("sqlite: needs a file path, e.g. sqlite:/var/lib/clusterd/nodes.db");
        } else if (!starts("postgres://") && !starts("postgresql://") && !starts("etcd://")) {
            return err("unknown datastore '" + redact_datastore(d) +
                       "' (use sqlite:PATH, postgres://user@host:port/db or etcd://host:port/prefix)");
        }
    } else if (key == "profile") {
        cfg.profile = lower(cfg.profile);
        if (cfg.profile != "lan" && cfg.profile != "wan" && cfg.profile != "local")
            return err("unknown profile '" + cfg.profile + "' (valid: lan, wan, local)");
    } else if (key == "log_level") {
        cfg.log_level = lower(cfg.log_level);
        if (cfg.log_level == "warning")
            cfg.log_level = "warn";
        if (cfg.log_level == "error")
            cfg.log_level = "err";
        static const std::array levels{"trace", "debug", "info", "warn", "err"};
        if (std::find(levels.begin(), levels.end(), cfg.log_level) == levels.end())
            return err("invalid log level '" + cfg.log_level + "' (valid: trace, debug, info, warn, err)");
    } else if (key == "protocol") {
        if (cfg.protocol < 2 || cfg.protocol > 5)
            return err("protocol version " + std::to_string(cfg.protocol) +
                       " is not supported (valid: 2 to 5)");
    } else if (key == "query_response_size_limit" || key == "query_size_limit" ||
               key == "user_event_size_limit") {
        const int v = key == "query_response_size_limit" ? cfg.query_response_size_limit
                      : key == "query_size_limit"        ? cfg.query_size_limit
                                                         : cfg.user_event_size_limit;
        if (v <= 0)
            return err("must be a positive number of bytes, got " + std::to_string(v));
        if (key == "user_event_size_limit" && v > 9216)
            return err("user event size limit can't be more than 9216 bytes, got " + std::to_string(v));
    } else if (key == "rpc_max_connections") {
        if (cfg.rpc_max_connections < 1 || cfg.rpc_max_connections > 65536)
            return err("must be between 1 and 65536, got " + std::to_string(cfg.rpc_max_connections));
    } else if (key == "retry_max_attempts") {
        if (cfg.retry_max_attempts < 0)
            return err("must be 0 (no limit) or more");
    } else if (key == "metrics_interval") {
        if (cfg.metrics_interval < std::chrono::milliseconds(100))
            return err("must be at least 100ms");
    } else if (key == "reconnect_interval" || key == "reconnect_timeout" || key == "tombstone_timeout" ||
               key == "retry_interval" || key == "broadcast_timeout" || key == "handler_timeout" ||
               key == "datastore_refresh_interval") {
        const base::Duration d = key == "reconnect_interval"  ? cfg.reconnect_interval
                                 : key == "reconnect_timeout" ? cfg.reconnect_timeout
                                 : key == "tombstone_timeout" ? cfg.tombstone_timeout
                                 : key == "retry_interval"    ? cfg.retry_interval
                                 : key == "broadcast_timeout" ? cfg.broadcast_timeout
                                 : key == "handler_timeout"   ? cfg.handler_timeout
                                                              : cfg.datastore_refresh_interval;
        if (d.count() < 0)
            return err("must not be negative");
    }
    return base::ok_status();
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
    std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
    for (std::size_t j = 0; j <= b.size(); ++j)
        prev[j] = j;
    for (std::size_t i = 1; i <= a.size(); ++i) {
        cur[0] = i;
        for (std::size_t j = 1; j <= b.size(); ++j) {
            const std::size_t sub = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
            cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, sub});
        }
        std::swap(prev, cur);
    }
    return prev[b.size()];
}

} // namespace

base::Error config_error(const std::string& where, const std::string& message) {
    return base::make_error("bad_config", where + ": " + message);
}

bool is_known_key(const std::string& key) {
    return find_key(key) != nullptr;
}

std::string suggest(const std::string& key, const std::vector<std::string>& candidates) {
    std::string best;
    std::size_t best_d = std::numeric_limits<std::size_t>::max();
    if (key.size() > 64)
        return ""; // no key is that long; keep the distance computation cheap
    const std::string k = lower(key);
    for (const auto& c : candidates) {
        std::size_t d = edit_distance(k, c);
        // "nodename" vs "node_name", "-" vs "_": treat separators as cheap
        std::string a = k, b = c;
        std::erase_if(a, [](char ch) { return ch == '_' || ch == '-' || ch == '.'; });
        std::erase_if(b, [](char ch) { return ch == '_' || ch == '-' || ch == '.'; });
        if (a == b)
            d = 0;
        if (d < best_d) {
            best_d = d;
            best = c;
        }
    }
    if (best.empty() || best_d > std::max<std::size_t>(2, key.size() / 3))
        return "";
    return " (did you mean '" + best + "'?)";
}

std::string render_value(const Config& cfg, const std::string& key) {
    const KeyDef* def = find_key(key);
    if (def == nullptr)
        return "";
    if (key == "datastore")
        return redact_datastore(cfg.datastore);
    if (key == "encrypt_key" || key == "rpc_auth" || key == "http_token")
        return (cfg.*std::get<std::string Config::*>(def->field)).empty() ? "" : "(set)";
    if (key == "disable_compression")
        return cfg.enable_compression ? "false" : "true";
    std::string out;
    std::visit(
        [&](auto member) {
            using T = std::remove_cvref_t<decltype(cfg.*member)>;
            const T& v = cfg.*member;
            if constexpr (std::is_same_v<T, std::string>) {
                out = v;
            } else if constexpr (std::is_same_v<T, bool>) {
                out = v ? "true" : "false";
            } else if constexpr (std::is_same_v<T, int>) {
                out = std::to_string(v);
            } else if constexpr (std::is_same_v<T, base::Duration>) {
                out = format_go_duration(v);
            } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                out = "[";
                for (std::size_t i = 0; i < v.size(); ++i)
                    out += (i ? ", \"" : "\"") + v[i] + "\"";
                out += "]";
            } else {
                out = "{";
                bool first = true;
                for (const auto& [k, val] : v) {
                    out += (first ? "" : ", ") + k + "=" + val;
                    first = false;
                }
                out += "}";
            }
        },
        def->field);
    return out;
}

base::Status apply_key(Config& cfg, const std::string& key, const RawValue& value, const std::string& where) {
    const KeyDef* def = find_key(key);
    if (def == nullptr)
        return config_error(where, "unknown key" + suggest(key, known_keys()));
    if (value.kind == RawValue::Kind::Null)
        return base::ok_status(); // "key:" with no value: leave as is

    base::Status st = base::ok_status();
    std::visit(
        [&](auto member) {
            using T = std::remove_cvref_t<decltype(cfg.*member)>;
            if constexpr (std::is_same_v<T, std::string>) {
                if (value.kind == RawValue::Kind::Scalar && value.type != RawValue::Type::String &&
                    value.type != RawValue::Type::Any) {
                    st = config_error(where, std::string("expected a string, got ") + type_name(value.type));
                    return;
                }
                if (auto s = expect_scalar(value, RawValue::Type::String, where, "a string"); !s) {
                    st = s;
                    return;
                }
                cfg.*member = value.text;
            } else if constexpr (std::is_same_v<T, bool>) {
                auto b = to_bool(value, where);
                if (!b) {
                    st = b.error();
                    return;
                }
                cfg.*member = key == "disable_compression" ? !*b : *b;
            } else if constexpr (std::is_same_v<T, int>) {
                auto n = to_int(value, where);
                if (!n) {
                    st = n.error();
                    return;
                }
                cfg.*member = *n;
            } else if constexpr (std::is_same_v<T, base::Duration>) {
                if (auto s = expect_scalar(value, RawValue::Type::String, where,
                                           "a duration such as \"30s\" or \"24h\"");
                    !s) {
                    st = s;
                    return;
                }
                auto d = parse_go_duration(value.text);
                if (!d) {
                    st = config_error(where, d.error().message +
                                                 " (use Go syntax such as \"30s\", \"1h30m\", \"24h\")");
                    return;
                }
                cfg.*member = *d;
            } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
                if (value.kind == RawValue::Kind::List) {
                    for (const auto& s : value.list)
                        (cfg.*member).push_back(s);
                } else if (value.kind == RawValue::Kind::Scalar && value.type == RawValue::Type::Any) {
                    (cfg.*member).push_back(value.text);
                } else {
                    st = config_error(where, "expected a list of strings");
                    return;
                }
                if (key == "event_handlers") {
                    for (const auto& s : cfg.event_handlers) {
                        auto parsed = parse_handler_spec(s);
                        if (!parsed) {
                            st = config_error(where, parsed.error().message);
                            return;
                        }
                    }
                }
            } else {
                if (value.kind != RawValue::Kind::Map) {
                    st = config_error(where, "expected a map of key: value");
                    return;
                }
                for (const auto& [k, v] : value.map)
                    (cfg.*member)[k] = v;
            }
        },
        def->field);
    if (!st)
        return st;
    if (auto c = check_value(cfg, key, where); !c)
        return c;
    cfg.origins[key] = where;
    return base::ok_status();
}

} // namespace clusterd::config::detail

namespace clusterd::config {

std::string percent_encode(const std::string& s) {
    static const char* hex = "0123456789ABCDEF";
    std::string out;
    for (unsigned char c : s) {
        if (std::isalnum(c) != 0 || c == '-' || c == '_' || c == '.' || c == '~') {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += hex[c >> 4];
            out += hex[c & 15];
        }
    }
    return out;
}

std::string redact_datastore(const std::string& url) {
    std::string out = url;
    const auto scheme = out.find("://");
    if (scheme != std::string::npos) {
        const auto start = scheme + 3;
        const auto slash = out.find('/', start);
        const auto at = out.rfind('@', slash == std::string::npos ? std::string::npos : slash);
        if (at != std::string::npos && at > start) {
            const auto colon = out.find(':', start);
            if (colon != std::string::npos && colon < at)
                out.replace(colon + 1, at - colon - 1, "***");
        }
    }
    for (std::size_t pos = out.find("password="); pos != std::string::npos;
         pos = out.find("password=", pos + 1)) {
        const auto begin = pos + 9;
        const auto end = out.find('&', begin);
        out.replace(begin, (end == std::string::npos ? out.size() : end) - begin, "***");
    }
    return out;
}

std::vector<std::string> known_keys() {
    std::vector<std::string> out;
    for (const auto& k : detail::kKeys)
        out.emplace_back(k.name);
    return out;
}

} // namespace clusterd::config
