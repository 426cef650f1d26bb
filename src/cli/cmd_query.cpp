// `clusterd query` and `clusterd reachability`: Serf's commands of the same names (both stream
// query records over the RPC connection until the agent sends "done").
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>

#include "clusterd/rpc/protocol.hpp"
#include "cmd_client_common.hpp"
#include "cmd_signals.hpp"
#include "registry.hpp"

namespace clusterd::cli {
namespace {

constexpr const char* kQueryHelp = R"(Usage: clusterd query [options] name payload

  Dispatches a query to the cluster.

Options:

  -format                   Output format: 'text' (default) or 'json'
  -node=NAME                Only ask this node (repeatable).
  -tag key=regexp           Only ask nodes whose tag matches (repeatable).
  -timeout="15s"            Overrides the default timeout.
  -no-ack                   Do not ask nodes to acknowledge the query.
  -relay-factor             Relay responses through this many extra nodes.
  -rpc-addr=127.0.0.1:7373  RPC address of the agent.
  -rpc-auth=""              RPC auth token of the agent.)";

constexpr const char* kReachHelp = R"(Usage: clusterd reachability [options]

  Tests the network reachability of this node

Options:

  -rpc-addr=127.0.0.1:7373  RPC address of the agent.
  -rpc-auth=""              RPC auth token of the agent.
  -verbose                  Verbose mode)";

constexpr const char* kTroubleshooting = R"(
Troubleshooting tips:
* Ensure that the bind addr:port is accessible by all other nodes
* If an advertise address is set, ensure it routes to the bind address
* Check that no nodes are behind a NAT
* If nodes are behind firewalls or iptables, check that Serf traffic is permitted (UDP and TCP)
* Verify networking equipment is functional)";

struct QueryOpts {
    client::RpcFlags rpc;
    std::string format = "text";
    std::vector<std::string> nodes;
    std::vector<std::string> tags;
    std::string timeout;
    bool no_ack = false;
    int relay_factor = 0;
    std::vector<std::string> args;
};

/// Streams one query's records to `on_record` until "done", EOF or an interrupt (returns false).
bool stream_query(rpc::Client& c, std::uint64_t seq,
                  const std::function<void(const rpc::QueryRecord&)>& on_record) {
    while (true) {
        if (signals::interrupted())
            return false;
        auto r = c.next_record(std::chrono::milliseconds(200));
        if (!r.ok()) {
            if (r.error().code == "timeout")
                continue;
            return true; // connection ended: like Go's closed channels
        }
        if (r->seq != seq || !r->body)
            continue;
        rpc::QueryRecord rec;
        if (!rpc::decode(*r->body, rec).ok())
            continue;
        if (rec.type == rpc::rec::kDone)
            return true;
        // No member has an empty name: a serf agent streams acks and responses from '' when the
        // query closes a moment before its IPC loop's own deadline (docs/protocol.md).
        if (rec.from.empty())
            continue;
        on_record(rec);
    }
}

int run_query(const CLI::App& app, const QueryOpts& o) {
    auto tags = client::unmarshal_tags(o.tags);
    if (!tags.ok()) {
        client::err("Error: " + tags.error().message);
        return 1;
    }
    if (o.args.empty())
        return client::usage_error({"A query name must be specified."}, kQueryHelp);
    if (o.args.size() > 2) {
        return client::usage_error(
            {"Too many command line arguments. Only a name and payload must be specified."}, kQueryHelp);
    }
    if (o.relay_factor > 255 || o.relay_factor < 0) {
        client::err("Relay factor must be between 0 and 255");
        return 1;
    }
    base::Duration timeout{0};
    if (!o.timeout.empty()) {
        auto d = client::parse_go_duration(o.timeout);
        if (!d.ok()) {
            client::err("invalid value \"" + o.timeout + "\" for flag -timeout: parse error");
            return 1;
        }
        timeout = *d;
    }
    auto c = client::connect(app, o.rpc);
    if (!c)
        return 1;
    if (o.format != "text" && o.format != "json") {
        client::err("Invalid format: " + o.format);
        return 1;
    }
    rpc::QueryRequest q;
    q.params.filter_nodes = o.nodes;
    q.params.filter_tags = *tags;
    q.params.request_ack = !o.no_ack;
    q.params.relay_factor = static_cast<std::uint8_t>(o.relay_factor);
    q.params.timeout = timeout;
    q.params.name = o.args[0];
    if (o.args.size() == 2)
        q.params.payload = base::to_bytes(o.args[1]);
    base::Bytes body;
    rpc::encode(body, q);
    signals::install();
    auto seq = c->start_stream(rpc::cmd::kQuery, body);
    if (!seq.ok()) {
        client::err("Error sending query: " + seq.error().message);
        return 1;
    }
    int acks = 0;
    int resps = 0;
    std::vector<std::string> ack_list;
    std::map<std::string, std::string> responses;
    if (o.format == "text")
        client::out("Query '" + q.params.name + "' dispatched");
    const bool finished = stream_query(*c, *seq, [&](const rpc::QueryRecord& rec) {
        if (rec.type == rpc::rec::kAck) {
            ++acks;
            ack_list.push_back(rec.from);
            if (o.format == "text")
                client::out("Ack from '" + rec.from + "'");
        } else if (rec.type == rpc::rec::kResponse) {
            ++resps;
            std::string p(rec.payload.begin(), rec.payload.end());
            responses[rec.from] = p;
            if (!p.empty() && p.back() == '\n')
                p.pop_back();
            if (o.format == "text")
                client::out("Response from '" + rec.from + "': " + p);
        }
    });
    if (!finished)
        return 1;
    if (o.format == "text") {
        if (!o.no_ack)
            client::out("Total Acks: " + std::to_string(acks));
        client::out("Total Responses: " + std::to_string(resps));
        return 0;
    }
    using client::Json;
    std::vector<Json> a;
    for (const auto& x : ack_list)
        a.push_back(Json::str(x));
    client::out(Json::object({{"Acks", a.empty() ? Json::null() : Json::array(std::move(a))},
                              {"Responses", Json::string_map(responses)}})
                    .dump());
    return 0;
}

