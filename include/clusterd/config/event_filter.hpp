// Serf's event filters ("*", "member-join", "user:deploy", "query:load,member-leave", ...) and
// its event-handler spec syntax ("script", "member-join,user:deploy=script", "query:NAME=script").
// The one home of the filter grammar and of matching: config validation, the agent's handler
// dispatcher and the RPC `stream` command (rpc/event_filter.hpp) all use it.
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

    /// True when `event` is a type Serf accepts in a filter.
    bool valid() const;
    /// Serf's EventFilter.Invoke: "*" matches everything; otherwise the type must be equal, and
    /// a user/query filter with a name also needs the event's name to be equal. `type` is Serf's
    /// type string ("member-join", ..., "user", "query"); `name` the user event or query name.
    bool matches(std::string_view type, std::string_view name) const;

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

/// Splits "a,b,user:x" at every ',' exactly as Serf does ("" means "*") without checking types
/// (the RPC `stream` command reports an invalid one itself).
std::vector<EventFilter> split_event_filter(std::string_view filter);

/// split_event_filter, failing with a clear error on an unknown type.
base::Result<std::vector<EventFilter>> parse_event_filter(std::string_view filter);

/// Parses one `-event-handler` value: "script" or "filter=script" (split at the first '=').
/// Fails with "Invalid event script: ..." on an unknown type or an empty script.
base::Result<std::vector<HandlerSpec>> parse_handler_spec(std::string_view spec);

/// The `serf info` key of a handler: "member-join:" / "user:deploy" / "*:".
std::string handler_stats_key(const HandlerSpec& spec);

} // namespace clusterd::config
