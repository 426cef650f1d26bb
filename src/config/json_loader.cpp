// The Serf JSON front-end (-config-file / -config-dir): Serf's keys, typed as Serf decodes them
// (strings, numbers, booleans, arrays of strings, string maps); unknown keys are errors, as in Serf.
#include <nlohmann/json.hpp>

#include "config_keys.hpp"

namespace clusterd::config {
namespace {

using detail::RawValue;

base::Result<RawValue> to_raw(const nlohmann::json& j, const std::string& where) {
    RawValue v;
    if (j.is_null()) {
        v.kind = RawValue::Kind::Null;
    } else if (j.is_string()) {
        v.kind = RawValue::Kind::Scalar;
        v.type = RawValue::Type::String;
        v.text = j.get<std::string>();
    } else if (j.is_boolean()) {
        v.kind = RawValue::Kind::Scalar;
        v.type = RawValue::Type::Bool;
        v.text = j.get<bool>() ? "true" : "false";
    } else if (j.is_number_integer()) {
        v.kind = RawValue::Kind::Scalar;
        v.type = RawValue::Type::Number;
        v.text = j.dump();
    } else if (j.is_number()) {
        return detail::config_error(where, "expected an integer, got " + j.dump());
    } else if (j.is_array()) {
        v.kind = RawValue::Kind::List;
        for (const auto& item : j) {
            if (!item.is_string())
                return detail::config_error(where, "expected a list of strings");
            v.list.push_back(item.get<std::string>());
        }
    } else if (j.is_object()) {
        v.kind = RawValue::Kind::Map;
        for (const auto& [k, item] : j.items()) {
            if (!item.is_string())
                return detail::config_error(where + "." + k, "expected a string value");
            v.map[k] = item.get<std::string>();
        }
    }
    return v;
}

} // namespace

base::Status apply_json_text(Config& cfg, const std::string& text, const std::string& source) {
    nlohmann::json doc;
    try {
        doc = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        return base::make_error("bad_config", source + ": invalid JSON: " + e.what());
    }
    if (!doc.is_object())
        return base::make_error("bad_config", source + ": expected a JSON object");
    for (const auto& [name, value] : doc.items()) {
        const std::string where = source + ": key '" + name + "'";
        auto raw = to_raw(value, where);
        if (!raw)
            return raw.error();
        if (auto st = detail::apply_key(cfg, name, *raw, where); !st)
            return st;
    }
    return base::ok_status();
}

} // namespace clusterd::config
