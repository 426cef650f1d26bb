// `clusterd keys`, `clusterd info`, `clusterd keygen`: Serf's commands of the same names.
#include <sys/random.h>

#include <cerrno>
#include <cstring>

#include "clusterd/rpc/protocol.hpp"
#include "cmd_client_common.hpp"
#include "registry.hpp"

namespace clusterd::cli {
namespace {

constexpr const char* kKeysHelp = R"(Usage: clusterd keys [options]...

  Manage the internal encryption keyring. Modifications are broadcast to all
  members and applied locally on each. Operations are idempotent. Returns 0 if
  all nodes reply and report no errors, 1 otherwise.

Options:

  -install=<key>            Install a new key onto the keyring (decryption only
                            until it becomes the primary key).
  -use=<key>                Change the primary key used for encrypting messages.
  -remove=<key>             Remove a key from the keyring (not the primary key).
  -list                     List all keys in use in the cluster and how many
                            members hold each.
  -rpc-addr=127.0.0.1:7373  RPC address of the agent.
  -rpc-auth=""              RPC auth token of the agent.)";

constexpr const char* kInfoHelp = R"(Usage: clusterd info [options]

  Provides debugging information for operators

Options:

  -format                  Output format: 'text' (default) or 'json'
  -rpc-addr=127.0.0.1:7373 RPC address of the agent.
  -rpc-auth=""             RPC auth token of the agent.)";

struct KeysOpts {
    client::RpcFlags rpc;
    std::string install, use, remove;
    bool list = false;
};

void print_failures(const rpc::KeyResponse& kr) {
    if (kr.messages.empty())
        return;
    std::vector<std::string> lines;
    for (const auto& [node, msg] : kr.messages)
        lines.push_back("failed: | " + node + " | " + msg);
    client::err(client::columnize(lines));
}

int run_keys(const CLI::App& app, const KeysOpts& o) {
    bool found = o.list;
    for (const auto* arg : {&o.install, &o.use, &o.remove}) {
        if (found && !arg->empty()) {
            client::err("Only one of -install, -use, -remove, or -list allowed");
            return 1;
        }
        found = found || !arg->empty();
    }
    if (!found) {
        client::err(kKeysHelp);
        return 1;
    }
    auto c = client::connect(app, o.rpc);
    if (!c)
        return 1;
    struct Op {
        std::string_view command;
        const std::string* key;
        const char* start;
        const char* fail;
        const char* ok;
    };
    Op op{};
    if (o.list) {
        op = {rpc::cmd::kListKeys, nullptr, "Asking all members for installed keys...",
              "Failed to gather member keys: ", "Keys gathered, listing cluster keys..."};
    } else if (!o.install.empty()) {
        op = {rpc::cmd::kInstallKey, &o.install, "Installing key on all members...",
              "Error installing key: ", "Successfully installed key!"};
    } else if (!o.use.empty()) {
        op = {rpc::cmd::kUseKey, &o.use, "Changing primary key on all members...",
              "Error changing primary key: ", "Successfully changed primary key!"};
    } else {
        op = {rpc::cmd::kRemoveKey, &o.remove, "Removing key on all members...",
              "Error removing key: ", "Successfully removed key!"};
    }
    client::out(std::string("==> ") + op.start);
    auto r = op.key == nullptr ? c->call(op.command, nullptr, true)
                               : c->request(op.command, rpc::KeyRequest{*op.key}, true);
    rpc::KeyResponse kr;
    if (r.ok() && r->body)
        (void)rpc::decode(*r->body, kr);
    if (!r.ok() || !r->error.empty()) {
        print_failures(kr);
        client::err("");
        client::err(op.fail + (r.ok() ? r->error : r.error().message));
        return 1;
    }
    client::out(std::string("==> ") + op.ok);
    if (o.list) {
        client::out("");
        std::vector<std::string> lines;
        for (const auto& [key, n] : kr.keys) {
            lines.push_back(key + " | [" + std::to_string(n) + "/" + std::to_string(kr.num_nodes) + "]");
        }
        client::out(client::columnize(lines));
    }
    return 0;
}

struct InfoOpts {
    client::RpcFlags rpc;
    std::string format = "text";
};

int run_info(const CLI::App& app, const InfoOpts& o) {
    auto c = client::connect(app, o.rpc);
    if (!c)
        return 1;
    auto r = c->call(rpc::cmd::kStats, nullptr, true);
    rpc::StatsResponse stats;
    if (r.ok() && r->body) {
        if (auto st = rpc::decode(*r->body, stats); !st.ok())
            r = st.error();
    }
    if (!r.ok() || !r->error.empty()) {
        client::err("Error querying agent: " + (r.ok() ? r->error : r.error().message));
        return 1;
    }
    if (o.format == "text") {
        std::string text;
        for (const auto& [section, kv] : stats) {
            text += section + ":\n";
            for (const auto& [k, v] : kv)
                text += "\t" + k + " = " + v + "\n";
        }
        while (!text.empty() && std::isspace(static_cast<unsigned char>(text.back())))
            text.pop_back();
        client::out(text);
        return 0;
    }
    if (o.format == "json") {
        std::vector<std::pair<std::string, client::Json>> f;
        for (const auto& [section, kv] : stats)
            f.emplace_back(section, client::Json::string_map(kv));
        client::out(client::Json::object(std::move(f)).dump());
        return 0;
    }
    client::err("Encoding error: Invalid output format \"" + o.format + "\"");
    return 1;
}

int run_keygen() {
    std::uint8_t key[32];
    std::size_t got = 0;
    while (got < sizeof key) {
        const ssize_t n = ::getrandom(key + got, sizeof key - got, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            client::err(std::string("Error reading random data: ") + std::strerror(errno));
            return 1;
        }
        got += static_cast<std::size_t>(n);
    }
    client::out(base::base64_encode(base::ByteView(key, sizeof key)));
    return 0;
}

Registrar keys_reg{CommandSpec{"keys", "manage the gossip encryption keyring", [](CLI::App& app) -> Runner {
                                   auto o = std::make_shared<KeysOpts>();
                                   app.footer(kKeysHelp);
                                   client::add_rpc_flags(app, o->rpc);
                                   app.add_option("--install", o->install, "install a key");
                                   app.add_option("--use", o->use, "make a key primary");
                                   app.add_option("--remove", o->remove, "remove a key");
                                   app.add_flag("--list", o->list, "list keys");
                                   return [&app, o] { return run_keys(app, *o); };
                               }}};

Registrar info_reg{CommandSpec{"info", "debugging information for operators", [](CLI::App& app) -> Runner {
                                   auto o = std::make_shared<InfoOpts>();
                                   app.footer(kInfoHelp);
                                   client::add_rpc_flags(app, o->rpc);
                                   app.add_option("--format", o->format, "text or json");
                                   return [&app, o] { return run_info(app, *o); };
                               }}};

Registrar keygen_reg{CommandSpec{"keygen", "generate a new encryption key",
                                 [](CLI::App&) -> Runner { return [] { return run_keygen(); }; }}};

} // namespace
} // namespace clusterd::cli
