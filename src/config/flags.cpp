#include "clusterd/config/flags.hpp"

#include <array>

namespace clusterd::config {
namespace {
using K = FlagKind;
constexpr std::array kFlags{
    AgentFlag{"bind", K::String, "bind", "address to bind gossip to (host[:port], default 0.0.0.0:7946)"},
    AgentFlag{"iface", K::String, "interface", "network interface to bind to"},
    AgentFlag{"advertise", K::String, "advertise", "address to advertise to peers (host[:port])"},
    AgentFlag{"config-file", K::Repeated, "config_file", "Serf JSON config file (repeatable)"},
    AgentFlag{"config-dir", K::Repeated, "config_dir", "directory of Serf JSON config files (repeatable)"},
    AgentFlag{"discover", K::String, "discover",
              "mDNS cluster name: announce this node and join peers found by mDNS"},
    AgentFlag{"encrypt", K::String, "encrypt_key", "base64 gossip key of 16, 24 or 32 bytes"},
    AgentFlag{"keyring-file", K::String, "keyring_file", "JSON keyring file"},
    AgentFlag{"cluster-label", K::String, "cluster_label",
              "clusterd: label every packet and stream carries and must carry (clusterd-only clusters)"},
    AgentFlag{"event-handler", K::Repeated, "event_handlers", "event handler spec (repeatable)"},
    AgentFlag{"join", K::Repeated, "start_join", "address to join at start (repeatable)"},
    AgentFlag{"replay", K::Bool, "replay_on_join", "replay past user events on join"},
    AgentFlag{"log-level", K::String, "log_level", "trace, debug, info, warn, err"},
    AgentFlag{"node", K::String, "node_name", "node name (default: Kong-style generated name)"},
    AgentFlag{"profile", K::String, "profile", "timing profile: lan, wan or local"},
    AgentFlag{"protocol", K::String, "protocol", "Serf protocol version (2-5)"},
    AgentFlag{"rejoin", K::Bool, "rejoin_after_leave", "rejoin from the snapshot even after a leave"},
    AgentFlag{"retry-join", K::Repeated, "retry_join", "address to keep trying to join (repeatable)"},
    AgentFlag{"retry-interval", K::String, "retry_interval", "time between retry-join attempts"},
    AgentFlag{"retry-max", K::String, "retry_max_attempts",
              "retry-join attempts before giving up (0 = no limit)"},
    AgentFlag{"disable-compression", K::Bool, "disable_compression", "do not LZW-compress gossip"},
    AgentFlag{"role", K::String, "role", "deprecated: sets the 'role' tag"},
    AgentFlag{"rpc-addr", K::String, "rpc_addr", "RPC listen address (default 127.0.0.1:7373)"},
    AgentFlag{"rpc-auth", K::String, "rpc_auth", "RPC auth token"},
    AgentFlag{"rpc-max-connections", K::String, "rpc_max_connections",
              "clusterd: RPC connections held at once (default 4096)"},
    AgentFlag{
        "http-addr", K::String, "http_addr",
        "clusterd: HTTP listen address for health, /cluster, metrics and the status page (off by default)"},
    AgentFlag{"http-token", K::String, "http_token", "clusterd: bearer token the HTTP listener requires"},
    AgentFlag{"snapshot", K::String, "snapshot_path", "snapshot file path"},
    AgentFlag{"tag", K::Repeated, "tags", "tag key=value (repeatable)"},
    AgentFlag{"tags-file", K::String, "tags_file", "JSON tags file"},
    AgentFlag{"syslog", K::Bool, "enable_syslog", "log to syslog too"},
    AgentFlag{"broadcast-timeout", K::String, "broadcast_timeout", "time to wait for a leave broadcast"},
    AgentFlag{"datastore", K::String, "datastore",
              "clusterd: shared node registry (sqlite:PATH); nodes find each other there"},
    AgentFlag{"data-dir", K::String, "data_dir", "clusterd: directory for the node id and state"},
    AgentFlag{"handler-timeout", K::String, "handler_timeout",
              "clusterd: kill a handler after this long (0 = never)"},
    AgentFlag{"config-check", K::Bool, "config_check", "clusterd: validate the config, print it, exit"},
};
} // namespace

std::span<const AgentFlag> agent_flags() {
    return kFlags;
}

} // namespace clusterd::config
