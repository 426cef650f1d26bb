// The `stream` command's event filters and the log-level filter of `monitor` (TRACE < DEBUG <
// INFO < WARN < ERR, matched on the "[LEVEL]" tag of a line). The filter grammar and matching are
// config::EventFilter's (the same filters as event handlers); this header only applies them to
// an IPC event.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "clusterd/config/event_filter.hpp"
#include "clusterd/rpc/agent_api.hpp"

namespace clusterd::rpc {

/// config::EventFilter applied to an IPC event (its type name and user event / query name).
struct EventFilter : config::EventFilter {
    using config::EventFilter::matches;
    bool matches(const Event& e) const;
};

/// config::split_event_filter: splits on ',' exactly as Serf does; "" means "*". Check valid()
/// on each result.
std::vector<EventFilter> parse_event_filter(std::string_view spec);

/// Serf's name of an event's type ("member-join", "user", "query", ...).
std::string event_type_name(const Event& e);

/// Upper-cased level if it is one of TRACE, DEBUG, INFO, WARN, ERR; "" otherwise.
std::string normalize_log_level(std::string_view level);

/// True if `line` should reach a monitor at `min_level` (a normalized level). Lines without a
/// known "[LEVEL]" tag always pass, as in Serf's logutils filter.
bool log_line_passes(std::string_view line, std::string_view min_level);

} // namespace clusterd::rpc
