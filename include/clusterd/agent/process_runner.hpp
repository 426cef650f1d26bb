// Runs handler scripts as child processes on an asio io_context without ever blocking it:
// posix_spawn of `/bin/sh -c <script>` in its own process group (a script that is just the path
// of an executable file is spawned directly: runs_without_shell), stdin from an in-memory file,
// stdout+stderr through one pipe read as an asio stream descriptor, exit observed through a pidfd.
// Jobs run one at a time in submission order. Output is kept to the last 8 KiB (as Serf's
// circular buffer), a warning is logged after 1 s, and an optional timeout kills a hung script
// (SIGTERM to its process group, then SIGKILL after a grace period).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "clusterd/agent/log_level.hpp"
#include "clusterd/base/latency.hpp"

namespace asio {
class io_context;
}

namespace clusterd::agent {

/// Where the runner's log lines go (the agent routes them into spdlog).
using LogSink = std::function<void(LogLevel, const std::string&)>;

struct HandlerJob {
    std::string script;           ///< run as /bin/sh -c <script>
    std::vector<std::string> env; ///< full environment, "K=V"
    std::string stdin_data;       ///< written to the script's stdin, then EOF
    std::string label;            ///< for log lines, e.g. "member-join"
};

struct HandlerResult {
    std::string script;
    std::string output;             ///< stdout+stderr, the last max_output bytes
    std::uint64_t output_total = 0; ///< bytes the script wrote in all
    bool truncated = false;         ///< output_total > max_output
    bool exited = false;            ///< exited normally (exit_code is valid)
    int exit_code = -1;
    int term_signal = 0;     ///< the signal that ended it, if any
    bool timed_out = false;  ///< killed by the runner's timeout
    std::string spawn_error; ///< non-empty if the script could not be started
    std::chrono::nanoseconds elapsed{0};

    bool success() const { return spawn_error.empty() && exited && exit_code == 0; }
};

struct RunnerOptions {
    std::size_t max_output = 8 * 1024;            ///< bytes kept (Serf: 8 KiB)
    std::chrono::milliseconds slow_warning{1000}; ///< "slow" warning after this (Serf: 1 s)
    std::chrono::nanoseconds timeout{0};          ///< 0 = never kill
    std::chrono::milliseconds kill_grace{2000};   ///< SIGTERM -> SIGKILL delay
    std::string shell = "/bin/sh";
    std::size_t max_queue = 65536; ///< waiting jobs beyond this are dropped (0 = no limit)
};

/// True when `script` is a plain path (has a '/', only letters, digits and `/._-+,@%:`), which
/// `/bin/sh -c` would run as exactly that file with no expansion: the runner then spawns the file
/// itself and saves a shell process per event; if exec refuses it, the shell runs it as before.
bool runs_without_shell(const std::string& script);

/// What the runner has run (metrics: docs/metrics.md).
struct RunnerStats {
    std::uint64_t failed = 0;        ///< finished without exit code 0 (timeouts and spawn failures too)
    std::uint64_t timed_out = 0;     ///< killed by the timeout
    std::uint64_t spawn_failed = 0;  ///< could not be started
    std::uint64_t direct = 0;        ///< started without the /bin/sh -c in between
    base::LatencyHistogram duration; ///< start to exit of every script that started
};

class ProcessRunner {
  public:
    using Callback = std::function<void(const HandlerResult&)>;

    ProcessRunner(asio::io_context& io, RunnerOptions options, LogSink log);
    /// Kills a running child (SIGKILL to its group), reaps it, drops queued jobs without callbacks.
    ~ProcessRunner();
    ProcessRunner(const ProcessRunner&) = delete;
    ProcessRunner& operator=(const ProcessRunner&) = delete;

    /// Queues a job; `done` runs on the io_context when it has finished (never inline, never after
    /// the runner is destroyed). Returns false (and counts a drop) when the queue is full.
    bool submit(HandlerJob job, Callback done);

    /// Jobs queued or running.
    std::size_t pending() const;
    /// Jobs completed since construction.
    std::uint64_t completed() const;
    /// Jobs refused because the queue was full.
    std::uint64_t dropped() const;
    const RunnerStats& stats() const;

    void set_timeout(std::chrono::nanoseconds timeout);

  private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

} // namespace clusterd::agent
