// Test support: run the real `serf` binary on loopback. SerfAgent starts `serf agent` on
// 127.0.0.x with free ports, records its PID, waits (bounded) until its RPC answers a handshake,
// and in teardown kills and reaps it, printing its log if the test failed. run_command() runs any
// CLI with a time limit and captures stdout/stderr/exit code. Reusable by any interop test.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace clusterd::testing {

struct CommandResult {
    int exit_code = -1;  ///< -1 if killed on timeout or by a signal
    std::string out;
    std::string err;
};

/// Runs argv (PATH searched) to completion with `extra_env` ("K=V") added; killed after `timeout`.
CommandResult run_command(const std::vector<std::string>& argv,
                          std::chrono::milliseconds timeout = std::chrono::seconds(30),
                          const std::vector<std::string>& extra_env = {});

/// A port free for both TCP and UDP on `ip` right now.
std::uint16_t free_loopback_port(const std::string& ip);

/// A started child process; killed (SIGTERM, then SIGKILL) and reaped on destruction.
class Process {
public:
    Process() = default;
    Process(const std::vector<std::string>& argv, const std::string& log_path,
            const std::vector<std::string>& extra_env = {});
    ~Process();
    Process(Process&& o) noexcept;
    Process& operator=(Process&& o) noexcept;
    Process(const Process&) = delete;
    Process& operator=(const Process&) = delete;

    pid_t pid() const { return pid_; }
    bool running();
    /// Sends `sig`, waits up to `grace`, then SIGKILL; returns the wait status (or -1).
    int stop(int sig, std::chrono::milliseconds grace = std::chrono::milliseconds(5000));

private:
    pid_t pid_ = -1;
};

struct SerfAgentOptions {
    std::string node;                    ///< node name (required)
    std::string ip = "127.0.0.1";        ///< loopback address for bind and RPC
    std::map<std::string, std::string> tags;
    std::string encrypt_key;             ///< base64 gossip key ("" = plaintext)
    std::string rpc_auth;                ///< written to a JSON config file (serf reads it only there)
    std::vector<std::string> extra_args;
    std::string serf_binary = "/usr/bin/serf";
};

class SerfAgent {
public:
    explicit SerfAgent(SerfAgentOptions opts);
    ~SerfAgent();
    SerfAgent(const SerfAgent&) = delete;
    SerfAgent& operator=(const SerfAgent&) = delete;

    /// True once the agent's RPC answered a handshake (false if it failed to start in time).
    bool ready() const { return ready_; }
    const std::string& node() const { return opts_.node; }
    std::string rpc_addr() const { return opts_.ip + ":" + std::to_string(rpc_port_); }
    std::string bind_addr() const { return opts_.ip + ":" + std::to_string(bind_port_); }
    pid_t pid() const { return proc_.pid(); }
    bool running() { return proc_.running(); }
    std::string log() const;
    /// Stops the agent now (SIGTERM, then SIGKILL); idempotent.
    void stop();

private:
    SerfAgentOptions opts_;
    std::string dir_;
    std::uint16_t bind_port_ = 0;
    std::uint16_t rpc_port_ = 0;
    Process proc_;
    bool ready_ = false;
};

}  // namespace clusterd::testing
