// Serf's event-handler spec syntax ("script", "member-join,user:deploy=script", "*=script",
// "query:NAME=script") and its event filters. Shared by config validation, the agent's handler
// dispatcher and the RPC `stream` command, which uses the same filter syntax.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "clusterd/base/result.hpp"

namespace clusterd::config {

/// One filter: an event type ("member-join", ..., "user", "query" or "*") and, for user/query,
/// an optional event/query name ("" = any name).
struct EventFilter {
    std::string event;
    std::string name;

    friend bool operator==(const EventFilter&, const EventFilter&) = default;
};

/// One handler: a filter and the shell command it runs. A spec with N comma-separated types
/// expands to N HandlerSpecs that share the script (as Serf does).
struct HandlerSpec {
    EventFilter filter;
    std::string script;

    friend bool operator==(const HandlerSpec&, const HandlerSpec&) = default;
};

/// True for the event types Serf accepts in a filter.
bool valid_event_type(std::string_view event);

/// Splits "a,b,user:x" into filters; "" means "*". Fails on an unknown type.
base::Result<std::vector<EventFilter>> parse_event_filter(std::string_view filter);

/// Parses one `-event-handler` value: "script" or "filter=script" (split at the first '=').
/// Fails with "Invalid event script: ..." on an unknown type or an empty script.
base::Result<std::vector<HandlerSpec>> parse_handler_spec(std::string_view spec);

/// The `serf info` key of a handler: "member-join:" / "user:deploy" / "*:".
std::string handler_stats_key(const HandlerSpec& spec);

}  // namespace clusterd::config
