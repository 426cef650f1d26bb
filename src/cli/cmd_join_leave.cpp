// `clusterd join`, `clusterd leave`, `clusterd force-leave`: Serf's commands of the same names.
#include "clusterd/rpc/protocol.hpp"
#include "cmd_client_common.hpp"
#include "registry.hpp"

namespace clusterd::cli {
namespace {

constexpr const char* kJoinHelp = R"(Usage: clusterd join [options] address ...

  Tells a running agent to join the cluster by specifying at least one existing member.

Options:

  -replay                   Replay past user events.
  -rpc-addr=127.0.0.1:7373  RPC address of the agent.
  -rpc-auth=""              RPC auth token of the agent.)";

constexpr const char* kLeaveHelp = R"(Usage: clusterd leave

  Causes the agent to gracefully leave the cluster and shut down.

Options:

  -rpc-addr=127.0.0.1:7373  RPC address of the agent.
  -rpc-auth=""              RPC auth token of the agent.)";

constexpr const char* kForceLeaveHelp = R"(Usage: clusterd force-leave [options] name

  Forces a member of the cluster to enter the "left" state. If the member is
  still alive it will eventually rejoin. Most useful for cleaning out "failed"
  nodes that are never coming back.

Options:

  -rpc-addr=127.0.0.1:7373  RPC address of the agent.
  -rpc-auth=""              RPC auth token of the agent.
  -prune                    Remove agent forcibly from list of members)";

struct JoinOpts {
    client::RpcFlags rpc;
    bool replay = false;
    std::vector<std::string> addrs;
};

int run_join(const CLI::App& app, const JoinOpts& o) {
    if (o.addrs.empty())
        return client::usage_error({"At least one address to join must be specified."}, kJoinHelp);
    auto c = client::connect(app, o.rpc);
    if (!c)
        return 1;
    auto r = c->request(rpc::cmd::kJoin, rpc::JoinRequest{o.addrs, o.replay}, true);
    rpc::JoinResponse jr;
    if (r.ok() && r->body)
        (void)rpc::decode(*r->body, jr);
    if (!r.ok() || !r->error.empty()) {
        client::err("Error joining the cluster: " + (r.ok() ? r->error : r.error().message));
        return 1;
    }
    client::out("Successfully joined cluster by contacting " + std::to_string(jr.num) + " nodes.");
    return 0;
}

struct LeaveOpts {
    client::RpcFlags rpc;
};

int run_leave(const CLI::App& app, const LeaveOpts& o) {
    auto c = client::connect(app, o.rpc);
    if (!c)
        return 1;
    auto r = c->call(rpc::cmd::kLeave, nullptr, false);
    if (!r.ok() || !r->error.empty()) {
        client::err("Error leaving: " + (r.ok() ? r->error : r.error().message));
        return 1;
    }
    client::out("Graceful leave complete");
    return 0;
}

struct ForceLeaveOpts {
    client::RpcFlags rpc;
    bool prune = false;
    std::vector<std::string> nodes;
};

int run_force_leave(const CLI::App& app, const ForceLeaveOpts& o) {
    if (o.nodes.size() != 1)
        return client::usage_error({"A node name must be specified to force leave."}, kForceLeaveHelp);
    auto c = client::connect(app, o.rpc);
    if (!c)
        return 1;
    auto r = c->request(rpc::cmd::kForceLeave, rpc::ForceLeaveRequest{o.nodes[0], o.prune}, false);
    if (!r.ok() || !r->error.empty()) {
        client::err("Error force leaving: " + (r.ok() ? r->error : r.error().message));
        return 1;
    }
    return 0;
}

Registrar join_reg{CommandSpec{"join", "tell the agent to join the cluster", [](CLI::App& app) -> Runner {
                                   auto o = std::make_shared<JoinOpts>();
                                   app.footer(kJoinHelp);
                                   client::add_rpc_flags(app, o->rpc);
                                   app.add_flag("--replay", o->replay, "replay past user events");
                                   app.add_option("addresses", o->addrs, "addresses to join");
                                   return [&app, o] { return run_join(app, *o); };
                               }}};

Registrar leave_reg{
    CommandSpec{"leave", "gracefully leave the cluster and shut the agent down", [](CLI::App& app) -> Runner {
                    auto o = std::make_shared<LeaveOpts>();
                    app.footer(kLeaveHelp);
                    client::add_rpc_flags(app, o->rpc);
                    return [&app, o] { return run_leave(app, *o); };
                }}};

Registrar force_leave_reg{
    CommandSpec{"force-leave", "force a member into the \"left\" state", [](CLI::App& app) -> Runner {
                    auto o = std::make_shared<ForceLeaveOpts>();
                    app.footer(kForceLeaveHelp);
                    client::add_rpc_flags(app, o->rpc);
                    app.add_flag("--prune", o->prune, "remove the member from the list");
                    app.add_option("name", o->nodes, "node name");
                    return [&app, o] { return run_force_leave(app, *o); };
                }}};

} // namespace
} // namespace clusterd::cli
