#include "support/ports.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <mutex>
#include <random>
#include <set>

namespace clusterd::testing {
namespace {

/// [lo, hi) to draw from: 20000 up to the start of the ephemeral range when that leaves room,
/// else 20000..50000.
std::pair<unsigned, unsigned> port_range() {
    unsigned eph_lo = 0, eph_hi = 0;
    std::ifstream f("/proc/sys/net/ipv4/ip_local_port_range");
    if (f >> eph_lo >> eph_hi && eph_lo >= 25000)
        return {20000, eph_lo};
    return {20000, 50000};
}

bool bindable(const std::string& host, std::uint16_t port) {
    // An IPv4 or IPv6 literal ("::1" for IPv6 clusters).
    sockaddr_storage ss{};
    socklen_t len = 0;
    auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (::inet_pton(AF_INET, host.c_str(), &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        len = sizeof(sockaddr_in);
    } else if (::inet_pton(AF_INET6, host.c_str(), &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        len = sizeof(sockaddr_in6);
    } else {
        return false;
    }
    const int u = ::socket(ss.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const int t = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    const bool ok = u >= 0 && t >= 0 && ::bind(u, reinterpret_cast<sockaddr*>(&ss), len) == 0 &&
                    ::bind(t, reinterpret_cast<sockaddr*>(&ss), len) == 0;
    if (u >= 0)
        ::close(u);
    if (t >= 0)
        ::close(t);
    return ok;
}

} // namespace

std::uint16_t free_port(const std::string& host) {
    static std::mutex mu;
    static std::set<std::uint16_t> given;
    static std::mt19937 rng(
        static_cast<unsigned>(::getpid()) * 7919u +
        static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
    static const auto range = port_range();
    std::lock_guard<std::mutex> lock(mu);
    for (int attempt = 0; attempt < 500; ++attempt) {
        const auto port = static_cast<std::uint16_t>(range.first + rng() % (range.second - range.first));
        if (given.count(port) != 0)
            continue;
        if (!bindable(host, port))
            continue;
        given.insert(port);
        return port;
    }
    return 0;
}

} // namespace clusterd::testing
