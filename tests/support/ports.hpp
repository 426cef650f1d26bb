// The port allocator of the test suite: ports free for both TCP and UDP on a loopback address.
#pragma once

#include <cstdint>
#include <string>

namespace clusterd::testing {

/// A port that is free for both UDP and TCP on `host` right now, and that this process has not
/// been given before (a test that picks 100 ports before it starts its agents would otherwise
/// collide with itself). Ports come from below the kernel's ephemeral range, so an outgoing
/// connection of another process does not take the port between this call and the bind. Thread
/// safe. Returns 0 if no port was found.
std::uint16_t free_port(const std::string& host = "127.0.0.1");

} // namespace clusterd::testing
