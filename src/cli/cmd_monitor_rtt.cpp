// `clusterd monitor` (stream "*" plus the agent's log at a level) and `clusterd rtt` (network
// coordinate distance): Serf's commands of the same names.
#include <cmath>
#include <cstdio>

#include "clusterd/rpc/protocol.hpp"
#include "cmd_client_common.hpp"
#include "cmd_signals.hpp"
#include "registry.hpp"

namespace clusterd::cli {
namespace {

constexpr const char* kMonitorHelp = R"(Usage: clusterd monitor [options]

  Shows recent log messages of an agent and keeps streaming them, together with
  cluster events. The monitor may use a more verbose level than the agent logs at.

Options:

  -log-level=info           Log level of the agent.
  -rpc-addr=127.0.0.1:7373  RPC address of the agent.
  -rpc-auth=""              RPC auth token of the agent.)";

constexpr const char* kRttHelp = R"(Usage: clusterd rtt [options] node1 [node2]

  Estimates the round trip time between two nodes using the network coordinate
  model of the cluster. If the second node name is not given, it is the agent's
  own node. Node names are as `clusterd members` shows them.

Options:

  -rpc-addr=127.0.0.1:7373  RPC address of the agent.
  -rpc-auth=""              RPC auth token of the agent.)";

/// Roughly Go's %#v of a value decoded into interface{} (for "Event Info" lines).
std::string go_value(const rpc::msgpack::Value& v) {
    using K = rpc::msgpack::Value::Kind;
    char buf[64];
    switch (v.kind) {
    case K::Nil:
        return "interface {}(nil)";
    case K::Bool:
        return v.b ? "true" : "false";
    case K::Int:
        return std::to_string(v.i);
    case K::UInt:
        std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v.u));
        return buf;
    case K::Float:
        std::snprintf(buf, sizeof buf, "%g", v.f);
        return buf;
    case K::Str:
        return client::go_quote(v.s);
    case K::Bin: {
        std::string o = "[]byte{";
        for (std::size_t i = 0; i < v.s.size(); ++i) {
            std::snprintf(buf, sizeof buf, "%s0x%x", i ? ", " : "", static_cast<unsigned char>(v.s[i]));
            o += buf;
        }
        return o + "}";
    }
    case K::Array: {
        std::string o = "[]interface {}{";
        for (std::size_t i = 0; i < v.items.size(); ++i)
            o += (i ? ", " : "") + go_value(v.items[i]);
        return o + "}";
    }
    case K::Map: {
        std::string o = "map[interface {}]interface {}{";
        for (std::size_t i = 0; i + 1 < v.items.size(); i += 2)
            o += (i ? ", " : "") + go_value(v.items[i]) + ":" + go_value(v.items[i + 1]);
        return o + "}";
    }
    }
    return "";
}

struct MonitorOpts {
    client::RpcFlags rpc;
    std::string level = "INFO";
};

int run_monitor(const CLI::App& app, const MonitorOpts& o) {
    auto c = client::connect(app, o.rpc);
    if (!c)
        return 1;
    signals::install();
    base::Bytes sb;
    rpc::encode(sb, rpc::StreamRequest{"*"});
    auto stream = c->start_stream(rpc::cmd::kStream, sb);
    if (!stream.ok()) {
        client::err("Error starting stream: " + stream.error().message);
        return 1;
    }
    base::Bytes mb;
    rpc::encode(mb, rpc::MonitorRequest{o.level});
    auto mon = c->start_stream(rpc::cmd::kMonitor, mb);
    if (!mon.ok()) {
        client::err("Error starting monitor: " + mon.error().message);
        return 1;
    }
    while (!signals::interrupted()) {
        auto r = c->next_record(std::chrono::milliseconds(200));
        if (!r.ok()) {
            if (r.error().code == "timeout" || r.error().code == "interrupted")
                continue;
            client::out("");
            client::out("Remote side ended the monitor! This usually means that the\nremote side has exited "
                        "or crashed.");
            return 1;
        }
        if (!r->body)
            continue;
        if (r->seq == *mon) {
            rpc::LogRecord lr;
            if (rpc::decode(*r->body, lr).ok())
                client::out(lr.log);
        } else if (r->seq == *stream && r->body->is_map()) {
            client::out("Event Info:");
            for (std::size_t i = 0; i + 1 < r->body->items.size(); i += 2) {
                client::out("\t" + r->body->items[i].s + ": " + go_value(r->body->items[i + 1]));
            }
        }
    }
    (void)c->stop_stream(*mon);
    (void)c->stop_stream(*stream);
    return 0;
}

