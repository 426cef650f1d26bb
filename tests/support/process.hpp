// The process fixture of the test suite: every test that starts a program (serf, clusterd,
// etcd, postgres, a CLI) starts it through this file.
//
//   Process    a started program, stdout+stderr appended to a log file in the test's output
//              folder; stopped by PID (a signal, a bounded wait, then SIGKILL) and always reaped.
//   run()      runs a command to completion with a time limit and returns exit code + output.
//   temp_dir() the test's output folder (logs, data dirs, sockets), named after the test.
//
// Every wait here is bounded. See docs/architecture.md, "Test-support library".
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "support/ports.hpp"
#include "support/wait.hpp"

namespace clusterd::testing {

class Process {
  public:
    Process() = default;
    /// Starts argv[0] (PATH searched) with stdin from /dev/null, stdout+stderr appended to
    /// `log_path`, and `extra_env` ("K=V") added to this process's environment (replacing an
    /// inherited variable of the same name). pid() is -1 if
    /// the program could not be started.
    Process(const std::vector<std::string>& argv, const std::string& log_path,
            const std::vector<std::string>& extra_env = {});
    /// stop(SIGTERM, 3 s): the program gets a chance to exit cleanly, then SIGKILL.
    ~Process();
    Process(Process&& o) noexcept;
    /// Kills (SIGKILL) and reaps what this object held before taking over `o`'s process.
    Process& operator=(Process&& o) noexcept;
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }
    /// False once the process exited (it is reaped then; exit_status() tells how).
    bool running();
    /// Sends `sig` to the PID, waits up to `grace` for it to exit, then SIGKILL and a bounded
    /// wait. Returns the wait status (-1 if nothing was running).
    int stop(int sig, std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
    /// SIGKILL without grace (a crash).
    void kill9();
    /// The wait status of the last exit seen by running() or stop() (-1 before that).
    int exit_status() const { return status_; }
    /// Waits (bounded) until `ready` is true; false at the timeout or as soon as the process
    /// has exited.
    bool wait_ready(const std::function<bool()>& ready, std::chrono::milliseconds timeout,
                    std::chrono::milliseconds poll = std::chrono::milliseconds(100));
    /// Waits (bounded) until the log contains `needle` (false if the process exits first).
    bool wait_log(const std::string& needle, std::chrono::milliseconds timeout);

    const std::string& log_path() const { return log_; }
    std::string log() const;

  private:
    void reaped(int status);

    pid_t pid_ = -1;
    int status_ = -1;
    std::string log_;
};

/// The old name of Process (tests/interop/child.hpp), kept so fixtures read as before.
using Child = Process;

struct RunResult {
    int exit_code = -1; ///< -1 if it was killed at the timeout, died of a signal, or never started
    std::string out;    ///< stdout
    std::string err;    ///< stderr (or why the spawn failed)
};

/// Runs argv (PATH searched) to completion in its own process group, feeding `stdin_data`;
/// the whole group is killed at `timeout`.
RunResult run(const std::vector<std::string>& argv,
              std::chrono::milliseconds timeout = std::chrono::seconds(20),
              const std::string& stdin_data = "", const std::vector<std::string>& extra_env = {});

/// A fresh folder for one test's files: $CLUSTERD_TEST_OUTPUT_DIR (or the system temp dir) /
/// clusterd-<tag>-<test name>-<pid>-<n>. Never removed by the suite, so logs outlive a
/// failure; the path stays short enough for unix sockets inside it.
std::string temp_dir(const std::string& tag);

/// The clusterd binary under test ($CLUSTERD_BIN, set by ctest).
std::string clusterd_bin();

/// Reads a whole file ("" if absent).
std::string read_file(const std::string& path);
/// Writes an executable shell script into `dir` and returns its path.
std::string write_script(const std::string& dir, const std::string& name, const std::string& body);

} // namespace clusterd::testing
