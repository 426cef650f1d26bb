// systemd readiness notification (Type=notify): systemd's sd_notify datagram protocol. Every call is a
// no-op returning 0 when $NOTIFY_SOCKET is not set, so the agent may call them unconditionally.
#pragma once

#include <string>

namespace clusterd::agent {

/// Sends a raw state string ("READY=1\nSTATUS=..."). Returns >0 if sent, 0 if there is no notify
/// socket, <0 (a negative errno) on failure.
int sd_notify_state(const std::string& state);

/// READY=1 plus a STATUS line.
int notify_ready(const std::string& status = "running");
/// STOPPING=1 plus a STATUS line.
int notify_stopping(const std::string& status = "leaving the cluster");
/// STATUS=<text>.
int notify_status(const std::string& status);
/// RELOADING=1 (SIGHUP reload start); call notify_ready() when done.
int notify_reloading();

} // namespace clusterd::agent
