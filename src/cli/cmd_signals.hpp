// SIGINT/SIGTERM as a flag for the long-running client subcommands (monitor, query, reachability).
#pragma once

namespace clusterd::cli::signals {

/// Installs handlers for SIGINT and SIGTERM (idempotent).
void install();
/// True once SIGINT or SIGTERM arrived.
bool interrupted();

} // namespace clusterd::cli::signals
