// The serf fixture: one real `serf agent` on a loopback address, built on Process. It takes two
// ports from the port allocator, logs to the test's output folder, waits (bounded) until its
// RPC answers a handshake, and stops by PID (SIGTERM, then SIGKILL) when the test ends,
// printing its log if the test failed. For mixed clusters of serf and clusterd agents driven
// through the stock CLI, see support/cluster.hpp.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace clusterd::testing {

struct SerfAgentOptions {
    std::string node;             ///< node name (required)
    std::string ip = "127.0.0.1"; ///< loopback address for bind and RPC
    std::map<std::string, std::string> tags;
    std::string encrypt_key; ///< base64 gossip key ("" = plaintext)
    std::string rpc_auth;    ///< written to a JSON config file (serf reads it only there)
    std::vector<std::string> extra_args;
    std::vector<std::string> extra_env = {}; ///< "K=V" added to the agent's environment
    std::string serf_binary = "/usr/bin/serf";
    std::string log_level = "debug";
    /// How long to wait for the RPC handshake.
    std::chrono::milliseconds ready_timeout = std::chrono::seconds(15);
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
    const std::string& ip() const { return opts_.ip; }
    std::uint16_t bind_port() const { return bind_port_; }
    std::uint16_t rpc_port() const { return rpc_port_; }
    std::string rpc_addr() const { return opts_.ip + ":" + std::to_string(rpc_port_); }
    std::string bind_addr() const { return opts_.ip + ":" + std::to_string(bind_port_); }
    /// The agent's folder (its log, config file, whatever the test puts beside them).
    const std::string& dir() const { return dir_; }
    pid_t pid() const { return proc_.pid(); }
    bool running() { return proc_.running(); }
    Process& process() { return proc_; }
    std::string log() const { return proc_.log(); }
    /// Stops the agent now (SIGTERM, then SIGKILL after 3 s); idempotent.
    void stop();

  private:
    SerfAgentOptions opts_;
    std::string dir_;
    std::uint16_t bind_port_ = 0;
    std::uint16_t rpc_port_ = 0;
    Process proc_;
    bool ready_ = false;
};

} // namespace clusterd::testing
