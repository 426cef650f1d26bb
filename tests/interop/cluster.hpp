// A loopback cluster of real agents for interop tests: `serf agent` and `clusterd agent`
// started with the same Serf flags, observed through the stock `serf` CLI (so every check
// also exercises clusterd's RPC), stopped by PID when the fixture ends.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "child.hpp"

namespace clusterd::testing {

enum class Kind { Serf, Clusterd };

struct AgentProc {
    Kind kind = Kind::Serf;
    std::string name;
    std::uint16_t port = 0;
    std::uint16_t rpc = 0;
    std::vector<std::string> argv;
    Child child;

    std::string bind_addr() const { return "127.0.0.1:" + std::to_string(port); }
    std::string rpc_addr() const { return "127.0.0.1:" + std::to_string(rpc); }
    const char* kind_name() const { return kind == Kind::Serf ? "serf" : "clusterd"; }
};

class Cluster {
public:
    explicit Cluster(const std::string& tag);
    ~Cluster();
    Cluster(const Cluster&) = delete;
    Cluster& operator=(const Cluster&) = delete;

    /// Starts an agent named `name` of `kind` with Serf's flags plus `extra`; joins `join_to`
    /// when given. Waits (bounded) until its RPC answers `members`.
    AgentProc& start(Kind kind, const std::string& name, const std::vector<std::string>& extra = {},
                     const AgentProc* join_to = nullptr);
    /// Restarts a stopped agent with the same command line (same ports).
    AgentProc& restart(AgentProc& a);

    /// `serf <args...> -rpc-addr=<via>` (the stock CLI against either kind).
    RunResult serf_cli(const AgentProc& via, std::vector<std::string> args,
                       std::chrono::milliseconds timeout = std::chrono::seconds(15));
    /// `clusterd <args...> -rpc-addr=<via>`.
    RunResult clusterd_cli(const AgentProc& via, std::vector<std::string> args,
                           std::chrono::milliseconds timeout = std::chrono::seconds(15));

    /// name -> status as `via` sees the cluster (parsed from `serf members -format json`).
    std::map<std::string, std::string> statuses(const AgentProc& via);
    /// The full JSON member list `via` reports.
    nlohmann::json members_json(const AgentProc& via);
    /// Waits until `via` reports `name` with `status`.
    bool wait_status(const AgentProc& via, const std::string& name, const std::string& status,
                     std::chrono::milliseconds timeout = std::chrono::seconds(30));
    /// Waits until every running agent sees every name in `names` alive.
    bool wait_all_alive(const std::vector<std::string>& names,
                        std::chrono::milliseconds timeout = std::chrono::seconds(30));

    /// Logs of every agent, for failure messages.
    std::string dump() const;
    const std::string& dir() const { return dir_; }
    std::deque<AgentProc>& agents() { return agents_; }

private:
    std::string dir_;
    std::deque<AgentProc> agents_;
};

/// Writes an executable shell script into `dir` and returns its path.
std::string write_script(const std::string& dir, const std::string& name, const std::string& body);
/// Reads a whole file ("" if absent).
std::string read_file(const std::string& path);

}  // namespace clusterd::testing
