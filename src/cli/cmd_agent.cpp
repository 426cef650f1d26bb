// `clusterd agent`: every `serf agent` flag (Go spelling accepted) plus -c/--config.
#include <memory>

#include "clusterd/agent/agent.hpp"
#include "clusterd/cli/cli.hpp"
#include "registry.hpp"

namespace clusterd::cli {
namespace {

struct AgentOptions {
    std::map<std::string, std::vector<std::string>> raw; // flag name -> values
    std::map<std::string, bool> bools;
    std::string config_path;
};

/// Declares every agent flag on `app`; values land in `opts`.
void declare_agent_flags(CLI::App& app, AgentOptions& opts) {
    app.add_option("-c,--config", opts.config_path, "clusterd YAML config file");
    for (const auto& f : config::agent_flags()) {
        const std::string name = std::string("--") + f.name;
        switch (f.kind) {
        case config::FlagKind::Bool:
            app.add_flag(name, opts.bools[f.key], f.help);
            break;
        case config::FlagKind::String:
            app.add_option(name, opts.raw[f.key], f.help)
                ->expected(1)
                ->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
            break;
        case config::FlagKind::Repeated:
            app.add_option(name, opts.raw[f.key], f.help)->allow_extra_args(false);
            break;
        }
    }
}

config::FlagValues to_values(const CLI::App& app, const AgentOptions& opts) {
    config::FlagValues out;
    for (const auto& f : config::agent_flags()) {
        const CLI::Option* opt = app.get_option(std::string("--") + f.name);
        if (opt->count() == 0)
            continue;
        if (f.kind == config::FlagKind::Bool) {
            out.values[f.key] = {opts.bools.at(f.key) ? "true" : "false"};
        } else {
            out.values[f.key] = opts.raw.at(f.key);
        }
    }
    if (!opts.config_path.empty())
        out.values["config"] = {opts.config_path};
    return out;
}

Registrar reg{
    CommandSpec{"agent", "run the clusterd agent (accepts serf agent's flags)", [](CLI::App& app) -> Runner {
                    auto opts = std::make_shared<AgentOptions>();
                    declare_agent_flags(app, *opts);
                    return [&app, opts] { return agent::run_agent(to_values(app, *opts)); };
                }}};
} // namespace

base::Result<config::FlagValues> parse_agent_args(const std::vector<std::string>& args) {
    CLI::App app{"agent"};
    AgentOptions opts;
    declare_agent_flags(app, opts);
    auto normalized = normalize_go_flags(args);
    std::vector<std::string> reversed(normalized.rbegin(), normalized.rend());
    try {
        app.parse(reversed);
    } catch (const CLI::ParseError& e) {
        return base::make_error("bad_flag", describe_parse_error(e, args));
    }
    return to_values(app, opts);
}

} // namespace clusterd::cli
