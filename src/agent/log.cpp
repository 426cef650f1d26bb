#include "clusterd/agent/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <ctime>

namespace clusterd::agent {
namespace {

std::shared_ptr<spdlog::logger> stderr_logger() {
    static auto logger = [] {
        auto l = spdlog::stderr_logger_mt("clusterd");
        l->set_pattern("%v");
        l->set_level(spdlog::level::trace);
        l->flush_on(spdlog::level::trace);
        return l;
    }();
    return logger;
}
} // namespace

std::optional<LogLevel> parse_log_level(std::string_view text) {
    std::string t(text);
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::toupper(c); });
    if (t == "TRACE")
        return LogLevel::Trace;
    if (t == "DEBUG")
        return LogLevel::Debug;
    if (t == "INFO")
        return LogLevel::Info;
    if (t == "WARN" || t == "WARNING")
        return LogLevel::Warn;
    if (t == "ERR" || t == "ERROR")
        return LogLevel::Error;
    return std::nullopt;
}

const char* log_level_name(LogLevel level) {
    switch (level) {
    case LogLevel::Trace:
        return "TRACE";
    case LogLevel::Debug:
        return "DEBUG";
    case LogLevel::Info:
        return "INFO";
    case LogLevel::Warn:
        return "WARN";
    case LogLevel::Error:
        return "ERR";
    }
    return "INFO";
}

LogHub::LogHub(LogLevel min_level, bool to_stderr) : level_(min_level), to_stderr_(to_stderr) {}
LogHub::~LogHub() = default;

namespace {

// Serf's line: "YYYY/MM/DD HH:MM:SS [LEVEL] component: message" (local time).
std::string format_line(std::time_t at, LogLevel level, std::string_view body) {
    std::tm tm{};
    localtime_r(&at, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y/%m/%d %H:%M:%S", &tm);
    std::string line;
    line.reserve(32 + body.size());
    line.append(stamp).append(" [").append(log_level_name(level)).append("] ").append(body);
    return line;
}

} // namespace

void LogHub::log(LogLevel level, std::string_view component, std::string_view message) {
    const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::string body;
    body.reserve(component.size() + 2 + message.size());
    body.append(component).append(": ").append(message);
    const std::string line = format_line(now, level, body);
    // A line longer than the 24-bit length keeps its first 16 MiB - 1 bytes in the ring.
    const std::size_t keep = std::min<std::size_t>(body.size(), (1u << 24) - 1);
    text_.insert(text_.end(), body.begin(), body.begin() + static_cast<std::ptrdiff_t>(keep));
    lines_.push_back(Line{static_cast<std::uint32_t>(now), static_cast<std::uint32_t>(keep),
                          static_cast<std::uint32_t>(level)});
    if (lines_.size() > kRingLines) {
        text_.erase(text_.begin(), text_.begin() + static_cast<std::ptrdiff_t>(lines_.front().len));
        lines_.pop_front();
    }
    if (to_stderr_ && level >= level_)
        stderr_logger()->info(line);
    // Copy: a subscriber may unsubscribe itself while being called.
    auto subs = subs_;
    for (auto& [id, sub] : subs) {
        if (level >= sub.min)
            sub.fn(line);
    }
}

int LogHub::subscribe(LogLevel min_level, Subscriber subscriber) {
    auto at = text_.begin();
    std::string body;
    for (const Line& l : lines_) {
        const auto end = at + static_cast<std::ptrdiff_t>(l.len);
        const auto level = static_cast<LogLevel>(l.level);
        if (level >= min_level) {
            body.assign(at, end);
            subscriber(format_line(static_cast<std::time_t>(l.at), level, body));
        }
        at = end;
    }
    int id = next_id_++;
    subs_.emplace(id, Sub{min_level, std::move(subscriber)});
    return id;
}

void LogHub::unsubscribe(int id) {
    subs_.erase(id);
}

} // namespace clusterd::agent
