// The netlab fixture itself: addresses only inside the lab, drop rules per direction and
// protocol, link down/up, hosts files, and that nothing is left behind (also after a crash).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <gtest/gtest.h>
#include <thread>

#include "support/netlab.hpp"

using namespace clusterd::testing;
using netlab::Lab;

namespace {

void require_root() {
    const auto why = netlab::unavailable_reason();
    ASSERT_TRUE(why.empty()) << why;
}

sockaddr_storage sockaddr_of(const std::string& ip, std::uint16_t port, socklen_t& len) {
    sockaddr_storage ss{};
    if (ip.find(':') == std::string::npos) {
        auto* s = reinterpret_cast<sockaddr_in*>(&ss);
        s->sin_family = AF_INET;
        s->sin_port = htons(port);
        inet_pton(AF_INET, ip.c_str(), &s->sin_addr);
        len = sizeof(sockaddr_in);
    } else {
        auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
        s->sin6_family = AF_INET6;
        s->sin6_port = htons(port);
        inet_pton(AF_INET6, ip.c_str(), &s->sin6_addr);
        len = sizeof(sockaddr_in6);
    }
    return ss;
}

// One UDP datagram from host `from` to `to_ip`:port on host `to`; true if it arrived within
// `wait`. Retried for up to `tries` datagrams (links come up asynchronously).
bool udp_reaches(Lab& lab, int from, int to, const std::string& to_ip, int tries = 1,
                 std::chrono::milliseconds wait = std::chrono::milliseconds(300)) {
    const int family = to_ip.find(':') == std::string::npos ? AF_INET : AF_INET6;
    const int rx = lab.socket_in(to, family, SOCK_DGRAM);
    const int tx = lab.socket_in(from, family, SOCK_DGRAM);
    socklen_t len = 0;
    auto any = sockaddr_of(family == AF_INET ? "0.0.0.0" : "::", 0, len);
    ::bind(rx, reinterpret_cast<sockaddr*>(&any), len);
    sockaddr_storage bound{};
    socklen_t blen = sizeof bound;
    ::getsockname(rx, reinterpret_cast<sockaddr*>(&bound), &blen);
    const std::uint16_t port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                                       : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    auto dst = sockaddr_of(to_ip, port, len);
    bool got = false;
    for (int i = 0; i < tries && !got; ++i) {
        ::sendto(tx, "x", 1, 0, reinterpret_cast<sockaddr*>(&dst), len);
        pollfd p{rx, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(wait.count())) == 1) {
            char b[8];
            got = ::recv(rx, b, sizeof b, 0) == 1;
        }
    }
    ::close(rx);
    ::close(tx);
    return got;
}

bool tcp_connects(Lab& lab, int from, int to, const std::string& to_ip) {
    const int family = to_ip.find(':') == std::string::npos ? AF_INET : AF_INET6;
    const int ls = lab.socket_in(to, family, SOCK_STREAM);
    socklen_t len = 0;
    auto any = sockaddr_of(family == AF_INET ? "0.0.0.0" : "::", 0, len);
    ::bind(ls, reinterpret_cast<sockaddr*>(&any), len);
    ::listen(ls, 4);
    sockaddr_storage bound{};
    socklen_t blen = sizeof bound;
    ::getsockname(ls, reinterpret_cast<sockaddr*>(&bound), &blen);
    const std::uint16_t port = ntohs(family == AF_INET ? reinterpret_cast<sockaddr_in*>(&bound)->sin_port
                                                       : reinterpret_cast<sockaddr_in6*>(&bound)->sin6_port);
    const int c = lab.socket_in(from, family, SOCK_STREAM | SOCK_NONBLOCK);
    auto dst = sockaddr_of(to_ip, port, len);
    ::connect(c, reinterpret_cast<sockaddr*>(&dst), len);
    pollfd p{c, POLLOUT, 0};
    bool ok = false;
    if (::poll(&p, 1, 1000) == 1) {
        int err = 0;
        socklen_t el = sizeof err;
        ::getsockopt(c, SOL_SOCKET, SO_ERROR, &err, &el);
        ok = err == 0;
    }
    ::close(c);
    ::close(ls);
    return ok;
}

bool ns_exists(const std::string& ns) {
    return std::filesystem::exists("/run/netns/" + ns);
}

// Running (a zombie waiting for init to reap it counts as gone).
bool alive(pid_t pid) {
    std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(in, line))
        return false;
    const auto close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

} // namespace

