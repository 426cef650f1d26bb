// The agent: the composition root that turns a Config into a running daemon on one io_context.
#pragma once

#include "clusterd/config/flags.hpp"

namespace clusterd::agent {

/// Loads the configuration and runs the agent in the foreground until a stop signal.
/// Returns the process exit code.
int run_agent(const config::FlagValues& flags);

} // namespace clusterd::agent
