// Loading order and cross-key validation: defaults <- YAML <- Serf JSON files <- flags, then
// validate_config(). Also the -config-check renderer and the address checker.
#include "clusterd/config/config.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "clusterd/config/duration.hpp"
#include "clusterd/config/event_filter.hpp"
#include "config_keys.hpp"

namespace clusterd::config {
namespace {

using detail::RawValue;

base::Result<std::string> read_file(const std::string& path, const char* what) {
    std::error_code ec;
    if (std::filesystem::is_directory(path, ec))
        return base::make_error("bad_config", path + ": is a directory, expected a " + what + " file");
    // open(2) directly, so the error can say why (ifstream loses errno).
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return base::make_error("bad_config",
                                path + ": cannot read " + what + " file: " + std::strerror(errno));
    std::string text;
    char buf[8192];
    while (true) {
        const ssize_t n = ::read(fd, buf, sizeof buf);
        if (n == 0)
            break;
        if (n < 0) {
            if (errno == EINTR)
                continue;
            const int err = errno;
            ::close(fd);
            return base::make_error("bad_config",
                                    path + ": cannot read " + what + " file: " + std::strerror(err));
        }
        text.append(buf, static_cast<std::size_t>(n));
    }
    ::close(fd);
    return text;
}

std::string flag_name_for(const std::string& key) {
    for (const auto& f : agent_flags())
        if (key == f.key)
            return std::string("-") + f.name;
    return "-" + key;
}

base::Status apply_json_path(Config& cfg, const std::string& path) {
    auto text = read_file(path, "JSON config");
    if (!text)
        return text.error();
    cfg.json_files.push_back(path);
    return apply_json_text(cfg, *text, path);
}

base::Status apply_json_dir(Config& cfg, const std::string& dir) {
    std::error_code ec;
    if (!std::filesystem::is_directory(dir, ec))
        return base::make_error("bad_config", dir + ": -config-dir is not a directory");
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
        if (entry.is_directory())
            continue; // no recursion, as Serf
        const std::string name = entry.path().filename().string();
        if (name.size() > 5 && name.substr(name.size() - 5) == ".json")
            files.push_back(entry.path().string());
    }
    if (ec)
        return base::make_error("bad_config", dir + ": cannot list directory: " + ec.message());
    std::sort(files.begin(), files.end()); // lexical order, as Serf
    for (const auto& f : files)
        if (auto st = apply_json_path(cfg, f); !st)
            return st;
    return base::ok_status();
}

} // namespace

std::string pick_config_path(const FlagValues& flags, const char* env_value) {
    if (flags.has("config"))
        return flags.last("config");
    if (env_value != nullptr && *env_value != '\0')
        return env_value;
    if (std::filesystem::exists("/etc/clusterd/clusterd.yml"))
        return "/etc/clusterd/clusterd.yml";
    return "";
}

base::Status apply_flags(Config& cfg, const FlagValues& flags) {
    for (const auto& [key, values] : flags.values) {
        if (key == "config" || key == "config_file" || key == "config_dir" || values.empty())
            continue;
        const std::string where = "command line: flag " + flag_name_for(key);
        RawValue v;
        if (key == "tags") {
            v.kind = RawValue::Kind::Map;
            for (const auto& kv : values) {
                const auto eq = kv.find('=');
                if (eq == std::string::npos || eq == 0)
                    return detail::config_error(where, "Invalid tag: '" + kv + "' (expected key=value)");
                v.map[kv.substr(0, eq)] = kv.substr(eq + 1);
            }
        } else if (key == "start_join" || key == "retry_join" || key == "event_handlers") {
            v.kind = RawValue::Kind::List;
            v.list = values;
        } else {
            v.kind = RawValue::Kind::Scalar;
            v.text = values.back();
        }
        if (auto st = detail::apply_key(cfg, key, v, where); !st)
            return st;
    }
    return base::ok_status();
}

base::Result<Config> load_yaml_text(const std::string& text, const std::string& source) {
    Config cfg;
    cfg.config_file = source;
    if (auto st = apply_yaml_text(cfg, text, source); !st)
        return st.error();
    if (auto st = validate_config(cfg); !st)
        return st.error();
    return cfg;
}