TEST(Netlab, AddressesExistOnlyInsideTheLab) {
    require_root();
    Lab lab({.hosts = 2, .ipv4 = true, .ipv6 = true, .ipv6_only = {}});
    EXPECT_EQ(lab.ipv4(0), "10.201.0.1");
    EXPECT_EQ(lab.ipv4(1), "10.201.0.2");
    auto mine = run({"ip", "-br", "addr"});
    EXPECT_EQ(mine.out.find("10.201."), std::string::npos) << mine.out;
    EXPECT_EQ(mine.out.find("fd00:cd::"), std::string::npos) << mine.out;
    auto theirs = lab.run(1, {"ip", "-br", "addr", "show", "dev", "eth0"});
    EXPECT_NE(theirs.out.find("10.201.0.2/16"), std::string::npos) << theirs.out;
    EXPECT_NE(theirs.out.find("fd00:cd::2/64"), std::string::npos) << theirs.out;
    EXPECT_TRUE(udp_reaches(lab, 0, 1, lab.ipv4(1), 10));
    EXPECT_TRUE(udp_reaches(lab, 1, 0, lab.ipv6(0), 10));
    EXPECT_TRUE(tcp_connects(lab, 0, 1, lab.ipv6(1)));
}

TEST(Netlab, BlockIsPerDirectionAndProtocol) {
    require_root();
    Lab lab({.hosts = 3, .ipv4 = true, .ipv6 = true, .ipv6_only = {}});
    ASSERT_TRUE(udp_reaches(lab, 0, 1, lab.ipv4(1), 10));
    lab.block(0, 1, netlab::Proto::Udp);
    EXPECT_FALSE(udp_reaches(lab, 0, 1, lab.ipv4(1), 2)) << lab.ruleset(1);
    EXPECT_FALSE(udp_reaches(lab, 0, 1, lab.ipv6(1), 2)) << lab.ruleset(1);
    EXPECT_TRUE(udp_reaches(lab, 1, 0, lab.ipv4(0), 3)) << "the other direction stays open";
    EXPECT_TRUE(udp_reaches(lab, 2, 1, lab.ipv4(1), 3)) << "other hosts stay open";
    EXPECT_TRUE(tcp_connects(lab, 0, 1, lab.ipv4(1))) << "only UDP is dropped";
    lab.unblock(0, 1, netlab::Proto::Udp);
    EXPECT_TRUE(udp_reaches(lab, 0, 1, lab.ipv4(1), 3));

    lab.partition({0}, {1, 2});
    EXPECT_FALSE(tcp_connects(lab, 0, 2, lab.ipv4(2)));
    EXPECT_FALSE(udp_reaches(lab, 2, 0, lab.ipv4(0), 2));
    EXPECT_TRUE(udp_reaches(lab, 1, 2, lab.ipv4(2), 3));
    // A second address added later is covered by the existing rules.
    const auto extra = lab.add_ipv4(0);
    EXPECT_EQ(extra, "10.201.1.1");
    EXPECT_NE(lab.ruleset(1).find("10.201.1.1"), std::string::npos) << lab.ruleset(1);
    lab.heal();
    EXPECT_TRUE(udp_reaches(lab, 2, 0, lab.ipv4(0), 3));
    EXPECT_TRUE(udp_reaches(lab, 2, 0, extra, 3));

    lab.loss(1, 2, 100);
    EXPECT_FALSE(udp_reaches(lab, 1, 2, lab.ipv4(2), 2));
    lab.loss(1, 2, 0);
    EXPECT_TRUE(udp_reaches(lab, 1, 2, lab.ipv4(2), 3));
}

TEST(Netlab, LinkDownAndUp) {
    require_root();
    Lab lab({.hosts = 2, .ipv4 = true, .ipv6 = true, .ipv6_only = {}});
    ASSERT_TRUE(udp_reaches(lab, 0, 1, lab.ipv4(1), 10));
    lab.link_down(1);
    EXPECT_FALSE(udp_reaches(lab, 0, 1, lab.ipv4(1), 2));
    EXPECT_FALSE(udp_reaches(lab, 1, 0, lab.ipv6(0), 2));
    lab.link_up(1);
    EXPECT_TRUE(udp_reaches(lab, 0, 1, lab.ipv4(1), 20));
    EXPECT_TRUE(udp_reaches(lab, 1, 0, lab.ipv6(0), 20)) << "IPv6 addresses survive link down";
}

