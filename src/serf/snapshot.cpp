// Snapshot line format, replay and the append/compaction recorder (see snapshot.hpp).
#include "clusterd/serf/snapshot.hpp"

#include <charconv>

namespace clusterd::serf {
namespace {

bool starts_with(std::string_view s, std::string_view p) {
    return s.substr(0, p.size()) == p;
}

bool parse_u64(std::string_view s, std::uint64_t& out) {
    if (s.empty())
        return false;
    auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && ptr == s.data() + s.size();
}

} // namespace

void SnapshotState::apply_line(std::string_view line, bool rejoin_after_leave) {
    std::uint64_t v = 0;
    if (starts_with(line, "alive: ")) {
        auto info = line.substr(7);
        auto sp = info.rfind(' ');
        if (sp == std::string_view::npos) {
            ++unrecognized_lines;
            return;
        }
        alive_nodes[std::string(info.substr(0, sp))] = std::string(info.substr(sp + 1));
    } else if (starts_with(line, "not-alive: ")) {
        alive_nodes.erase(std::string(line.substr(11)));
    } else if (starts_with(line, "clock: ")) {
        if (parse_u64(line.substr(7), v))
            last_clock = v;
        else
            ++unrecognized_lines;
    } else if (starts_with(line, "event-clock: ")) {
        if (parse_u64(line.substr(13), v))
            last_event_clock = v;
        else
            ++unrecognized_lines;
    } else if (starts_with(line, "query-clock: ")) {
        if (parse_u64(line.substr(13), v))
            last_query_clock = v;
        else
            ++unrecognized_lines;
    } else if (starts_with(line, "coordinate: ")) {
        // legacy: coordinates are not persisted any more
    } else if (line == "leave") {
        saw_leave = true;
        if (rejoin_after_leave)
            return;
        alive_nodes.clear();
        last_clock = 0;
        last_event_clock = 0;
        last_query_clock = 0;
    } else if (starts_with(line, "#")) {
        // comment
    } else {
        ++unrecognized_lines;
    }
}

SnapshotState SnapshotState::replay(std::string_view text, bool rejoin_after_leave) {
    SnapshotState st;
    std::size_t pos = 0;
    while (pos < text.size()) {
        auto nl = text.find('\n', pos);
        if (nl == std::string_view::npos)
            break; // torn last line
        st.apply_line(text.substr(pos, nl - pos), rejoin_after_leave);
        pos = nl + 1;
    }
    return st;
}

std::vector<PreviousNode> SnapshotState::previous_nodes() const {
    std::vector<PreviousNode> out;
    for (const auto& [name, addr] : alive_nodes)
        out.push_back({name, addr});
    return out;
}

SnapshotRecorder::SnapshotRecorder(SnapshotState state, std::size_t file_size, bool rejoin_after_leave,
                                   std::size_t min_compact_size)
    : state_(std::move(state)), offset_(file_size), rejoin_after_leave_(rejoin_after_leave),
      min_compact_size_(min_compact_size) {}

void SnapshotRecorder::append(const std::string& line) {
    pending_ += line;
    offset_ += line.size();
}

void SnapshotRecorder::record_member_event(const MemberEvent& e, LamportTime member_clock_now) {
    if (leaving_)
        return;
    if (e.type == EventType::MemberJoin) {
        for (const auto& m : e.members) {
            std::string addr = host_port(m.addr, m.port);
            state_.alive_nodes[m.name] = addr;
            append("alive: " + m.name + " " + addr + "\n");
        }
    } else if (e.type == EventType::MemberLeave || e.type == EventType::MemberFailed) {
        for (const auto& m : e.members) {
            state_.alive_nodes.erase(m.name);
            append("not-alive: " + m.name + "\n");
        }
    }
    update_clock(member_clock_now);
}

void SnapshotRecorder::update_clock(LamportTime member_clock_now) {
    if (member_clock_now == 0)
        return;
    LamportTime last_seen = member_clock_now - 1;
    if (last_seen > state_.last_clock) {
        state_.last_clock = last_seen;
        append("clock: " + std::to_string(last_seen) + "\n");
    }
}

void SnapshotRecorder::record_user_event(LamportTime ltime) {
    if (leaving_ || ltime <= state_.last_event_clock)
        return;
    state_.last_event_clock = ltime;
    append("event-clock: " + std::to_string(ltime) + "\n");
}

void SnapshotRecorder::record_query(LamportTime ltime) {
    if (leaving_ || ltime <= state_.last_query_clock)
        return;
    state_.last_query_clock = ltime;
    append("query-clock: " + std::to_string(ltime) + "\n");
}

void SnapshotRecorder::record_leave() {
    leaving_ = true;
    if (!rejoin_after_leave_)
        state_.alive_nodes.clear();
    append("leave\n");
}

std::string SnapshotRecorder::drain() {
    std::string out;
    out.swap(pending_);
    return out;
}

std::size_t SnapshotRecorder::max_size() const {
    std::size_t threshold = state_.alive_nodes.size() * kSnapshotBytesPerNode * kSnapshotCompactionThreshold;
    return threshold < min_compact_size_ ? min_compact_size_ : threshold;
}

std::string SnapshotRecorder::compact() {
    std::string out;
    for (const auto& [name, addr] : state_.alive_nodes)
        out += "alive: " + name + " " + addr + "\n";
    out += "clock: " + std::to_string(state_.last_clock) + "\n";
    out += "event-clock: " + std::to_string(state_.last_event_clock) + "\n";
    out += "query-clock: " + std::to_string(state_.last_query_clock) + "\n";
    if (leaving_)
        out += "leave\n";
    pending_.clear();
    offset_ = out.size();
    return out;
}

} // namespace clusterd::serf
