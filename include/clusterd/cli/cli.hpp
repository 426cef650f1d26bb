// The clusterd command line: one binary, Serf's subcommands, Go-style single-dash flags.
#pragma once

#include <string>
#include <vector>

#include "clusterd/base/result.hpp"
#include "clusterd/config/flags.hpp"

namespace clusterd::cli {

/// Runs the CLI; returns the process exit code.
int run(int argc, char** argv);

/// Rewrites Go-style flags (`-node=a`, `-node a`) to the double-dash form CLI11 parses
/// (`--node=a`). Single-letter flags (`-c`), `--` and everything after it are left alone.
std::vector<std::string> normalize_go_flags(const std::vector<std::string>& args);

/// Parses the arguments that follow `clusterd agent` into flag values, without running the agent.
/// Unknown flags give an error naming the flag as the user spelled it.
base::Result<config::FlagValues> parse_agent_args(const std::vector<std::string>& args);

} // namespace clusterd::cli
