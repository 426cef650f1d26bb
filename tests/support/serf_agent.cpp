#include "support/serf_agent.hpp"

#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <iostream>

#include "clusterd/rpc/client.hpp"

namespace clusterd::testing {

SerfAgent::SerfAgent(SerfAgentOptions opts) : opts_(std::move(opts)) {
    dir_ = temp_dir("serf-" + opts_.node);
    bind_port_ = free_port(opts_.ip);
    rpc_port_ = free_port(opts_.ip);
    std::vector<std::string> argv = {opts_.serf_binary,         "agent",
                                     "-node=" + opts_.node,     "-bind=" + bind_addr(),
                                     "-rpc-addr=" + rpc_addr(), "-log-level=" + opts_.log_level};
    for (const auto& [k, v] : opts_.tags)
        argv.push_back("-tag=" + k + "=" + v);
    if (!opts_.encrypt_key.empty())
        argv.push_back("-encrypt=" + opts_.encrypt_key);
    if (!opts_.rpc_auth.empty()) {
        const std::string cfg = dir_ + "/config.json";
        std::ofstream(cfg) << "{\"rpc_auth\": \"" << opts_.rpc_auth << "\"}\n";
        argv.push_back("-config-file=" + cfg);
    }
    for (const auto& a : opts_.extra_args)
        argv.push_back(a);
    proc_ = Process(argv, dir_ + "/agent.log", opts_.extra_env);
    ready_ = proc_.wait_ready(
        [&] { return rpc::Client::connect(rpc_addr(), opts_.rpc_auth, std::chrono::milliseconds(500)).ok(); },
        opts_.ready_timeout);
}

SerfAgent::~SerfAgent() {
    stop();
    if (::testing::Test::HasFailure())
        std::cerr << "---- serf agent " << opts_.node << " (" << proc_.log_path() << ") ----\n"
                  << log() << "---- end ----\n";
}

void SerfAgent::stop() {
    proc_.stop(SIGTERM, std::chrono::milliseconds(3000));
}

} // namespace clusterd::testing
