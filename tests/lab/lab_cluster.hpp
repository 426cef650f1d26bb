// Agents in a netlab: `serf agent` and `clusterd agent` each in its own host namespace,
// listening on the host's real lab address (default bind 0.0.0.0:7946, RPC 127.0.0.1:7373 of
// that host), observed through the stock `serf` CLI run inside the same namespace. Every agent is
// stopped by PID when the fixture ends; every wait is bounded.
#pragma once

#include <chrono>
#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "support/cluster.hpp"
#include "support/netlab.hpp"
#include "support/process.hpp"

namespace clusterd::testing {

struct LabAgent {
    Kind kind = Kind::Serf;
    std::string name;
    int host = 0;
    std::vector<std::string> argv; ///< without the `ip netns exec` prefix
    Process child;
    const char* kind_name() const { return kind == Kind::Serf ? "serf" : "clusterd"; }
};

class LabCluster : public MemberViews<LabCluster, LabAgent> {
  public:
    LabCluster(netlab::Lab& lab, const std::string& tag);
    ~LabCluster();
    LabCluster(const LabCluster&) = delete;
    LabCluster& operator=(const LabCluster&) = delete;

    /// Starts `name` of `kind` on `host` with `-node -bind=0.0.0.0:7946 -rpc-addr=127.0.0.1:7373
    /// -log-level=debug` plus `extra` (a later -bind in `extra` wins). Waits (bounded) until its
    /// RPC answers, unless `wait` is false.
    LabAgent& start(Kind kind, const std::string& name, int host, const std::vector<std::string>& extra = {},
                    bool wait = true);
    /// Starts the same command line again (after stop/kill).
    LabAgent& restart(LabAgent& a);

    RunResult serf_cli(const LabAgent& via, std::vector<std::string> args,
                       std::chrono::milliseconds timeout = std::chrono::seconds(15));
    RunResult clusterd_cli(const LabAgent& via, std::vector<std::string> args,
                           std::chrono::milliseconds timeout = std::chrono::seconds(15));

    std::string dump() const;
    const std::string& dir() const { return dir_; }
    netlab::Lab& lab() { return lab_; }
    std::deque<LabAgent>& agents() { return agents_; }
    LabAgent& agent(const std::string& name);

  private:
    bool wait_rpc(const LabAgent& a);
    netlab::Lab& lab_;
    std::string dir_;
    std::deque<LabAgent> agents_;
};

} // namespace clusterd::testing
