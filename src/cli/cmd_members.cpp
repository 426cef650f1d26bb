// `clusterd members`: Serf's `serf members` (text, json) plus -format=kong (name\taddress\tstatus).
#include <iostream>

#include "clusterd/rpc/protocol.hpp"
#include "cmd_client_common.hpp"
#include "registry.hpp"

namespace clusterd::cli {
namespace {

constexpr const char* kHelp = R"(Usage: clusterd members [options]

  Outputs the members of a running agent.

Options:

  -detailed                 Additional information such as protocol versions
                            will be shown (only affects text output format).
  -format                   Output format: 'text' (default), 'json', or 'kong'
                            (one member a line: name<TAB>address<TAB>status).
  -name=<regexp>            Only members whose name fully matches the regexp.
  -role=<regexp>            Deprecated: same as '-tag role=<regexp>'.
  -status=<regexp>          Only members whose status fully matches the regexp.
  -tag <key>=<regexp>       Only members whose tag fully matches (repeatable).
  -rpc-addr=127.0.0.1:7373  RPC address of the agent.
  -rpc-auth=""              RPC auth token of the agent.
  -c, --config=FILE         YAML config to read cluster_listen_rpc from.)";

struct Opts {
    client::RpcFlags rpc;
    bool detailed = false;
    std::string format = "text";
    std::string name, role, status;
    std::vector<std::string> tags;
};

int run(const CLI::App& app, const Opts& o) {
    std::vector<std::string> tag_args = o.tags;
    if (!o.role.empty()) {
        client::out("Deprecation warning: 'Role' has been replaced with 'Tags'");
        tag_args.push_back("role=" + o.role);
    }
    auto tags = client::unmarshal_tags(tag_args);
    if (!tags.ok()) {
        client::err("Error: " + tags.error().message);
        return 1;
    }
    auto c = client::connect(app, o.rpc);
    if (!c)
        return 1;
    auto r =
        c->request(rpc::cmd::kMembersFiltered, rpc::MembersFilteredRequest{*tags, o.status, o.name}, true);
    rpc::MembersResponse resp;
    if (r.ok() && r->error.empty() && r->body) {
        if (auto st = rpc::decode(*r->body, resp); !st.ok())
            r = st.error();
    }
    if (!r.ok() || !r->error.empty()) {
        client::err("Error retrieving members: " + (r.ok() ? r->error : r.error().message));
        return 1;
    }
    if (o.format == "text") {
        std::vector<std::string> lines;
        for (const auto& m : resp.members) {
            std::string tags_text;
            for (const auto& [k, v] : m.tags)
                tags_text += (tags_text.empty() ? "" : ",") + k + "=" + v;
            std::string line =
                m.name + "|" + client::host_port(m.addr, m.port) + "|" + m.status + "|" + tags_text;
            if (o.detailed) {
                line += "|Protocol Version: " + std::to_string(m.delegate_cur) +
                        "|Available Protocol Range: [" + std::to_string(m.delegate_min) + ", " +
                        std::to_string(m.delegate_max) + "]";
            }
            lines.push_back(line);
        }
        // Serf trims the whole output (strings.TrimSpace), so only the last line loses its padding.
        std::string text = client::columnize(lines);
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
            text.pop_back();
        const auto first = text.find_first_not_of(" \t\r\n");
        client::out(first == std::string::npos ? std::string() : text.substr(first));
        return 0;
    }
    if (o.format == "kong") {
        for (const auto& m : resp.members)
            std::cout << m.name << '\t' << client::host_port(m.addr, m.port) << '\t' << m.status << '\n';
        std::cout.flush();
        return 0;
    }
    if (o.format == "json") {
        using client::Json;
        std::vector<Json> members;
        for (const auto& m : resp.members) {
            members.push_back(Json::object({
                {"name", Json::str(m.name)},
                {"addr", Json::str(client::host_port(m.addr, m.port))},
                {"port", Json::number(m.port)},
                {"tags", Json::string_map(m.tags)},
                {"status", Json::str(m.status)},
                {"protocol", Json::object({{"max", Json::number(m.delegate_max)},
                                           {"min", Json::number(m.delegate_min)},
                                           {"version", Json::number(m.delegate_cur)}})},
            }));
        }
        // Go marshals an empty (nil) member list as null.
        client::out(
            Json::object({{"members", members.empty() ? Json::null() : Json::array(std::move(members))}})
                .dump());
        return 0;
    }
    client::err("Encoding error: Invalid output format \"" + o.format + "\"");
    return 1;
}

Registrar reg{CommandSpec{"members", "list the members of the cluster", [](CLI::App& app) -> Runner {
                              auto o = std::make_shared<Opts>();
                              app.footer(kHelp);
                              client::add_rpc_flags(app, o->rpc);
                              app.add_flag("--detailed", o->detailed, "show protocol versions");
                              app.add_option("--format", o->format, "text, json or kong");
                              app.add_option("--name", o->name, "name regexp");
                              app.add_option("--role", o->role, "role regexp (deprecated)");
                              app.add_option("--status", o->status, "status regexp");
                              app.add_option("--tag", o->tags, "tag key=regexp")->allow_extra_args(false);
                              return [&app, o] { return run(app, *o); };
                          }}};

} // namespace
} // namespace clusterd::cli
