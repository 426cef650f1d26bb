// systemd readiness notification (Type=notify): systemd's sd_notify datagram protocol. Every call is a
// no-op returning 0 when $NOTIFY_SOCKET is not set, so the agent may call them unconditionally.
#pragma once

#include <sys/types.h>

#include <chrono>
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
/// WATCHDOG=1: "the event loop is alive" (WatchdogSec= in the unit).
int notify_watchdog();

/// The watchdog interval systemd asks for, from $WATCHDOG_USEC and $WATCHDOG_PID (sd_watchdog_enabled(3)):
/// zero when the watchdog is off, when either value is malformed, or when $WATCHDOG_PID names
/// another process. Pure: the caller passes the two values (null = unset) and its own pid.
std::chrono::microseconds watchdog_interval(const char* usec, const char* pid, pid_t self);
/// The same, from this process's environment.
std::chrono::microseconds watchdog_interval_from_env();

} // namespace clusterd::agent
