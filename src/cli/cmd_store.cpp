// `clusterd store list`: the discovery registry as the datastore holds it, read through the agent
// (RPC `store-list`), so it works from any node without the store's credentials.
#include <cstdint>
#include <string>

#include "clusterd/rpc/protocol.hpp"
#include "cmd_client_common.hpp"
#include "registry.hpp"

namespace clusterd::cli {
namespace {

constexpr const char* kHelp = R"(Usage: clusterd store list [options]

  Lists the node registry (Kong's cluster table) as the datastore holds it,
  read by the agent: name, address, age (since the row was created), last
  refresh, time until the row expires (cluster.ttl_on_failure), and why
  discovery skips a row, if it does. Newest first.

Options:

  -format                   Output format: 'text' (default) or 'json'.
  -rpc-addr=127.0.0.1:7373  RPC address of the agent.
  -rpc-auth=""              RPC auth token of the agent.
  -c, --config=FILE         YAML config to read cluster_listen_rpc from.)";

struct Opts {
    client::RpcFlags rpc;
    std::string format = "text";
};

/// "3h2m", "4m10s", "12s", "850ms": the two largest units, like a person would say it.
std::string span(std::int64_t ms) {
    if (ms < 1000)
        return std::to_string(ms) + "ms";
    std::int64_t s = ms / 1000;
    const std::int64_t d = s / 86400, h = (s / 3600) % 24, m = (s / 60) % 60;
    s %= 60;
    if (d > 0)
        return std::to_string(d) + "d" + std::to_string(h) + "h";
    if (h > 0)
        return std::to_string(h) + "h" + std::to_string(m) + "m";
    if (m > 0)
        return std::to_string(m) + "m" + std::to_string(s) + "s";
    return std::to_string(s) + "s";
}

std::string ago(std::int64_t now, std::int64_t t) {
    return t > now ? "in the future" : span(now - t) + " ago";
}

int run_list(const CLI::App& app, const Opts& o) {
    if (o.format != "text" && o.format != "json") {
        client::err("Encoding error: Invalid output format \"" + o.format + "\"");
        return 1;
    }
    auto c = client::connect(app, o.rpc);
    if (!c)
        return 1;
    auto r = c->call(rpc::cmd::kStoreList, nullptr, true);
    rpc::StoreListResponse resp;
    if (r.ok() && r->error.empty() && r->body) {
        if (auto st = rpc::decode(*r->body, resp); !st.ok())
            r = st.error();
    }
    if (!r.ok() || !r->error.empty()) {
        std::string why = r.ok() ? r->error : r.error().message;
        if (r.ok() && r->error == rpc::err::kUnsupportedCommand)
            why += " (the agent is not clusterd, or is older)";
        client::err("Error listing the datastore: " + why);
        return 1;
    }
    if (o.format == "json") {
        std::vector<client::Json> rows;
        for (const auto& row : resp.rows) {
            rows.push_back(client::Json::object({
                {"name", client::Json::str(row.name)},
                {"address", client::Json::str(row.addr)},
                {"created_ms", client::Json::number(row.created_ms)},
                {"last_seen_ms", client::Json::number(row.last_seen_ms)},
                {"expires_ms", client::Json::number(row.expires_ms)},
                {"expired", client::Json::boolean(row.problem.empty() && row.expires_ms < resp.now_ms)},
                {"problem", row.problem.empty() ? client::Json::null() : client::Json::str(row.problem)},
            }));
        }
        client::out(client::Json::object({{"store", client::Json::str(resp.store)},
                                          {"state", client::Json::str(resp.state)},
                                          {"now_ms", client::Json::number(resp.now_ms)},
                                          {"rows", client::Json::array(std::move(rows))}})
                        .dump());
        return 0;
    }
    std::vector<std::string> lines{"Name|Address|Age|Refreshed|Expires"};
    for (const auto& row : resp.rows) {
        std::string line = row.name + "|" + row.addr + "|";
        if (!row.problem.empty()) {
            line += "-|-|skipped: " + row.problem;
        } else {
            line += span(std::max<std::int64_t>(0, resp.now_ms - row.created_ms)) + "|" +
                    ago(resp.now_ms, row.last_seen_ms) + "|" +
                    (row.expires_ms < resp.now_ms ? "expired " + span(resp.now_ms - row.expires_ms) + " ago"
                                                  : "in " + span(row.expires_ms - resp.now_ms));
        }
        lines.push_back(std::move(line));
    }
    client::out(client::columnize(lines));
    return 0;
}

bool any_rpc_flag(const CLI::App& app) {
    return app.get_option("--rpc-addr")->count() + app.get_option("--rpc-auth")->count() +
               app.get_option("--config")->count() >
           0;
}

Registrar store_reg{
    CommandSpec{"store", "the discovery datastore's node registry", [](CLI::App& app) -> Runner {
                    auto o = std::make_shared<Opts>();
                    auto outer = std::make_shared<Opts>();
                    app.require_subcommand(1);
                    // `store -rpc-addr=X list` and `store list -rpc-addr=X` both work.
                    client::add_rpc_flags(app, outer->rpc);
                    CLI::App* list = app.add_subcommand("list", "list the registry rows");
                    list->footer(kHelp);
                    client::add_rpc_flags(*list, o->rpc);
                    list->add_option("--format", o->format, "text or json");
                    return [&app, list, o, outer] {
                        if (!any_rpc_flag(*list) && any_rpc_flag(app)) {
                            Opts merged = *outer;
                            merged.format = o->format;
                            return run_list(app, merged);
                        }
                        return run_list(*list, *o);
                    };
                }}};

} // namespace
} // namespace clusterd::cli
