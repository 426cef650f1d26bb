// clusterd's effective configuration and how it is loaded: built-in defaults, then the YAML file
// (Kong's keys), then command-line flags. Every error names the file, the key and the problem.
#pragma once

#include <string>
#include <vector>

#include "clusterd/base/result.hpp"
#include "clusterd/config/flags.hpp"

namespace clusterd::config {

struct Config {
    std::string config_file;                  ///< the YAML file that was read ("" if none)
    std::string bind = "0.0.0.0:7946";        ///< cluster_listen / -bind
    std::string rpc_addr = "127.0.0.1:7373";  ///< cluster_listen_rpc / -rpc-addr
    std::string advertise;                    ///< cluster.advertise / -advertise
    std::string node_name;                    ///< -node; empty: generated Kong-style name
    std::string log_level = "info";
    std::vector<std::string> start_join;
};

/// Where the YAML file comes from: `-c/--config` (in flags as "config"), then $CLUSTERD_CONFIG
/// (passed in by the caller), then /etc/clusterd/clusterd.yml if it exists.
std::string pick_config_path(const FlagValues& flags, const char* env_value);

/// Loads defaults <- YAML file (if `path` is non-empty) <- flags.
base::Result<Config> load_config(const std::string& path, const FlagValues& flags);

}  // namespace clusterd::config