struct ReachOpts {
    client::RpcFlags rpc;
    bool verbose = false;
};

int run_reachability(const CLI::App& app, const ReachOpts& o) {
    auto c = client::connect(app, o.rpc);
    if (!c)
        return 1;
    auto r = c->call(rpc::cmd::kMembers, nullptr, true);
    rpc::MembersResponse mr;
    if (r.ok() && r->body)
        (void)rpc::decode(*r->body, mr);
    if (!r.ok() || !r->error.empty()) {
        client::err("Error getting members: " + (r.ok() ? r->error : r.error().message));
        return 1;
    }
    std::set<std::string> live;
    for (const auto& m : mr.members)
        if (m.status == "alive")
            live.insert(m.name);
    client::out("Total members: " + std::to_string(mr.members.size()) +
                ", live members: " + std::to_string(live.size()));
    rpc::QueryRequest q;
    q.params.request_ack = true;
    q.params.name = "_serf_ping";
    base::Bytes body;
    rpc::encode(body, q);
    signals::install();
    auto seq = c->start_stream(rpc::cmd::kQuery, body);
    if (!seq.ok()) {
        client::err("Error sending query: " + seq.error().message);
        return 1;
    }
    client::out("Starting reachability test...");
    const auto start = std::chrono::steady_clock::now();
    auto last = start;
    int num_acks = 0;
    bool dups = false;
    std::set<std::string> from;
    const bool finished = stream_query(*c, *seq, [&](const rpc::QueryRecord& rec) {
        if (rec.type != rpc::rec::kAck)
            return;
        if (o.verbose)
            client::out("\tAck from '" + rec.from + "'");
        ++num_acks;
        if (from.count(rec.from) != 0) {
            dups = true;
            client::out("Duplicate response from '" + rec.from + "'");
        }
        from.insert(rec.from);
        last = std::chrono::steady_clock::now();
    });
    if (!finished) {
        client::err("Test interrupted");
        return 1;
    }
    if (o.verbose) {
        const double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        const double to_last = std::chrono::duration<double>(last - start).count();
        char buf[128];
        std::snprintf(buf, sizeof buf, "Query time: %0.2f sec, time to last response: %0.2f sec", total,
                      to_last);
        client::out(buf);
    }
    int exit_code = 0;
    if (dups) {
        client::out(
            "Duplicate responses means there is a misconfiguration. Verify that node names are unique.");
        exit_code = 1;
    }
    const int n = static_cast<int>(live.size());
    if (num_acks == n) {
        client::out("Successfully contacted all live nodes");
    } else if (num_acks > n) {
        client::out("Received more acks than live nodes! Acks from non-live nodes:");
        for (const auto& m : from)
            if (live.count(m) == 0)
                client::out("\t" + m);
        client::out(
            "This could mean Serf is detecting false-failures due to a misconfiguration or network issue.");
        client::out(kTroubleshooting);
        return 1;
    } else {
        client::out("Received less acks than live nodes! Missing acks from:");
        for (const auto& m : live)
            if (from.count(m) == 0)
                client::out("\t" + m);
        client::out(
            "This could mean Serf gossip packets are being lost due to a misconfiguration or network issue.");
        client::out(kTroubleshooting);
        return 1;
    }
    return exit_code;
}

Registrar query_reg{
    CommandSpec{"query", "send a query to the cluster", [](CLI::App& app) -> Runner {
                    auto o = std::make_shared<QueryOpts>();
                    app.footer(kQueryHelp);
                    client::add_rpc_flags(app, o->rpc);
                    app.add_option("--format", o->format, "text or json");
                    app.add_option("--node", o->nodes, "node filter")->allow_extra_args(false);
                    app.add_option("--tag", o->tags, "tag filter key=regexp")->allow_extra_args(false);
                    app.add_option("--timeout", o->timeout, "query timeout (Go duration)");
                    app.add_flag("--no-ack", o->no_ack, "do not request acks");
                    app.add_option("--relay-factor", o->relay_factor, "response relay count");
                    app.add_option("args", o->args, "name [payload]");
                    return [&app, o] { return run_query(app, *o); };
                }}};

Registrar reach_reg{
    CommandSpec{"reachability", "test the network reachability of this node", [](CLI::App& app) -> Runner {
                    auto o = std::make_shared<ReachOpts>();
                    app.footer(kReachHelp);
                    client::add_rpc_flags(app, o->rpc);
                    app.add_flag("--verbose", o->verbose, "verbose mode");
                    return [&app, o] { return run_reachability(app, *o); };
                }}};

} // namespace
} // namespace clusterd::cli
