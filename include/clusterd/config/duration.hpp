// Go-syntax durations ("30s", "1h30m", "1.5h", "250ms") for config values, parsed and printed the
// way Go's time.ParseDuration / Duration.String do, so Serf config files mean the same thing here.
#pragma once

#include <string>
#include <string_view>

#include "clusterd/base/result.hpp"
#include "clusterd/base/time.hpp"

namespace clusterd::config {

/// Parses a Go duration: an optional sign, then one or more decimal numbers each with a unit
/// (ns, us, µs, ms, s, m, h). "0" alone is allowed. Overflow and junk are errors.
base::Result<base::Duration> parse_go_duration(std::string_view text);

/// Formats like Go's Duration.String(): "0s", "1.5s", "500ms", "1h30m0s", "24h0m0s".
std::string format_go_duration(base::Duration d);

} // namespace clusterd::config
