// Private to the config module: the table of config keys, the loader-neutral value that the YAML,
// JSON and flag front-ends produce, and the single function that applies one value to a Config.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "clusterd/base/result.hpp"
#include "clusterd/config/config.hpp"

namespace clusterd::config::detail {

/// One value as a front-end read it, before it is checked against the key's type.
struct RawValue {
    enum class Kind { Scalar, List, Map, Null };
    enum class Type { Any, String, Number, Bool }; ///< JSON's type of a scalar; YAML and flags say Any
    Kind kind = Kind::Null;
    Type type = Type::Any;
    std::string text;
    std::vector<std::string> list;
    std::map<std::string, std::string> map;
};

/// Applies `key` (a canonical key: Serf's JSON name or a clusterd extra) to `cfg`. `where` names the
/// origin for errors, e.g. "/etc/clusterd/clusterd.yml: key 'cluster.encrypt'". Lists append, maps
/// merge, scalars replace. Values are validated here (addresses, key size, ttl, enums, durations).
base::Status apply_key(Config& cfg, const std::string& key, const RawValue& value, const std::string& where);

/// The value of a canonical key as text for render_config ("" when unset; secrets as "(set)").
std::string render_value(const Config& cfg, const std::string& key);

/// True if `key` is a canonical key.
bool is_known_key(const std::string& key);

/// " (did you mean 'x'?)" for the closest candidate, or "".
std::string suggest(const std::string& key, const std::vector<std::string>& candidates);

/// "<where>: <message>" as a bad_config error.
base::Error config_error(const std::string& where, const std::string& message);

} // namespace clusterd::config::detail
