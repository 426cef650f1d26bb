// Serf event-handler spec parsing (see event_filter.hpp).
#include "clusterd/config/event_filter.hpp"

namespace clusterd::config {

bool valid_event_type(std::string_view e) {
    return e == "member-join" || e == "member-leave" || e == "member-failed" || e == "member-update" ||
           e == "member-reap" || e == "user" || e == "query" || e == "*";
}

bool EventFilter::valid() const {
    return valid_event_type(event);
}

bool EventFilter::matches(std::string_view type, std::string_view event_name) const {
    if (event == "*")
        return true;
    if (event != type)
        return false;
    if ((event == "user" || event == "query") && !name.empty())
        return name == event_name;
    return true;
}

std::vector<EventFilter> split_event_filter(std::string_view filter) {
    if (filter.empty())
        filter = "*";
    std::vector<EventFilter> out;
    std::size_t start = 0;
    while (true) {
        const std::size_t comma = filter.find(',', start);
        std::string_view item =
            filter.substr(start, comma == std::string_view::npos ? std::string_view::npos : comma - start);
        EventFilter f;
        if (item.substr(0, 5) == "user:") {
            f.event = "user";
            f.name = std::string(item.substr(5));
        } else if (item.substr(0, 6) == "query:") {
            f.event = "query";
            f.name = std::string(item.substr(6));
        } else {
            f.event = std::string(item);
        }
        out.push_back(std::move(f));
        if (comma == std::string_view::npos)
            break;
        start = comma + 1;
    }
    return out;
}

base::Result<std::vector<EventFilter>> parse_event_filter(std::string_view filter) {
    std::vector<EventFilter> out = split_event_filter(filter);
    for (const auto& f : out) {
        // Only an item without a user:/query: prefix can be invalid, so `event` is the item.
        if (!f.valid()) {
            return base::make_error("bad_event_filter",
                                    "unknown event type '" + f.event +
                                        "' (valid: member-join, member-leave, member-failed, member-update, "
                                        "member-reap, user, user:NAME, query, query:NAME, *)");
        }
    }
    return out;
}

base::Result<std::vector<HandlerSpec>> parse_handler_spec(std::string_view spec) {
    std::string_view filter, script;
    const std::size_t eq = spec.find('=');
    if (eq == std::string_view::npos) {
        script = spec;
    } else {
        filter = spec.substr(0, eq);
        script = spec.substr(eq + 1);
    }
    const std::string quoted = "'" + std::string(spec) + "'";
    if (script.find_first_not_of(" \t") == std::string_view::npos) {
        return base::make_error("bad_event_handler", "Invalid event script " + quoted + ": empty script");
    }
    auto filters = parse_event_filter(filter);
    if (!filters) {
        return base::make_error("bad_event_handler",
                                "Invalid event script " + quoted + ": " + filters.error().message);
    }
    std::vector<HandlerSpec> out;
    for (auto& f : *filters)
        out.push_back(HandlerSpec{std::move(f), std::string(script)});
    return out;
}

std::string handler_stats_key(const HandlerSpec& spec) {
    return spec.filter.event + ":" + spec.filter.name;
}

} // namespace clusterd::config