base::Result<Config> load_config(const std::string& path, const FlagValues& flags) {
    Config cfg;
    if (!path.empty()) {
        auto text = read_file(path, "YAML config");
        if (!text)
            return text.error();
        cfg.config_file = path;
        if (auto st = apply_yaml_text(cfg, *text, path); !st)
            return st.error();
    }
    if (auto it = flags.values.find("config_file"); it != flags.values.end())
        for (const auto& f : it->second)
            if (auto st = apply_json_path(cfg, f); !st)
                return st.error();
    if (auto it = flags.values.find("config_dir"); it != flags.values.end())
        for (const auto& d : it->second)
            if (auto st = apply_json_dir(cfg, d); !st)
                return st.error();
    if (auto st = apply_flags(cfg, flags); !st)
        return st.error();
    if (auto st = validate_config(cfg); !st)
        return st.error();
    return cfg;
}

base::Status validate_config(Config& cfg) {
    auto origin = [&](const std::string& key) {
        auto it = cfg.origins.find(key);
        return it == cfg.origins.end() ? std::string("key '") + key + "'" : it->second;
    };
    if (!cfg.role.empty()) {
        cfg.warnings.push_back(origin("role") + ": deprecated, copied into tag 'role' (use tags)");
        cfg.tags["role"] = cfg.role;
    }
    for (const auto& [k, v] : cfg.tags)
        if (k.empty())
            return detail::config_error(origin("tags"), "a tag name must not be empty");
    if (!cfg.tags.empty() && !cfg.tags_file.empty())
        return detail::config_error(origin("tags_file"), "Tags config not allowed while using tag files (" +
                                                             origin("tags") + " also sets tags)");
    if (!cfg.encrypt_key.empty() && !cfg.keyring_file.empty())
        return detail::config_error(origin("keyring_file"),
                                    "Encryption key not allowed while using a keyring (" +
                                        origin("encrypt_key") + " also sets a key)");
    // memberlist's label header has one length byte.
    if (cfg.cluster_label.size() > 255)
        return detail::config_error(origin("cluster_label"), "cluster label is " +
                                                                 std::to_string(cfg.cluster_label.size()) +
                                                                 " bytes, longer than the limit of 255");
    for (const auto& spec : cfg.event_handlers)
        if (auto p = parse_handler_spec(spec); !p)
            return detail::config_error(origin("event_handlers"), p.error().message);
    // ttl_on_failure has Kong's meaning: how long a datastore row lives after its last
    // refresh. Serf's reconnect_timeout / tombstone_timeout are separate keys with Serf's
    // defaults (issue 14; issue 13 had made ttl_on_failure an alias of reconnect_timeout).
    if (cfg.ttl_on_failure < 60)
        return detail::config_error(origin("ttl_on_failure"),
                                    "must be at least 60 seconds, got " + std::to_string(cfg.ttl_on_failure));
    {
        const base::Duration ttl = std::chrono::seconds(cfg.ttl_on_failure);
        const bool refresh_set = cfg.origins.count("datastore_refresh_interval") != 0;
        if (cfg.datastore_refresh_interval < std::chrono::seconds(1))
            return detail::config_error(origin("datastore_refresh_interval"), "must be at least 1s");
        if (cfg.datastore_refresh_interval * 2 >= ttl) {
            if (refresh_set)
                return detail::config_error(origin("datastore_refresh_interval"),
                                            "must be less than half of ttl_on_failure (" +
                                                std::to_string(cfg.ttl_on_failure) +
                                                " s), so that one missed refresh does not expire the row");
            cfg.datastore_refresh_interval = ttl / 3;
        }
    }
    if (cfg.retry_interval < std::chrono::seconds(1)) {
        cfg.retry_interval = std::chrono::seconds(1);
        cfg.warnings.push_back(origin("retry_interval") + ": too low, set to 1s");
    }
    if (cfg.broadcast_timeout < std::chrono::seconds(1)) {
        cfg.broadcast_timeout = std::chrono::seconds(1);
        cfg.warnings.push_back(origin("broadcast_timeout") + ": too low, set to 1s");
    }
    if (cfg.rejoin_after_leave && cfg.snapshot_path.empty())
        cfg.warnings.push_back(origin("rejoin_after_leave") +
                               ": enabled without a snapshot file (snapshot_path)");
    if (!cfg.discover.empty()) {
        // The service "_serf_<NAME>._tcp.local." must be a valid DNS name: labels of 1..63
        // octets (a dot in NAME starts a new label, as in Serf).
        bool ok = true;
        std::size_t label = 6; // "_serf_"
        for (char c : cfg.discover) {
            if (c == '.') {
                ok = ok && label > 0;
                label = 0;
                continue;
            }
            ok = ok && static_cast<unsigned char>(c) > 32 && c != '\\' && ++label <= 63;
        }
        if (!ok || label == 0)
            return detail::config_error(
                origin("discover"), "'" + cfg.discover +
                                        "' cannot be an mDNS service name (_serf_<NAME>._tcp): no spaces, "
                                        "backslashes or empty labels, at most 57 characters before a dot");
    }
    return base::ok_status();
}

