// The `serf agent` flag table that `clusterd agent` accepts, and the values a command line gave.
// Pure data: the cli module turns the table into CLI11 options; config merges the values.
#pragma once

#include <map>
#include <span>
#include <string>
#include <vector>

namespace clusterd::config {

enum class FlagKind {
    String,   ///< one value; last occurrence wins
    Bool,     ///< no value, or =true/=false (Go's bool flags)
    Repeated, ///< may be given many times; every value kept in order
};

struct AgentFlag {
    const char* name; ///< flag name without dashes, Serf's spelling ("rpc-addr")
    FlagKind kind;
    const char* key; ///< the snake_case config key it sets ("rpc_addr")
    const char* help;
};

/// Every flag of `serf agent`, plus clusterd's own extras (config, config-check, data-dir).
std::span<const AgentFlag> agent_flags();

/// What a command line said, keyed by config key. Bool flags store "true"/"false".
struct FlagValues {
    std::map<std::string, std::vector<std::string>> values;

    bool has(const std::string& key) const { return values.count(key) != 0; }
    /// Last value given for a key, or `fallback`.
    std::string last(const std::string& key, const std::string& fallback = "") const {
        auto it = values.find(key);
        return it == values.end() || it->second.empty() ? fallback : it->second.back();
    }
};

} // namespace clusterd::config
