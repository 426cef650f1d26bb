// The YAML front-end: Kong 0.x keys (cluster_listen, cluster_listen_rpc, cluster.{advertise,
// encrypt, ttl_on_failure, profile}, Kong 0.10's flat cluster_* names) plus every Serf option
// under its snake_case name, turned into RawValues for apply_key().
#include <yaml-cpp/yaml.h>

#include <cctype>
#include <map>

#include "config_keys.hpp"

namespace clusterd::config {
namespace {

using detail::RawValue;

// Kong names -> canonical keys.
struct Alias {
    const char* kong;
    const char* key;
};
constexpr Alias kTopAliases[] = {
    {"cluster_listen", "bind"},
    {"cluster_listen_rpc", "rpc_addr"},
    {"cluster_listen_http", "http_addr"},
    {"cluster_advertise", "advertise"},           // Kong 0.9-0.10
    {"cluster_encrypt_key", "encrypt_key"},       // Kong 0.9-0.10
    {"cluster_keyring_file", "keyring_file"},     // Kong 0.10
    {"cluster_profile", "profile"},               // Kong 0.9-0.10
    {"cluster_ttl_on_failure", "ttl_on_failure"}, // Kong 0.9-0.10
};
constexpr Alias kClusterAliases[] = {
    {"advertise", "advertise"},
    {"encrypt", "encrypt_key"},
    {"ttl_on_failure", "ttl_on_failure"},
    {"profile", "profile"},
    {"keyring_file", "keyring_file"},
    {"label", "cluster_label"},
    {"datastore", "datastore"},
    {"datastore_refresh_interval", "datastore_refresh_interval"},
    {"datastore_password_file", "datastore_password_file"},
};

/// Kong's `database: postgres` + `postgres: {host, port, user, password, database}`.
struct KongDatabase {
    std::string database; ///< "" when the file has no `database` key
    std::string where;
    std::map<std::string, std::string> postgres;
};

base::Status apply_kong_database(Config& cfg, const KongDatabase& k, const std::string& source) {
    if (k.database.empty())
        return base::ok_status();
    if (k.database == "cassandra")
        return detail::config_error(k.where, "Cassandra is not supported as clusterd's datastore "
                                             "(use 'database: postgres' or cluster.datastore: sqlite:PATH)");
    if (k.database != "postgres" && k.database != "postgresql")
        return detail::config_error(k.where, "unknown database '" + k.database + "' (valid: postgres)");
    if (!cfg.datastore.empty()) {
        cfg.warnings.push_back(k.where + ": ignored, " + cfg.origins["datastore"] + " sets the datastore");
        return base::ok_status();
    }
    auto get = [&](const char* key, const char* dflt) {
        auto it = k.postgres.find(key);
        return it == k.postgres.end() || it->second.empty() ? std::string(dflt) : it->second;
    };
    std::string url = "postgres://" + percent_encode(get("user", "kong"));
    if (const auto pw = get("password", ""); !pw.empty())
        url += ":" + percent_encode(pw);
    url += "@" + get("host", "127.0.0.1") + ":" + get("port", "5432") + "/" +
           percent_encode(get("database", "kong"));
    detail::RawValue v;
    v.kind = detail::RawValue::Kind::Scalar;
    v.text = url;
    return detail::apply_key(cfg, "datastore", v, source + ": key 'database' (with 'postgres')");
}

base::Result<RawValue> to_raw(const YAML::Node& n, const std::string& where) {
    RawValue v;
    switch (n.Type()) {
    case YAML::NodeType::Null:
    case YAML::NodeType::Undefined:
        v.kind = RawValue::Kind::Null;
        return v;
    case YAML::NodeType::Scalar:
        v.kind = RawValue::Kind::Scalar;
        v.text = n.Scalar();
        return v;
    case YAML::NodeType::Sequence:
        v.kind = RawValue::Kind::List;
        for (const auto& item : n) {
            if (!item.IsScalar())
                return detail::config_error(where, "list items must be plain values");
            v.list.push_back(item.Scalar());
        }
        return v;
    case YAML::NodeType::Map:
        v.kind = RawValue::Kind::Map;
        for (const auto& kv : n) {
            if (!kv.second.IsScalar() && !kv.second.IsNull())
                return detail::config_error(where + "." + kv.first.as<std::string>(),
                                            "expected a plain value");
            v.map[kv.first.as<std::string>()] = kv.second.IsNull() ? "" : kv.second.Scalar();
        }
        return v;
    }
    return v;
}

std::vector<std::string> top_candidates() {
    std::vector<std::string> c = known_keys();
    for (const auto& a : kTopAliases)
        c.emplace_back(a.kong);
    c.emplace_back("cluster");
    return c;
}

base::Status apply_cluster_map(Config& cfg, const YAML::Node& cluster, const std::string& source) {
    if (cluster.IsNull())
        return base::ok_status();
    if (!cluster.IsMap())
        return detail::config_error(
            source + ": key 'cluster'",
            "expected a map (advertise, encrypt, ttl_on_failure, profile, datastore)");
    for (const auto& kv : cluster) {
        const std::string sub = kv.first.as<std::string>();
        const std::string where = source + ": key 'cluster." + sub + "'";
        if (sub == "auto-join" || sub == "auto_join") {
            cfg.warnings.push_back(
                where + ": ignored (with a datastore, nodes always join the nodes they find in it)");
            continue;
        }
        const char* key = nullptr;
        for (const auto& a : kClusterAliases)
            if (sub == a.kong)
                key = a.key;
        if (key == nullptr) {
            std::vector<std::string> c;
            for (const auto& a : kClusterAliases)
                c.emplace_back(a.kong);
            return detail::config_error(where, "unknown key" + detail::suggest(sub, c));
        }
        auto raw = to_raw(kv.second, where);
        if (!raw)
            return raw.error();
        if (auto st = detail::apply_key(cfg, key, *raw, where); !st)
            return st;
    }
    return base::ok_status();
}

} // namespace

base::Status apply_yaml_text(Config& cfg, const std::string& text, const std::string& source) {
    YAML::Node root;
    try {
        root = YAML::Load(text);
    } catch (const YAML::Exception& e) {
        return base::make_error("bad_config", source + ": invalid YAML: " + e.what());
    }
    if (root.IsNull())
        return base::ok_status(); // empty file: defaults
    if (!root.IsMap())
        return base::make_error("bad_config", source + ": expected a map of settings at the top level");
    KongDatabase kong;
    try {
        for (const auto& kv : root) {
            const std::string name = kv.first.as<std::string>();
            const std::string where = source + ": key '" + name + "'";
            if (name == "database") {
                if (!kv.second.IsScalar())
                    return detail::config_error(where, "expected postgres");
                kong.database = kv.second.Scalar();
                kong.where = where;
                continue;
            }
            if (name == "postgres") {
                auto raw = to_raw(kv.second, where);
                if (!raw)
                    return raw.error();
                if (raw->kind != RawValue::Kind::Map && raw->kind != RawValue::Kind::Null)
                    return detail::config_error(where,
                                                "expected a map (host, port, user, password, database)");
                for (const auto& [k, v] : raw->map) {
                    if (k != "host" && k != "port" && k != "user" && k != "password" && k != "database" &&
                        k != "ssl")
                        return detail::config_error(
                            where + "." + k, "unknown key (valid: host, port, user, password, database)");
                    kong.postgres[k] = v;
                }
                continue;
            }
            if (name == "cassandra")
                continue; // Kong's file carries it even with database: postgres
            if (name == "cluster") {
                if (auto st = apply_cluster_map(cfg, kv.second, source); !st)
                    return st;
                continue;
            }
            std::string key = name;
            for (const auto& a : kTopAliases)
                if (name == a.kong)
                    key = a.key;
            if (!detail::is_known_key(key))
                return detail::config_error(where, "unknown key" + detail::suggest(name, top_candidates()));
            auto raw = to_raw(kv.second, where);
            if (!raw)
                return raw.error();
            if (auto st = detail::apply_key(cfg, key, *raw, where); !st)
                return st;
        }
    } catch (const YAML::Exception& e) {
        return base::make_error("bad_config", source + ": " + e.what());
    }
    return apply_kong_database(cfg, kong, source);
}

} // namespace clusterd::config
