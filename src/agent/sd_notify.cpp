// sd_notify wrappers (see sd_notify.hpp).
#include "clusterd/agent/sd_notify.hpp"

#include <systemd/sd-daemon.h>

#include <cstdlib>

namespace clusterd::agent {

int sd_notify_state(const std::string& state) {
    const char* sock = std::getenv("NOTIFY_SOCKET");
    if (sock == nullptr || *sock == '\0') return 0;
    return ::sd_notify(0, state.c_str());
}

int notify_ready(const std::string& status) { return sd_notify_state("READY=1\nSTATUS=" + status); }

int notify_stopping(const std::string& status) { return sd_notify_state("STOPPING=1\nSTATUS=" + status); }

int notify_status(const std::string& status) { return sd_notify_state("STATUS=" + status); }

int notify_reloading() { return sd_notify_state("RELOADING=1"); }

}  // namespace clusterd::agent
