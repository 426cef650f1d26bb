// `clusterd event` and `clusterd tags`: Serf's commands of the same names.
#include "clusterd/rpc/protocol.hpp"
#include "cmd_client_common.hpp"
#include "registry.hpp"

namespace clusterd::cli {
namespace {

constexpr const char* kEventHelp = R"(Usage: clusterd event [options] name payload

  Dispatches a custom event across the cluster.

Options:

  -coalesce=true/false      Whether this event can be coalesced: repeated events
                            of the same name within a short period are ignored,
                            except the last one received. Default is true.
  -rpc-addr=127.0.0.1:7373  RPC address of the agent.
  -rpc-auth=""              RPC auth token of the agent.)";

constexpr const char* kTagsHelp = R"(Usage: clusterd tags [options] ...

  Modifies tags on a running agent.

Options:

  -rpc-addr=127.0.0.1:7373  RPC Address of the agent.
  -rpc-auth=""              RPC auth token of the agent.
  -set key=value            Creates or modifies the value of a tag
  -delete key               Removes a tag, if present)";

struct EventOpts {
    client::RpcFlags rpc;
    bool coalesce = true;
    std::vector<std::string> args;
};

int run_event(const CLI::App& app, const EventOpts& o) {
    if (o.args.empty())
        return client::usage_error({"An event name must be specified."}, kEventHelp);
    if (o.args.size() > 2) {
        return client::usage_error(
            {"Too many command line arguments. Only a name and payload must be specified."}, kEventHelp);
    }
    auto c = client::connect(app, o.rpc);
    if (!c)
        return 1;
    const base::Bytes payload = o.args.size() == 2 ? base::to_bytes(o.args[1]) : base::Bytes{};
    auto r = c->request(rpc::cmd::kEvent, rpc::EventRequest{o.args[0], payload, o.coalesce}, false);
    if (!r.ok() || !r->error.empty()) {
        client::err("Error sending event: " + (r.ok() ? r->error : r.error().message));
        return 1;
    }
    client::out("Event '" + o.args[0] +
                "' dispatched! Coalescing enabled: " + (o.coalesce ? "true" : "false"));
    return 0;
}

struct TagsOpts {
    client::RpcFlags rpc;
    std::vector<std::string> set;
    std::vector<std::string> del;
};

int run_tags(const CLI::App& app, const TagsOpts& o) {
    if (o.set.empty() && o.del.empty()) {
        client::out(kTagsHelp);
        return 1;
    }
    auto c = client::connect(app, o.rpc);
    if (!c)
        return 1;
    auto tags = client::unmarshal_tags(o.set);
    if (!tags.ok()) {
        client::err("Error: " + tags.error().message);
        return 1;
    }
    auto r = c->request(rpc::cmd::kTags, rpc::TagsRequest{*tags, o.del}, false);
    if (!r.ok() || !r->error.empty()) {
        client::err("Error setting tags: " + (r.ok() ? r->error : r.error().message));
        return 1;
    }
    client::out("Successfully updated agent tags");
    return 0;
}

Registrar event_reg{
    CommandSpec{"event", "send a custom event through the cluster", [](CLI::App& app) -> Runner {
                    auto o = std::make_shared<EventOpts>();
                    app.footer(kEventHelp);
                    client::add_rpc_flags(app, o->rpc);
                    app.add_flag("--coalesce", o->coalesce, "whether the event may be coalesced");
                    app.add_option("args", o->args, "name [payload]");
                    return [&app, o] { return run_event(app, *o); };
                }}};

Registrar tags_reg{CommandSpec{"tags", "modify the tags of a running agent", [](CLI::App& app) -> Runner {
                                   auto o = std::make_shared<TagsOpts>();
                                   app.footer(kTagsHelp);
                                   client::add_rpc_flags(app, o->rpc);
                                   app.add_option("--set", o->set, "key=value")->allow_extra_args(false);
                                   app.add_option("--delete", o->del, "key")->allow_extra_args(false);
                                   return [&app, o] { return run_tags(app, *o); };
                               }}};

} // namespace
} // namespace clusterd::cli
