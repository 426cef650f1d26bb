// sd_notify (see sd_notify.hpp), speaking systemd's notification protocol directly: one unix
// datagram carrying "KEY=VALUE" lines, sent to the socket named by $NOTIFY_SOCKET (a filesystem
// path, or an abstract name written with a leading '@'). The protocol is documented as a stable
// interface in sd_notify(3); doing it here instead of linking libsystemd keeps seven shared
// libraries (libsystemd, libgcrypt, libgpg-error, liblzma, libzstd, liblz4, libcap) and about
// 0.8 MiB of resident pages out of every agent process.
#include "clusterd/agent/sd_notify.hpp"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>

namespace clusterd::agent {

namespace {

/// Fills `addr` from $NOTIFY_SOCKET's value; returns the address length, or 0 if unusable.
socklen_t notify_address(const char* name, sockaddr_un& addr) {
    const std::size_t len = std::strlen(name);
    if (len == 0 || len >= sizeof(addr.sun_path))
        return 0;
    if (name[0] != '/' && name[0] != '@')
        return 0;
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path, name, len);
    if (name[0] == '@')
        addr.sun_path[0] = '\0'; // abstract namespace: no terminating NUL counted
    const std::size_t used = offsetof(sockaddr_un, sun_path) + len + (name[0] == '/' ? 1 : 0);
    return static_cast<socklen_t>(used);
}

} // namespace

int sd_notify_state(const std::string& state) {
    const char* sock = std::getenv("NOTIFY_SOCKET");
    if (sock == nullptr || *sock == '\0')
        return 0;
    sockaddr_un addr{};
    const socklen_t addr_len = notify_address(sock, addr);
    if (addr_len == 0)
        return -EINVAL;
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    const ssize_t sent = ::sendto(fd, state.data(), state.size(), MSG_NOSIGNAL,
                                  reinterpret_cast<const sockaddr*>(&addr), addr_len);
    const int err = sent < 0 ? errno : 0;
    ::close(fd);
    if (err != 0)
        return -err;
    return static_cast<std::size_t>(sent) == state.size() ? 1 : -EMSGSIZE;
}

int notify_ready(const std::string& status) {
    return sd_notify_state("READY=1\nSTATUS=" + status);
}

int notify_stopping(const std::string& status) {
    return sd_notify_state("STOPPING=1\nSTATUS=" + status);
}

int notify_status(const std::string& status) {
    return sd_notify_state("STATUS=" + status);
}

int notify_reloading() {
    return sd_notify_state("RELOADING=1");
}

int notify_watchdog() {
    return sd_notify_state("WATCHDOG=1");
}

namespace {

/// A whole decimal number without sign, spaces or overflow; false otherwise.
bool parse_decimal(const char* text, unsigned long long& out) {
    if (text == nullptr || *text == '\0')
        return false;
    unsigned long long v = 0;
    for (const char* p = text; *p != '\0'; ++p) {
        if (*p < '0' || *p > '9')
            return false;
        const auto digit = static_cast<unsigned long long>(*p - '0');
        if (v > (std::numeric_limits<unsigned long long>::max() - digit) / 10)
            return false;
        v = v * 10 + digit;
    }
    out = v;
    return true;
}

} // namespace

std::chrono::microseconds watchdog_interval(const char* usec, const char* pid, pid_t self) {
    unsigned long long us = 0;
    if (!parse_decimal(usec, us) || us == 0)
        return std::chrono::microseconds(0);
    // Bounded so that the duration's signed count cannot overflow (systemd's "infinity" is
    // UINT64_MAX, which it never exports; anything near it is treated as malformed).
    if (us > static_cast<unsigned long long>(std::numeric_limits<std::int64_t>::max() / 2))
        return std::chrono::microseconds(0);
    if (pid != nullptr) {
        unsigned long long p = 0;
        if (!parse_decimal(pid, p) || p != static_cast<unsigned long long>(self))
            return std::chrono::microseconds(0);
    }
    return std::chrono::microseconds(static_cast<std::int64_t>(us));
}

std::chrono::microseconds watchdog_interval_from_env() {
    return watchdog_interval(std::getenv("WATCHDOG_USEC"), std::getenv("WATCHDOG_PID"), ::getpid());
}

} // namespace clusterd::agent
