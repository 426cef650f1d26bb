// The agent's log hub: Serf-format lines ("2026/11/25 04:10:00 [INFO] agent: ..."), written to
// stderr through spdlog, kept in a ring of recent lines, and fanned out to `monitor` subscribers.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "clusterd/agent/log_level.hpp"

namespace clusterd::agent {

/// Parses Serf's level names (TRACE, DEBUG, INFO, WARN, ERR; case-insensitive; ERROR/WARNING too).
std::optional<LogLevel> parse_log_level(std::string_view text);
const char* log_level_name(LogLevel level);

class LogHub {
  public:
    using Subscriber = std::function<void(const std::string& line)>;

    explicit LogHub(LogLevel min_level, bool to_stderr = true);
    ~LogHub();
    LogHub(const LogHub&) = delete;
    LogHub& operator=(const LogHub&) = delete;

    void set_level(LogLevel level) { level_ = level; }
    LogLevel level() const { return level_; }

    /// Logs one line if `level` passes the hub's level (subscribers filter on their own level).
    void log(LogLevel level, std::string_view component, std::string_view message);
    void info(std::string_view component, std::string_view message) {
        log(LogLevel::Info, component, message);
    }
    void warn(std::string_view component, std::string_view message) {
        log(LogLevel::Warn, component, message);
    }
    void error(std::string_view component, std::string_view message) {
        log(LogLevel::Error, component, message);
    }
    void debug(std::string_view component, std::string_view message) {
        log(LogLevel::Debug, component, message);
    }

    /// Subscribes to lines at `min_level` or above; the recent ring is replayed first.
    int subscribe(LogLevel min_level, Subscriber subscriber);
    void unsubscribe(int id);

    /// Lines the recent ring holds (at most kRingLines, as Serf's 512-line log writer).
    std::size_t recent_lines() const { return lines_.size(); }
    /// Bytes of text the recent ring holds (its lines without their time stamp and level).
    std::size_t recent_text_bytes() const { return text_.size(); }
    static constexpr std::size_t kRingLines = 512;

  private:
    struct Sub {
        LogLevel min;
        Subscriber fn;
    };
    LogLevel level_;
    bool to_stderr_;
    // The recent ring: each line's "component: message" back to back, and per line its second,
    // level and length in 8 bytes; the "YYYY/MM/DD HH:MM:SS [LEVEL] " prefix (27 bytes and more
    // than a third of a member-join line) is formatted again when the ring is replayed.
    struct Line {
        std::uint32_t at;        ///< seconds since the epoch (wraps in 2106)
        std::uint32_t len : 24;  ///< bytes in text_
        std::uint32_t level : 8; ///< LogLevel
    };
    std::deque<char> text_;
    std::deque<Line> lines_;
    std::map<int, Sub> subs_;
    int next_id_ = 1;
};

} // namespace clusterd::agent
