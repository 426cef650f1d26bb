#include "support/cluster.hpp"

#include <signal.h>

namespace clusterd::testing {

Cluster::Cluster(const std::string& tag, std::string host) : dir_(temp_dir(tag)), host_(std::move(host)) {}

Cluster::~Cluster() {
    for (auto& a : agents_)
        a.child.stop(SIGKILL, std::chrono::milliseconds(2000));
}

AgentProc& Cluster::start(Kind kind, const std::string& name, const std::vector<std::string>& extra,
                          const AgentProc* join_to) {
    AgentProc a;
    a.kind = kind;
    a.name = name;
    a.host = host_;
    a.port = free_port(host_);
    a.rpc = free_port(host_);
    a.argv = {kind == Kind::Serf ? std::string("serf") : clusterd_bin(),
              "agent",
              "-node=" + name,
              "-bind=" + a.bind_addr(),
              "-rpc-addr=" + a.rpc_addr(),
              "-log-level=debug"};
    for (const auto& e : extra)
        a.argv.push_back(e);
    if (join_to != nullptr)
        a.argv.push_back("-join=" + join_to->bind_addr());
    agents_.push_back(std::move(a));
    return restart(agents_.back());
}

AgentProc& Cluster::restart(AgentProc& a) {
    a.child = Process(a.argv, dir_ + "/" + a.name + ".log");
    // Ready once its RPC answers `members`; an agent that exits (a bad flag) ends the wait early.
    a.child.wait_ready(
        [&] {
            return run({"serf", "members", "-rpc-addr=" + a.rpc_addr()}, std::chrono::seconds(3)).exit_code ==
                   0;
        },
        std::chrono::seconds(15));
    return a;
}

RunResult Cluster::serf_cli(const AgentProc& via, std::vector<std::string> args,
                            std::chrono::milliseconds timeout) {
    // Go's flag parsing stops at the first positional argument: the flag goes right after the
    // subcommand.
    std::vector<std::string> argv{"serf"};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.begin() + 2, "-rpc-addr=" + via.rpc_addr());
    return run(argv, timeout);
}

RunResult Cluster::clusterd_cli(const AgentProc& via, std::vector<std::string> args,
                                std::chrono::milliseconds timeout) {
    std::vector<std::string> argv{clusterd_bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.begin() + 2, "-rpc-addr=" + via.rpc_addr());
    return run(argv, timeout);
}

std::string Cluster::dump() const {
    std::string out;
    for (const auto& a : agents_) {
        auto log = a.child.log();
        if (log.size() > 6000)
            log = "...\n" + log.substr(log.size() - 6000);
        out += "\n===== " + a.name + " (" + a.kind_name() + ") =====\n" + log;
    }
    return out;
}

} // namespace clusterd::testing
