// Event filters for `stream` and log-level filtering for `monitor`.
#include "clusterd/rpc/event_filter.hpp"

#include <array>
#include <cctype>

namespace clusterd::rpc {

namespace {
constexpr std::array<std::string_view, 5> kLevels = {"TRACE", "DEBUG", "INFO", "WARN", "ERR"};

int level_index(std::string_view l) {
    for (std::size_t i = 0; i < kLevels.size(); ++i)
        if (kLevels[i] == l) return static_cast<int>(i);
    return -1;
}
}  // namespace

bool EventFilter::valid() const {
    return event == "member-join" || event == "member-leave" || event == "member-failed" ||
           event == "member-update" || event == "member-reap" || event == "user" || event == "query" ||
           event == "*";
}

std::string event_type_name(const Event& e) {
    if (const auto* m = std::get_if<MemberEvent>(&e)) return m->type;
    if (std::holds_alternative<UserEvent>(e)) return "user";
    return "query";
}

bool EventFilter::matches(const Event& e) const {
    if (event == "*") return true;
    if (event_type_name(e) != event) return false;
    if (event == "user" && !name.empty()) return std::get<UserEvent>(e).name == name;
    if (event == "query" && !name.empty()) return std::get<QueryEvent>(e).name == name;
    return true;
}

std::vector<EventFilter> parse_event_filter(std::string_view spec) {
    if (spec.empty()) spec = "*";
    std::vector<EventFilter> out;
    std::size_t start = 0;
    while (true) {
        const std::size_t comma = spec.find(',', start);
        std::string_view part = spec.substr(start, comma == std::string_view::npos ? spec.npos : comma - start);
        EventFilter f;
        if (part.substr(0, 5) == "user:") {
            f.event = "user";
            f.name = std::string(part.substr(5));
        } else if (part.substr(0, 6) == "query:") {
            f.event = "query";
            f.name = std::string(part.substr(6));
        } else {
            f.event = std::string(part);
        }
        out.push_back(std::move(f));
        if (comma == std::string_view::npos) break;
        start = comma + 1;
    }
    return out;
}

std::string normalize_log_level(std::string_view level) {
    std::string up;
    for (char c : level) up.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    return level_index(up) >= 0 ? up : std::string();
}

bool log_line_passes(std::string_view line, std::string_view min_level) {
    const auto open = line.find('[');
    if (open == std::string_view::npos) return true;
    const auto close = line.find(']', open);
    if (close == std::string_view::npos) return true;
    const int lvl = level_index(line.substr(open + 1, close - open - 1));
    if (lvl < 0) return true;
    return lvl >= level_index(min_level);
}

}  // namespace clusterd::rpc