TEST(Netlab, Ipv6OnlyHostAndHostsFile) {
    require_root();
    Lab lab({.hosts = 2, .ipv4 = true, .ipv6 = false, .ipv6_only = {1}});
    EXPECT_EQ(lab.ipv4(1), "");
    EXPECT_EQ(lab.ipv6(1), "fd00:cd::2");
    EXPECT_EQ(lab.ipv6(0), "");
    lab.set_hosts(0, "10.201.0.9 ghost\n10.201.0.1 self-name\n");
    auto r = lab.run(0, {"getent", "ahostsv4", "self-name"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("10.201.0.1"), std::string::npos) << r.out;
    auto none = lab.run(0, {"getent", "hosts", "no-such-name.invalid"}, std::chrono::seconds(10));
    EXPECT_NE(none.exit_code, 0);
    // The caller's own /etc/hosts is untouched.
    EXPECT_EQ(run({"getent", "hosts", "self-name"}).exit_code, 2);
}

TEST(Netlab, TeardownLeavesNothing) {
    require_root();
    std::string prefix;
    {
        Lab lab({.hosts = 2, .ipv4 = true, .ipv6 = false, .ipv6_only = {}});
        prefix = lab.prefix();
        EXPECT_TRUE(ns_exists(lab.ns(0)));
        // A process still running inside the lab is killed by the teardown.
        Child sleeper = lab.spawn(1, {"sleep", "300"}, "/dev/null");
        ASSERT_GT(sleeper.pid(), 0);
        std::this_thread::sleep_for(std::chrono::milliseconds(200));
        lab.teardown();
        EXPECT_TRUE(wait_until([&] { return !sleeper.running(); }, std::chrono::seconds(5)));
    }
    EXPECT_FALSE(ns_exists(prefix + "-h0"));
    EXPECT_FALSE(ns_exists(prefix + "-sw"));
    EXPECT_FALSE(std::filesystem::exists("/etc/netns/" + prefix + "-h0"));
}

namespace {
// Forks a process that builds a lab (with a process running inside it) and dies without
// tearing it down, as a test killed by SIGKILL. Returns "<prefix> <pid of the process inside>".
std::string leak_a_lab(bool guard) {
    int fds[2];
    if (::pipe(fds) != 0)
        return "";
    const pid_t pid = ::fork();
    if (pid < 0)
        return "";
    if (pid == 0) {
        ::close(fds[0]);
        try {
            auto* leaked =
                new Lab({.hosts = 2, .ipv4 = true, .ipv6 = false, .ipv6_only = {}, .guard = guard});
            auto* orphan = new Child(leaked->spawn(1, {"sleep", "300"}, "/dev/null"));
            std::string p = leaked->prefix() + " " + std::to_string(orphan->pid());
            if (::write(fds[1], p.data(), p.size()) < 0)
                _exit(3);
        } catch (...) {
            _exit(2);
        }
        _exit(0); // no destructor runs, as after SIGKILL
    }
    ::close(fds[1]);
    char buf[64] = {};
    const auto n = ::read(fds[0], buf, sizeof buf - 1);
    ::close(fds[0]);
    int st = 0;
    ::waitpid(pid, &st, 0);
    return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
}
} // namespace

TEST(Netlab, KilledTestWithoutGuardIsSweptByTheNextLab) {
    require_root();
    const std::string reply = leak_a_lab(false);
    ASSERT_NE(reply.find(' '), std::string::npos) << reply;
    const std::string leaked = reply.substr(0, reply.find(' '));
    const pid_t orphan = static_cast<pid_t>(std::stol(reply.substr(reply.find(' ') + 1)));
    EXPECT_TRUE(ns_exists(leaked + "-h1"));
    EXPECT_TRUE(alive(orphan));
    EXPECT_GE(Lab::sweep(), 3);
    EXPECT_TRUE(wait_until([&] { return !alive(orphan); }, std::chrono::seconds(5)))
        << "sweep kills what ran inside";
    EXPECT_FALSE(ns_exists(leaked + "-h1"));
    EXPECT_FALSE(ns_exists(leaked + "-sw"));
    EXPECT_FALSE(std::filesystem::exists("/etc/netns/" + leaked + "-h1"));
}

TEST(Netlab, KilledTestIsCleanedUpByItsGuard) {
    require_root();
    ASSERT_NE(Lab::guard_binary(), "") << "the netlab CLI (guard) is built next to the tests";
    const std::string reply = leak_a_lab(true);
    ASSERT_NE(reply.find(' '), std::string::npos) << reply;
    const std::string leaked = reply.substr(0, reply.find(' '));
    const pid_t orphan = static_cast<pid_t>(std::stol(reply.substr(reply.find(' ') + 1)));
    // No sweep here: the guard saw its pipe close without "done".
    EXPECT_TRUE(wait_until([&] { return !ns_exists(leaked + "-h0") && !ns_exists(leaked + "-sw"); },
                           std::chrono::seconds(10)));
    EXPECT_TRUE(wait_until([&] { return !alive(orphan); }, std::chrono::seconds(5)));
    EXPECT_FALSE(std::filesystem::exists("/etc/netns/" + leaked + "-h1"));
}
