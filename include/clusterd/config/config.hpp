// clusterd's effective configuration and how it is loaded. Layers, later wins:
//   built-in defaults <- the YAML file (Kong's keys + every Serf option in snake_case)
//   <- Serf JSON files (-config-file / -config-dir, Serf's keys) <- command-line flags.
// Lists (event_handlers, start_join, retry_join) append across layers and tags merge, as Serf's
// MergeConfig does. Every error names the file (or flag), the key and what is wrong.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "clusterd/base/result.hpp"
#include "clusterd/base/time.hpp"
#include "clusterd/config/flags.hpp"

namespace clusterd::config {

struct Config {
    // --- where it came from ---
    std::string config_file;                    ///< the YAML file that was read ("" if none)
    std::vector<std::string> json_files;        ///< Serf JSON files read, in order
    std::vector<std::string> warnings;          ///< non-fatal notes (clamped values, deprecated keys)
    std::map<std::string, std::string> origins; ///< canonical key -> "<file>: key 'x'" that set it last

    // --- Serf agent options (JSON key names) ---
    std::string node_name; ///< "" until resolved: Kong-style generated name
    std::string role;      ///< deprecated: copied into tags["role"]
    bool disable_coordinates = false;
    std::map<std::string, std::string> tags;
    std::string tags_file;
    std::string bind = "0.0.0.0:7946"; ///< cluster_listen / -bind
    std::string interface_name;        ///< "interface" / -iface
    std::string advertise;             ///< cluster.advertise / -advertise
    std::string encrypt_key;           ///< cluster.encrypt / -encrypt (base64 of 16/24/32 bytes)
    std::string keyring_file;
    /// cluster_label / -cluster-label: memberlist's label header on every packet and stream
    /// (clusterd-to-clusterd; Serf 0.9.4 has no labels). Empty: none, the wire as Serf's.
    std::string cluster_label;
    std::string log_level = "info";          ///< trace, debug, info, warn, err (stored lower-case)
    std::string rpc_addr = "127.0.0.1:7373"; ///< cluster_listen_rpc / -rpc-addr
    std::string rpc_auth;
    int protocol = 5;
    bool replay_on_join = false;
    int query_response_size_limit = 1024;
    int query_size_limit = 1024;
    int user_event_size_limit = 512;
    std::vector<std::string> start_join;
    std::vector<std::string> event_handlers; ///< raw specs; parse with parse_handler_spec
    std::string profile = "lan";             ///< lan, wan, local (cluster.profile)
    std::string snapshot_path;
    bool leave_on_terminate = false;
    bool skip_leave_on_interrupt = false;
    std::string discover;
    base::Duration reconnect_interval = std::chrono::seconds(30);
    base::Duration reconnect_timeout = std::chrono::hours(24);
    base::Duration tombstone_timeout = std::chrono::hours(24);
    bool disable_name_resolution = false;
    bool enable_syslog = false;
    std::string syslog_facility = "LOCAL0";
    std::vector<std::string> retry_join;
    int retry_max_attempts = 0; ///< 0 = no limit
    base::Duration retry_interval = std::chrono::seconds(30);
    bool rejoin_after_leave = false;
    bool enable_compression = true; ///< -disable-compression clears it
    std::string statsite_addr;
    std::string statsd_addr;
    /// clusterd: how often statsd_addr/statsite_addr are sent the metrics (go-metrics: 10 s).
    base::Duration metrics_interval = std::chrono::seconds(10);
    base::Duration broadcast_timeout = std::chrono::seconds(5);
    bool validate_node_names = false;

    // --- Kong / clusterd extras ---
    /// Kong's meaning: seconds a datastore row lives after its last refresh (min 60). Not
    /// Serf's reconnect_timeout/tombstone_timeout, which keep their own keys and defaults.
    int ttl_on_failure = 3600;
    /// Shared node registry (Kong's cluster model): "sqlite:PATH", "postgres://…", "etcd://…";
    /// "" = none. May hold a password: show it only through redact_datastore().
    std::string datastore;
    /// How often this node refreshes its row; must be < ttl_on_failure / 2. Default 30s
    /// (ttl_on_failure / 3 when 30s would be too long for the TTL).
    base::Duration datastore_refresh_interval = std::chrono::seconds(30);
    /// A file whose first line is the datastore password (postgres), so it is not in the URL.
    std::string datastore_password_file;
    /// The HTTP listener (health, /cluster, metrics, status page): "ip:port", "" = off.
    /// cluster_listen_http / -http-addr. A non-loopback address needs http_token.
    std::string http_addr;
    std::string http_token;            ///< -http-token: `Authorization: Bearer <token>` required when set
    std::string data_dir;              ///< node-id file lives here
    base::Duration handler_timeout{0}; ///< kill a handler after this long; 0 = never
    bool config_check = false;         ///< -config-check: validate, print, exit
    /// clusterd: RPC connections held at once (Serf has no cap). Above it, a new client evicts an
    /// untrusted or idle one (rpc::Server); the agent raises its open-file limit to fit.
    int rpc_max_connections = 4096;
};

/// Where the YAML file comes from: `-c/--config` (in flags as "config"), then $CLUSTERD_CONFIG
/// (passed in by the caller), then /etc/clusterd/clusterd.yml if it exists.
std::string pick_config_path(const FlagValues& flags, const char* env_value);

/// Loads defaults <- YAML file (if `path` is non-empty) <- Serf JSON files named by the
/// config_file / config_dir flags <- flags, then validates. Reads files; nothing else.
base::Result<Config> load_config(const std::string& path, const FlagValues& flags);

/// The same from in-memory YAML text (`source` names it in errors); no JSON files, no flags.
base::Result<Config> load_yaml_text(const std::string& text, const std::string& source);

/// Applies one YAML document (Kong keys + Serf snake_case keys) on top of `cfg`.
base::Status apply_yaml_text(Config& cfg, const std::string& text, const std::string& source);

/// Applies one Serf JSON document (text) on top of `cfg`; `source` names it in errors.
base::Status apply_json_text(Config& cfg, const std::string& text, const std::string& source);

/// Applies command-line flag values on top of `cfg`.
base::Status apply_flags(Config& cfg, const FlagValues& flags);

/// Checks the merged config (addresses, key, ttl, profile, limits, handlers...), applies derived
/// values (role -> tags, ttl_on_failure -> reconnect_timeout, clamps with warnings).
base::Status validate_config(Config& cfg);

/// The effective config as "key = value" lines for `clusterd agent -config-check`; secrets
/// (encrypt_key, rpc_auth, http_token) are shown only as "(set)".
std::string render_config(const Config& cfg);

/// A datastore URL with any password replaced by "***" (user:secret@ and password=…).
std::string redact_datastore(const std::string& url);

/// RFC 3986 percent-encoding of everything but unreserved characters (URL user/password parts).
std::string percent_encode(const std::string& s);

/// Every config key a file may use (Serf's JSON keys plus clusterd's own), for suggestions/docs.
std::vector<std::string> known_keys();

/// Parses "host[:port]" / "[v6][:port]" with an IP literal host (or, with allow_host_names, a
/// DNS host name, resolved later by the caller); on success yields the host and port
/// (default_port when absent). bind and rpc_addr take IP literals; advertise takes names too.
base::Status check_ip_port(const std::string& text, int default_port, std::string* host = nullptr,
                           int* port = nullptr, bool allow_host_names = false);

/// True for a syntactically valid DNS host name (letters, digits, '-', '_', dots; labels of
/// 1-63 characters; at most 253 characters; not all digits and dots).
bool is_host_name(const std::string& text);

} // namespace clusterd::config