struct RttOpts {
    client::RpcFlags rpc;
    std::vector<std::string> nodes;
};

/// Vivaldi distance in seconds, as serf/coordinate's DistanceTo.
double distance(const rpc::Coordinate& a, const rpc::Coordinate& b) {
    double sum = 0;
    for (std::size_t i = 0; i < a.vec.size() && i < b.vec.size(); ++i)
        sum += (a.vec[i] - b.vec[i]) * (a.vec[i] - b.vec[i]);
    double dist = std::sqrt(sum) + a.height + b.height;
    const double adjusted = dist + a.adjustment + b.adjustment;
    if (adjusted > 0.0)
        dist = adjusted;
    return dist;
}

int run_rtt(const CLI::App& app, const RttOpts& o) {
    auto c = client::connect(app, o.rpc);
    if (!c)
        return 1;
    std::vector<std::string> nodes = o.nodes;
    if (nodes.size() == 1) {
        auto r = c->call(rpc::cmd::kStats, nullptr, true);
        rpc::StatsResponse stats;
        if (r.ok() && r->body)
            (void)rpc::decode(*r->body, stats);
        if (!r.ok() || !r->error.empty()) {
            client::err("Error querying agent: " + (r.ok() ? r->error : r.error().message));
            return 1;
        }
        nodes.push_back(stats["agent"]["name"]);
    } else if (nodes.size() != 2) {
        return client::usage_error({"One or two node names must be specified"}, kRttHelp);
    }
    rpc::Coordinate coords[2];
    for (int i = 0; i < 2; ++i) {
        auto r = c->request(rpc::cmd::kGetCoordinate,
                            rpc::CoordinateRequest{nodes[static_cast<std::size_t>(i)]}, true);
        rpc::CoordinateResponse cr;
        if (r.ok() && r->body)
            (void)rpc::decode(*r->body, cr);
        if (!r.ok() || !r->error.empty()) {
            client::err("Error getting coordinates: " + (r.ok() ? r->error : r.error().message));
            return 1;
        }
        if (!cr.ok) {
            client::err("Could not find a coordinate for node " +
                        client::go_quote(nodes[static_cast<std::size_t>(i)]));
            return 1;
        }
        coords[i] = cr.coord;
    }
    // Go truncates the float seconds to integer nanoseconds before printing milliseconds.
    const auto ns = static_cast<long long>(distance(coords[0], coords[1]) * 1e9);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.3f ms", static_cast<double>(ns) / 1e9 * 1000.0);
    client::out("Estimated " + nodes[0] + " <-> " + nodes[1] + " rtt: " + buf);
    return 0;
}

Registrar monitor_reg{
    CommandSpec{"monitor", "stream logs and events from an agent", [](CLI::App& app) -> Runner {
                    auto o = std::make_shared<MonitorOpts>();
                    app.footer(kMonitorHelp);
                    client::add_rpc_flags(app, o->rpc);
                    app.add_option("--log-level", o->level, "log level");
                    return [&app, o] { return run_monitor(app, *o); };
                }}};

Registrar rtt_reg{
    CommandSpec{"rtt", "estimate the round trip time between nodes", [](CLI::App& app) -> Runner {
                    auto o = std::make_shared<RttOpts>();
                    app.footer(kRttHelp);
                    client::add_rpc_flags(app, o->rpc);
                    app.add_option("nodes", o->nodes, "node1 [node2]");
                    return [&app, o] { return run_rtt(app, *o); };
                }}};

} // namespace
} // namespace clusterd::cli
