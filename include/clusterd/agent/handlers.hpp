// Event handlers, Serf-style: which handler specs match an event, and the exact environment and
// stdin a handler script gets (SERF_EVENT, SERF_SELF_NAME, SERF_SELF_ROLE, SERF_TAG_*,
// SERF_USER_EVENT/LTIME, SERF_QUERY_NAME/LTIME; member lines "name\taddr\trole\ttags").
// HandlerEvent is a plain struct: the agent adapts the Serf layer's events to it.
// HandlerDispatcher queues matching scripts on a ProcessRunner, in event order.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "clusterd/agent/process_runner.hpp"
#include "clusterd/base/result.hpp"
#include "clusterd/config/event_filter.hpp"

namespace clusterd::agent {

using config::EventFilter;
using config::HandlerSpec;

enum class HandlerEventKind { MemberJoin, MemberLeave, MemberFailed, MemberUpdate, MemberReap, User, Query };

/// Serf's name of the kind: "member-join", ..., "user", "query" (the SERF_EVENT value).
std::string_view event_kind_name(HandlerEventKind kind);

struct HandlerMember {
    std::string name;
    std::string addr; ///< IP as text, no port (Go's net.IP.String(): "10.0.0.1", "::1")
    std::map<std::string, std::string> tags;
};

struct HandlerEvent {
    HandlerEventKind kind = HandlerEventKind::MemberJoin;
    std::vector<HandlerMember> members; ///< member events
    std::string name;                   ///< user event / query name
    std::uint64_t ltime = 0;            ///< user event / query Lamport time
    std::string payload;                ///< user event / query payload (raw bytes)
    bool coalesce = false;              ///< user events
    std::uint64_t query_id = 0;         ///< queries: the id the response must carry
};

/// The local node as handlers see it.
struct HandlerSelf {
    std::string name;
    std::map<std::string, std::string> tags;
};

/// Parses every `event_handlers` spec (config strings) into HandlerSpecs.
base::Result<std::vector<HandlerSpec>> parse_handler_specs(const std::vector<std::string>& specs);

/// Serf's EventFilter.Invoke: "*" matches all; otherwise the type must match, and for
/// user/query filters with a name the event name must match exactly.
bool filter_matches(const EventFilter& filter, const HandlerEvent& event);

/// SERF_TAG_ suffix for a tag key: upper-cased, every char outside [A-Z0-9_] becomes '_'.
std::string tag_env_name(std::string_view key);

/// Serf's eventClean: tab -> "\t", newline -> "\n" (two characters each).
std::string escape_field(std::string_view v);

/// The handler's environment: `inherited` ("K=V" entries, e.g. from environ) with every key the
/// handler variables set removed, then SERF_EVENT, SERF_SELF_NAME, SERF_SELF_ROLE, SERF_TAG_*
/// (sorted by tag key) and SERF_USER_EVENT+SERF_USER_LTIME or SERF_QUERY_NAME+SERF_QUERY_LTIME.
std::vector<std::string> build_handler_env(const HandlerEvent& event, const HandlerSelf& self,
                                           const std::vector<std::string>& inherited);

/// The handler's stdin: member events give one "name\taddr\trole\ttags\n" line per member (tags as
/// k=v joined by ',' in key order; name, role and tags escaped); user/query events give the payload
/// with "\n" appended when it is non-empty and does not end in one.
std::string build_handler_stdin(const HandlerEvent& event);

/// The current process environment as "K=V" strings.
std::vector<std::string> current_environment();

/// Runs the matching handler scripts for each event on a ProcessRunner (one at a time, in event
/// order), and sends a query handler's output back through `respond` when it exits 0.
/// Destroy the runner before (or together with) the dispatcher: results are delivered through
/// callbacks that refer to it, and a destroyed runner delivers none.
class HandlerDispatcher {
  public:
    using SelfProvider = std::function<HandlerSelf()>;
    /// Called with (query id, query name, response bytes) when a query handler produced a response.
    using Responder = std::function<void(std::uint64_t, const std::string&, const std::string&)>;

    HandlerDispatcher(ProcessRunner& runner, std::vector<HandlerSpec> specs, SelfProvider self,
                      Responder respond, LogSink log);

    /// Queues every matching script for `event`; returns how many were queued (a full runner
    /// queue refuses jobs: see ProcessRunner::dropped()).
    std::size_t dispatch(const HandlerEvent& event);

    /// Replaces the handler list (SIGHUP reload); applies to events dispatched afterwards.
    void update_specs(std::vector<HandlerSpec> specs);
    const std::vector<HandlerSpec>& specs() const { return specs_; }

    /// Query response size cap (config query_response_size_limit).
    void set_query_response_limit(std::size_t limit) { response_limit_ = limit; }

  private:
    ProcessRunner& runner_;
    std::vector<HandlerSpec> specs_;
    SelfProvider self_;
    Responder respond_;
    LogSink log_;
    std::size_t response_limit_ = 1024;
};

} // namespace clusterd::agent
