// Serf's event filter syntax ("*", "member-join", "user:deploy", "query:load,member-leave", ...),
// used by the `stream` command (and the same as event-handler filters), and the log-level filter
// of `monitor` (TRACE < DEBUG < INFO < WARN < ERR, matched on the "[LEVEL]" tag of a line).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "clusterd/rpc/agent_api.hpp"

namespace clusterd::rpc {

struct EventFilter {
    std::string event;  ///< "*", "member-join", ..., "user", "query"
    std::string name;   ///< for user:NAME / query:NAME; "" = any
    bool valid() const;
    bool matches(const Event& e) const;
};

/// Splits on ',' exactly as Serf does; "" means "*". Check valid() on each result.
std::vector<EventFilter> parse_event_filter(std::string_view spec);

/// Serf's name of an event's type ("member-join", "user", "query", ...).
std::string event_type_name(const Event& e);

/// Upper-cased level if it is one of TRACE, DEBUG, INFO, WARN, ERR; "" otherwise.
std::string normalize_log_level(std::string_view level);

/// True if `line` should reach a monitor at `min_level` (a normalized level). Lines without a
/// known "[LEVEL]" tag always pass, as in Serf's logutils filter.
bool log_line_passes(std::string_view line, std::string_view min_level);

}  // namespace clusterd::rpc