bool is_host_name(const std::string& text) {
    if (text.empty() || text.size() > 253)
        return false;
    std::size_t label = 0;
    bool non_numeric = false;
    for (char c : text) {
        if (c == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '-' || c == '_';
        if (!alpha && !(c >= '0' && c <= '9'))
            return false;
        non_numeric = non_numeric || alpha;
        if (++label > 63)
            return false;
    }
    return non_numeric;
}

base::Status check_ip_port(const std::string& text, int default_port, std::string* host_out, int* port_out,
                           bool allow_host_names) {
    auto bad = [&](const std::string& why) {
        return base::make_error("bad_address", "bad address '" + text + "': " + why);
    };
    std::string host = text, port_text;
    if (!text.empty() && text[0] == '[') {
        const auto close = text.find(']');
        if (close == std::string::npos)
            return bad("missing ']'");
        host = text.substr(1, close - 1);
        const std::string rest = text.substr(close + 1);
        if (!rest.empty()) {
            if (rest[0] != ':')
                return bad("expected ':port' after ']'");
            port_text = rest.substr(1);
            if (port_text.empty())
                return bad("empty port");
        }
        in6_addr a6{};
        if (inet_pton(AF_INET6, host.c_str(), &a6) != 1)
            return bad("'" + host + "' is not an IPv6 address");
    } else {
        const auto colons = std::count(text.begin(), text.end(), ':');
        if (colons == 1) {
            const auto c = text.find(':');
            host = text.substr(0, c);
            port_text = text.substr(c + 1);
            if (port_text.empty())
                return bad("empty port");
        } else if (colons > 1) {
            in6_addr a6{};
            if (inet_pton(AF_INET6, text.c_str(), &a6) != 1)
                return bad("expected IP:port, or [IPv6]:port for IPv6 addresses");
        }
        if (host.empty())
            return bad(allow_host_names ? "missing address (use e.g. 10.0.0.5:7946 or node1.example:7946)"
                                        : "missing IP address (use e.g. 0.0.0.0:7946)");
        if (colons <= 1) {
            in_addr a4{};
            if (inet_pton(AF_INET, host.c_str(), &a4) != 1) {
                if (allow_host_names && is_host_name(host)) {
                    // Resolved when the agent starts.
                } else if (allow_host_names) {
                    return bad("'" + host + "' is not an IP address or a host name");
                } else {
                    return bad("'" + host +
                               "' is not an IP address (IPv4, or IPv6 as [addr]:port; host names are not "
                               "accepted here)");
                }
            }
        }
    }
    int port = default_port;
    if (!port_text.empty()) {
        if (port_text.size() > 5 ||
            !std::all_of(port_text.begin(), port_text.end(), [](char c) { return c >= '0' && c <= '9'; }))
            return bad("port '" + port_text + "' is not a number");
        port = std::stoi(port_text);
        if (port > 65535)
            return bad("port " + port_text + " is out of range (0-65535)");
    }
    if (host_out != nullptr)
        *host_out = host;
    if (port_out != nullptr)
        *port_out = port;
    return base::ok_status();
}

std::string render_config(const Config& cfg) {
    std::ostringstream out;
    out << "# clusterd effective configuration\n";
    out << "# yaml file: " << (cfg.config_file.empty() ? "(none)" : cfg.config_file) << "\n";
    for (const auto& f : cfg.json_files)
        out << "# json file: " << f << "\n";
    for (const auto& w : cfg.warnings)
        out << "# warning: " << w << "\n";
    out << "# ttl_on_failure (seconds): how long this node's datastore row lives after its last refresh\n"
           "#   (Kong's meaning); reconnect_timeout: how long a failed member stays in the member list\n"
           "#   before it is reaped (Serf's); tombstone_timeout: the same for members that left\n";
    for (const auto& key : known_keys()) {
        if (key == "disable_compression" || key == "config_check")
            continue; // shown as enable_compression
        out << key << " = " << detail::render_value(cfg, key) << "\n";
    }
    return out.str();
}

} // namespace clusterd::config
