// Subcommand registry: each cmd_*.cpp registers itself with a static Registrar, so subcommands
// can be added without touching a shared file. (clusterd_cli is an OBJECT library, so no
// registrar is dropped by the linker.)
#pragma once

#include <CLI/CLI.hpp>
#include <functional>
#include <string>
#include <vector>

namespace clusterd::cli {

/// What a subcommand does once its flags are parsed; returns the exit code.
using Runner = std::function<int()>;

struct CommandSpec {
    std::string name;
    std::string help;
    /// Adds the subcommand's options to `app` and returns the runner that reads them.
    std::function<Runner(CLI::App& app)> setup;
};

std::vector<CommandSpec>& command_registry();

struct Registrar {
    explicit Registrar(CommandSpec spec) { command_registry().push_back(std::move(spec)); }
};

/// Turns a CLI11 parse error into a clear one-line message naming the flag as typed.
std::string describe_parse_error(const CLI::ParseError& e, const std::vector<std::string>& original_args);

} // namespace clusterd::cli
