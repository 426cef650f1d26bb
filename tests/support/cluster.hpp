// A loopback cluster of real agents for interop tests: `serf agent` and `clusterd agent`
// started with the same Serf flags (Process + ports from the allocator), observed through the
// stock `serf` CLI (so every check also exercises clusterd's RPC), stopped by PID when the
// fixture ends. Every agent's log is in the cluster's folder (temp_dir), dump() prints them.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "support/process.hpp"

namespace clusterd::testing {

enum class Kind { Serf, Clusterd };

struct AgentProc {
    Kind kind = Kind::Serf;
    std::string name;
    std::uint16_t port = 0;
    std::uint16_t rpc = 0;
    std::string host = "127.0.0.1"; ///< an IP literal; IPv6 ones are bracketed in addresses
    std::vector<std::string> argv;
    Process child;

    std::string bind_addr() const { return join_host() + ":" + std::to_string(port); }
    std::string rpc_addr() const { return join_host() + ":" + std::to_string(rpc); }
    std::string join_host() const { return host.find(':') == std::string::npos ? host : "[" + host + "]"; }
    const char* kind_name() const { return kind == Kind::Serf ? "serf" : "clusterd"; }
};

/// What both cluster fixtures (loopback `Cluster`, namespace `LabCluster`) read from their agents
/// through the stock `serf members -format json`: `Derived` provides `serf_cli(agent, args,
/// timeout)` and `agents()`; every agent has a `child`.
template <typename Derived, typename Agent> class MemberViews {
  public:
    /// The full JSON member list `via` reports (an empty object when it cannot answer).
    nlohmann::json members_json(const Agent& via) {
        auto r = self().serf_cli(via, {"members", "-format=json"}, std::chrono::seconds(5));
        if (r.exit_code != 0)
            return nlohmann::json::object();
        auto j = nlohmann::json::parse(r.out, nullptr, false);
        return j.is_discarded() ? nlohmann::json::object() : j;
    }
    /// name -> status as `via` sees the cluster.
    std::map<std::string, std::string> statuses(const Agent& via) {
        std::map<std::string, std::string> out;
        auto j = members_json(via);
        if (!j.contains("members"))
            return out;
        for (const auto& m : j["members"])
            out[m.value("name", "")] = m.value("status", "");
        return out;
    }
    /// Waits until `via` reports `name` with `status`.
    bool wait_status(const Agent& via, const std::string& name, const std::string& status,
                     std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
        return wait_until(
            [&] {
                auto s = statuses(via);
                auto it = s.find(name);
                return it != s.end() && it->second == status;
            },
            timeout, std::chrono::milliseconds(250));
    }
    /// Waits until every running agent sees every name in `names` alive.
    bool wait_all_alive(const std::vector<std::string>& names,
                        std::chrono::milliseconds timeout = std::chrono::seconds(30)) {
        return wait_until(
            [&] {
                for (auto& a : self().agents()) {
                    if (!a.child.running())
                        continue;
                    auto s = statuses(a);
                    for (const auto& n : names) {
                        auto it = s.find(n);
                        if (it == s.end() || it->second != "alive")
                            return false;
                    }
                }
                return true;
            },
            timeout, std::chrono::milliseconds(250));
    }

  private:
    Derived& self() { return static_cast<Derived&>(*this); }
};

class Cluster : public MemberViews<Cluster, AgentProc> {
  public:
    /// Agents bind gossip and RPC to `host` (loopback; "::1" for an IPv6 cluster).
    explicit Cluster(const std::string& tag, std::string host = "127.0.0.1");
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

    /// Logs of every agent, for failure messages.
    std::string dump() const;
    const std::string& dir() const { return dir_; }
    std::deque<AgentProc>& agents() { return agents_; }

  private:
    std::string dir_;
    std::string host_;
    std::deque<AgentProc> agents_;
};

} // namespace clusterd::testing
