#include "clusterd/cli/cli.hpp"

#include <iostream>
#include <string_view>

#include "clusterd/agent/allocator.hpp"

#include "registry.hpp"

namespace clusterd::cli {

std::vector<CommandSpec>& command_registry() {
    static std::vector<CommandSpec> specs;
    return specs;
}

std::vector<std::string> normalize_go_flags(const std::vector<std::string>& args) {
    std::vector<std::string> out;
    out.reserve(args.size());
    bool rest_positional = false;
    for (const auto& a : args) {
        if (rest_positional) {
            out.push_back(a);
            continue;
        }
        if (a == "--") {
            rest_positional = true;
            out.push_back(a);
            continue;
        }
        // "-x" stays a short flag; "-name", "-name=v" become "--name", "--name=v".
        if (a.size() > 2 && a[0] == '-' && a[1] != '-') {
            out.push_back("-" + a);
        } else {
            out.push_back(a);
        }
    }
    return out;
}

std::string describe_parse_error(const CLI::ParseError& e, const std::vector<std::string>& original_args) {
    if (dynamic_cast<const CLI::ExtrasError*>(&e) != nullptr) {
        // Find the first argument the user typed that CLI11 did not accept.
        for (const auto& a : original_args) {
            if (a.size() > 1 && a[0] == '-') {
                std::string name = a.substr(a.find_first_not_of('-'));
                name = name.substr(0, name.find('='));
                if (std::string(e.what()).find("-" + name) != std::string::npos) {
                    return "unknown flag '" + a.substr(0, a.find('=')) + "'";
                }
            }
        }
        return std::string("unexpected arguments: ") + e.what();
    }
    return e.what();
}

namespace {
std::vector<std::string> collect_args(int argc, char** argv) {
    std::vector<std::string> args;
    for (int i = 1; i < argc; ++i)
        args.emplace_back(argv[i]);
    return args;
}
} // namespace

int run(int argc, char** argv) {
    // The agent's allocator setting is taken before anything else runs (it may re-execute).
    if (argc > 1 && std::string_view(argv[1]) == "agent")
        agent::apply_allocator_setting(argv);
    const auto original = collect_args(argc, argv);
    CLI::App app{"clusterd: a Serf-compatible gossip membership daemon", "clusterd"};
    app.require_subcommand(1);
    Runner chosen;
    for (auto& spec : command_registry()) {
        CLI::App* sub = app.add_subcommand(spec.name, spec.help);
        auto runner = spec.setup(*sub);
        sub->callback([&chosen, runner] { chosen = runner; });
    }
    auto normalized = normalize_go_flags(original);
    std::vector<std::string> reversed(normalized.rbegin(), normalized.rend());
    try {
        app.parse(reversed);
    } catch (const CLI::CallForHelp& e) {
        return app.exit(e);
    } catch (const CLI::CallForAllHelp& e) {
        return app.exit(e);
    } catch (const CLI::ParseError& e) {
        std::cerr << "clusterd: " << describe_parse_error(e, original) << "\n"
                  << "Run 'clusterd --help' or 'clusterd <command> --help' for usage.\n";
        return 1;
    }
    if (!chosen)
        return 1;
    return chosen();
}

} // namespace clusterd::cli
