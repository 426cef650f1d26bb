#include "lab_cluster.hpp"

#include <signal.h>

#include <stdexcept>

namespace clusterd::testing {

LabCluster::LabCluster(netlab::Lab& lab, const std::string& tag) : lab_(lab), dir_(temp_dir(tag)) {}

LabCluster::~LabCluster() {
    for (auto& a : agents_)
        a.child.stop(SIGKILL, std::chrono::milliseconds(2000));
}

LabAgent& LabCluster::start(Kind kind, const std::string& name, int host,
                            const std::vector<std::string>& extra, bool wait) {
    LabAgent a;
    a.kind = kind;
    a.name = name;
    a.host = host;
    a.argv = {kind == Kind::Serf ? std::string("serf") : clusterd_bin(),
              "agent",
              "-node=" + name,
              "-bind=0.0.0.0:7946",
              "-rpc-addr=127.0.0.1:7373",
              "-log-level=debug"};
    a.argv.insert(a.argv.end(), extra.begin(), extra.end());
    a.child = lab_.spawn(host, a.argv, dir_ + "/" + name + ".log");
    agents_.push_back(std::move(a));
    auto& ref = agents_.back();
    if (wait)
        wait_rpc(ref);
    return ref;
}

LabAgent& LabCluster::restart(LabAgent& a) {
    a.child = lab_.spawn(a.host, a.argv, dir_ + "/" + a.name + ".log");
    wait_rpc(a);
    return a;
}

bool LabCluster::wait_rpc(const LabAgent& a) {
    return wait_until(
        [&] {
            return lab_.run(a.host, {"serf", "members", "-rpc-addr=127.0.0.1:7373"}, std::chrono::seconds(3))
                       .exit_code == 0;
        },
        std::chrono::seconds(15), std::chrono::milliseconds(100));
}

LabAgent& LabCluster::agent(const std::string& name) {
    for (auto& a : agents_)
        if (a.name == name)
            return a;
    throw std::runtime_error("no lab agent " + name);
}

RunResult LabCluster::serf_cli(const LabAgent& via, std::vector<std::string> args,
                               std::chrono::milliseconds timeout) {
    std::vector<std::string> argv{"serf"};
    argv.insert(argv.end(), args.begin(), args.end());
    // Go's flag parsing stops at the first positional argument: the flag goes right after the
    // subcommand.
    argv.insert(argv.begin() + 2, "-rpc-addr=127.0.0.1:7373");
    return lab_.run(via.host, argv, timeout);
}

RunResult LabCluster::clusterd_cli(const LabAgent& via, std::vector<std::string> args,
                                   std::chrono::milliseconds timeout) {
    std::vector<std::string> argv{clusterd_bin()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.begin() + 2, "-rpc-addr=127.0.0.1:7373");
    return lab_.run(via.host, argv, timeout);
}

std::string LabCluster::dump() const {
    std::string out;
    for (const auto& a : agents_) {
        auto log = a.child.log();
        if (log.size() > 5000)
            log = "...\n" + log.substr(log.size() - 5000);
        out += "\n===== " + a.name + " (" + a.kind_name() + ", " + lab_.ns(a.host) + ") =====\n" + log;
    }
    return out;
}

} // namespace clusterd::testing
