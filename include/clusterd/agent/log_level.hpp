// The agent's log levels (Serf's five: TRACE, DEBUG, INFO, WARN, ERR), shared by the log hub
// and the handler runner.
#pragma once

namespace clusterd::agent {

enum class LogLevel { Trace = 0, Debug = 1, Info = 2, Warn = 3, Error = 4 };

} // namespace clusterd::agent
