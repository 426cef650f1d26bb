#include "clusterd/config/config.hpp"

#include <yaml-cpp/yaml.h>

#include <filesystem>

namespace clusterd::config {

std::string pick_config_path(const FlagValues& flags, const char* env_value) {
    if (flags.has("config")) return flags.last("config");
    if (env_value != nullptr && *env_value != '\0') return env_value;
    if (std::filesystem::exists("/etc/clusterd/clusterd.yml")) return "/etc/clusterd/clusterd.yml";
    return "";
}

base::Result<Config> load_config(const std::string& path, const FlagValues& flags) {
    Config cfg;
    if (!path.empty()) {
        cfg.config_file = path;
        try {
            YAML::Node root = YAML::LoadFile(path);
            if (root["cluster_listen"]) cfg.bind = root["cluster_listen"].as<std::string>();
            if (root["cluster_listen_rpc"]) cfg.rpc_addr = root["cluster_listen_rpc"].as<std::string>();
            if (root["node_name"]) cfg.node_name = root["node_name"].as<std::string>();
            if (root["cluster"] && root["cluster"]["advertise"])
                cfg.advertise = root["cluster"]["advertise"].as<std::string>();
        } catch (const YAML::Exception& e) {
            return base::make_error("bad_config", path + ": " + e.what());
        }
    }
    if (flags.has("bind")) cfg.bind = flags.last("bind");
    if (flags.has("rpc_addr")) cfg.rpc_addr = flags.last("rpc_addr");
    if (flags.has("node_name")) cfg.node_name = flags.last("node_name");
    if (flags.has("advertise")) cfg.advertise = flags.last("advertise");
    if (flags.has("log_level")) cfg.log_level = flags.last("log_level");
    if (flags.has("start_join")) cfg.start_join = flags.values.at("start_join");
    return cfg;
}

}  // namespace clusterd::config
