// Test helpers for interop tests: start a child process with its output in a log file, stop it
// by PID (always reaped), run a command and capture its output with a time limit, and pick free
// loopback ports. Every wait here is bounded.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace clusterd::testing {

class Child {
public:
    Child() = default;
    /// Starts argv[0] (PATH searched) with stdout+stderr appended to `log_path`.
    Child(const std::vector<std::string>& argv, const std::string& log_path,
          const std::vector<std::string>& extra_env = {});
    ~Child();
    Child(Child&& o) noexcept;
    Child& operator=(Child&& o) noexcept;
    Child(const Child&) = delete;
    Child& operator=(const Child&) = delete;

    pid_t pid() const { return pid_; }
    bool running();
    /// Sends `sig` and waits (bounded) for exit; escalates to SIGKILL. Returns the wait status.
    int stop(int sig, std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
    /// SIGKILL without grace (a crash).
    void kill9();
    const std::string& log_path() const { return log_; }
    std::string log() const;

private:
    pid_t pid_ = -1;
    std::string log_;
};

struct RunResult {
    int exit_code = -1;  ///< -1 on timeout or signal
    std::string out;     ///< stdout
    std::string err;     ///< stderr
};
/// Runs a command to completion (killed after `timeout`).
RunResult run(const std::vector<std::string>& argv, std::chrono::milliseconds timeout = std::chrono::seconds(20),
              const std::string& stdin_data = "");

/// A port free for both UDP and TCP on `host`.
std::uint16_t free_port(const std::string& host = "127.0.0.1");

/// Polls `cond` every `step` until true or `timeout`; returns the last value.
bool wait_until(const std::function<bool()>& cond, std::chrono::milliseconds timeout,
                std::chrono::milliseconds step = std::chrono::milliseconds(100));

/// A fresh temp directory for one test.
std::string temp_dir(const std::string& tag);

/// The clusterd binary under test ($CLUSTERD_BIN, set by ctest).
std::string clusterd_bin();

}  // namespace clusterd::testing
