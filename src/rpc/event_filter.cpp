// Event filters for `stream` and log-level filtering for `monitor`.
#include "clusterd/rpc/event_filter.hpp"

#include <array>
#include <cctype>

namespace clusterd::rpc {

namespace {
constexpr std::array<std::string_view, 5> kLevels = {"TRACE", "DEBUG", "INFO", "WARN", "ERR"};

int level_index(std::string_view l) {
    for (std::size_t i = 0; i < kLevels.size(); ++i)
        if (kLevels[i] == l)
            return static_cast<int>(i);
    return -1;
}
} // namespace

std::string event_type_name(const Event& e) {
    if (const auto* m = std::get_if<MemberEvent>(&e))
        return m->type;
    if (std::holds_alternative<UserEvent>(e))
        return "user";
    return "query";
}

bool EventFilter::matches(const Event& e) const {
    std::string_view event_name;
    if (const auto* u = std::get_if<UserEvent>(&e))
        event_name = u->name;
    if (const auto* q = std::get_if<QueryEvent>(&e))
        event_name = q->name;
    return config::EventFilter::matches(event_type_name(e), event_name);
}

std::vector<EventFilter> parse_event_filter(std::string_view spec) {
    std::vector<EventFilter> out;
    for (auto& f : config::split_event_filter(spec))
        out.push_back(EventFilter{std::move(f)});
    return out;
}

std::string normalize_log_level(std::string_view level) {
    std::string up;
    for (char c : level)
        up.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    return level_index(up) >= 0 ? up : std::string();
}

bool log_line_passes(std::string_view line, std::string_view min_level) {
    const auto open = line.find('[');
    if (open == std::string_view::npos)
        return true;
    const auto close = line.find(']', open);
    if (close == std::string_view::npos)
        return true;
    const int lvl = level_index(line.substr(open + 1, close - open - 1));
    if (lvl < 0)
        return true;
    return lvl >= level_index(min_level);
}

} // namespace clusterd::rpc
