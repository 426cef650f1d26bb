// Handler matching, environment and stdin building, and the dispatcher (see handlers.hpp).
#include "clusterd/agent/handlers.hpp"

#include <algorithm>
#include <set>

extern char** environ; // NOLINT

namespace clusterd::agent {

std::string_view event_kind_name(HandlerEventKind kind) {
    switch (kind) {
    case HandlerEventKind::MemberJoin:
        return "member-join";
    case HandlerEventKind::MemberLeave:
        return "member-leave";
    case HandlerEventKind::MemberFailed:
        return "member-failed";
    case HandlerEventKind::MemberUpdate:
        return "member-update";
    case HandlerEventKind::MemberReap:
        return "member-reap";
    case HandlerEventKind::User:
        return "user";
    case HandlerEventKind::Query:
        return "query";
    }
    return "unknown";
}

base::Result<std::vector<HandlerSpec>> parse_handler_specs(const std::vector<std::string>& specs) {
    std::vector<HandlerSpec> out;
    for (const auto& s : specs) {
        auto parsed = config::parse_handler_spec(s);
        if (!parsed)
            return parsed.error();
        for (auto& p : *parsed)
            out.push_back(std::move(p));
    }
    return out;
}

bool filter_matches(const EventFilter& filter, const HandlerEvent& event) {
    return filter.matches(event_kind_name(event.kind), event.name);
}

std::string tag_env_name(std::string_view key) {
    std::string out;
    out.reserve(key.size());
    for (unsigned char c : key) {
        if (c >= 'a' && c <= 'z')
            c = static_cast<unsigned char>(c - 'a' + 'A');
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
        out.push_back(ok ? static_cast<char>(c) : '_');
    }
    return out;
}

std::string escape_field(std::string_view v) {
    std::string out;
    out.reserve(v.size());
    for (char c : v) {
        if (c == '\t')
            out += "\\t";
        else if (c == '\n')
            out += "\\n";
        else
            out.push_back(c);
    }
    return out;
}

std::vector<std::string> build_handler_env(const HandlerEvent& event, const HandlerSelf& self,
                                           const std::vector<std::string>& inherited) {
    std::vector<std::string> vars;
    auto role = self.tags.find("role");
    vars.push_back("SERF_EVENT=" + std::string(event_kind_name(event.kind)));
    vars.push_back("SERF_SELF_NAME=" + self.name);
    vars.push_back("SERF_SELF_ROLE=" + (role == self.tags.end() ? std::string() : role->second));
    for (const auto& [k, v] : self.tags)
        vars.push_back("SERF_TAG_" + tag_env_name(k) + "=" + v);
    if (event.kind == HandlerEventKind::User) {
        vars.push_back("SERF_USER_EVENT=" + event.name);
        vars.push_back("SERF_USER_LTIME=" + std::to_string(event.ltime));
    } else if (event.kind == HandlerEventKind::Query) {
        vars.push_back("SERF_QUERY_NAME=" + event.name);
        vars.push_back("SERF_QUERY_LTIME=" + std::to_string(event.ltime));
    }
    // Later entries win for duplicate keys (as Go's exec does), so drop the inherited ones and
    // keep only the last of any duplicates among ours (two tags can mangle to one name).
    std::set<std::string> ours;
    for (const auto& v : vars)
        ours.insert(v.substr(0, v.find('=')));
    std::vector<std::string> out;
    for (const auto& e : inherited) {
        const auto eq = e.find('=');
        if (eq == std::string::npos)
            continue;
        if (ours.count(e.substr(0, eq)) == 0)
            out.push_back(e);
    }
    std::set<std::string> seen;
    std::vector<std::string> tail;
    for (auto it = vars.rbegin(); it != vars.rend(); ++it) {
        if (seen.insert(it->substr(0, it->find('='))).second)
            tail.push_back(*it);
    }
    out.insert(out.end(), tail.rbegin(), tail.rend());
    return out;
}

std::string build_handler_stdin(const HandlerEvent& event) {
    if (event.kind == HandlerEventKind::User || event.kind == HandlerEventKind::Query) {
        std::string p = event.payload;
        if (!p.empty() && p.back() != '\n')
            p.push_back('\n');
        return p;
    }
    std::string out;
    for (const auto& m : event.members) {
        std::string tags;
        for (const auto& [k, v] : m.tags) {
            if (!tags.empty())
                tags.push_back(',');
            tags += k + "=" + v;
        }
        auto role = m.tags.find("role");
        out += escape_field(m.name) + "\t" + m.addr + "\t" +
               escape_field(role == m.tags.end() ? std::string() : role->second) + "\t" + escape_field(tags) +
               "\n";
    }
    return out;
}

std::vector<std::string> current_environment() {
    std::vector<std::string> out;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e)
        out.emplace_back(*e);
    return out;
}

HandlerDispatcher::HandlerDispatcher(ProcessRunner& runner, std::vector<HandlerSpec> specs, SelfProvider self,
                                     Responder respond, LogSink log)
    : runner_(runner), specs_(std::move(specs)), self_(std::move(self)), respond_(std::move(respond)),
      log_(std::move(log)) {}

void HandlerDispatcher::update_specs(std::vector<HandlerSpec> specs) {
    specs_ = std::move(specs);
}

std::size_t HandlerDispatcher::dispatch(const HandlerEvent& event) {
    std::size_t queued = 0;
    const HandlerSelf self = self_ ? self_() : HandlerSelf{};
    std::vector<std::string> env;
    std::string input;
    bool built = false;
    for (const auto& spec : specs_) {
        if (!filter_matches(spec.filter, event))
            continue;
        if (!built) {
            env = build_handler_env(event, self, current_environment());
            input = build_handler_stdin(event);
            built = true;
        }
        HandlerJob job{spec.script, env, input, std::string(event_kind_name(event.kind))};
        const bool is_query = event.kind == HandlerEventKind::Query;
        const std::uint64_t id = is_query ? event.query_id : 0;
        const std::string qname = event.name;
        const bool accepted =
            runner_.submit(std::move(job), [this, is_query, id, qname](const HandlerResult& r) {
                if (!r.spawn_error.empty()) {
                    if (log_)
                        log_(LogLevel::Error,
                             "agent: Error invoking script '" + r.script + "': " + r.spawn_error);
                    return;
                }
                if (!r.success()) {
                    if (log_) {
                        const std::string why = r.timed_out ? "killed after the handler timeout"
                                                : r.exited  ? "exit status " + std::to_string(r.exit_code)
                                                            : "signal " + std::to_string(r.term_signal);
                        log_(LogLevel::Error, "agent: Error invoking script '" + r.script + "': " + why);
                    }
                    return;
                }
                if (!is_query || r.output_total == 0 || !respond_)
                    return;
                if (r.output.size() > response_limit_) {
                    if (log_)
                        log_(LogLevel::Warn, "agent: Failed to respond to query '" + qname +
                                                 "': response exceeds limit of " +
                                                 std::to_string(response_limit_) + " bytes");
                    return;
                }
                respond_(id, qname, r.output);
            });
        if (accepted)
            ++queued;
    }
    return queued;
}

} // namespace clusterd::agent
