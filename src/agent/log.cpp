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

void LogHub::log(LogLevel level, std::string_view component, std::string_view message) {
    const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    std::tm tm{};
    localtime_r(&now, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y/%m/%d %H:%M:%S", &tm);
    std::string line = std::string(stamp) + " [" + log_level_name(level) + "] " + std::string(component) +
                       ": " + std::string(message);
    text_.insert(text_.end(), line.begin(), line.end());
    lines_.emplace_back(level, static_cast<std::uint32_t>(line.size()));
    if (lines_.size() > kRingLines) {
        text_.erase(text_.begin(), text_.begin() + static_cast<std::ptrdiff_t>(lines_.front().second));
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
    for (const auto& [level, len] : lines_) {
        const auto end = at + static_cast<std::ptrdiff_t>(len);
        if (level >= min_level)
            subscriber(std::string(at, end));
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
