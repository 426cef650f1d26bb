// Issue 18: mDNS discovery compatible with `serf agent -discover=NAME`, in a lab whose bridge
// carries multicast. Agents start with -discover=lab and no -join; clusterd and the real serf
// must answer each other's queries and join what they find. A malformed mDNS packet is dropped,
// counted in the agent's stats, and the agent keeps working.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <iostream>
#include <string>

#include "lab_cluster.hpp"
#include "support/wait.hpp"

using namespace clusterd::testing;
using namespace std::chrono_literals;

namespace {

void require_lab() {
    const auto why = netlab::unavailable_reason();
    ASSERT_TRUE(why.empty()) << why;
}

// The agent's "mdns" stats group (`serf info -format=json`), or an empty object.
nlohmann::json mdns_stats(LabCluster& c, const LabAgent& via) {
    auto r = c.serf_cli(via, {"info", "-format=json"}, 5s);
    if (r.exit_code != 0)
        return nlohmann::json::object();
    auto j = nlohmann::json::parse(r.out, nullptr, false);
    if (j.is_discarded() || !j.contains("mdns"))
        return nlohmann::json::object();
    return j["mdns"];
}

std::string stat(LabCluster& c, const LabAgent& via, const std::string& key) {
    auto m = mdns_stats(c, via);
    return m.contains(key) ? m[key].get<std::string>() : std::string();
}

void send_udp(netlab::Lab& lab, int from_host, const std::string& ip, const std::string& bytes) {
    const int fd = lab.socket_in(from_host, AF_INET, SOCK_DGRAM);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(5353);
    ASSERT_EQ(::inet_pton(AF_INET, ip.c_str(), &to.sin_addr), 1);
    const auto n = ::sendto(fd, bytes.data(), bytes.size(), 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
    ::close(fd);
    ASSERT_EQ(n, static_cast<ssize_t>(bytes.size())) << std::strerror(errno);
}

} // namespace

TEST(LabMdns, ClusterdAndSerfFormAClusterWithDiscoverAlone) {
    require_lab();
    netlab::Lab lab({.hosts = 3, .ipv4 = true, .ipv6 = false, .ipv6_only = {}, .multicast = true});
    LabCluster c(lab, "lab-mdns-mixed");
    const auto t0 = std::chrono::steady_clock::now();
    // c0 alone first; then serf, whose only way in is parsing clusterd's answer to its query;
    // then c2, which must parse the answers of both (Serf's and clusterd's).
    auto& c0 = c.start(Kind::Clusterd, "c0", 0, {"-discover=lab"});
    auto& s1 = c.start(Kind::Serf, "s1", 1, {"-discover=lab"});
    ASSERT_TRUE(c.wait_status(c0, "s1", "alive", 20s)) << c.dump();
    // Only serf's query can have been answered so far (c0 does not answer its own).
    EXPECT_NE(stat(c, c0, "queries_answered"), "0") << mdns_stats(c, c0).dump();
    auto& c2 = c.start(Kind::Clusterd, "c2", 2, {"-discover=lab"});
    ASSERT_TRUE(c.wait_all_alive({"c0", "s1", "c2"}, 20s)) << c.dump();
    for (auto* a : {&c0, &s1, &c2}) {
        auto s = c.statuses(*a);
        EXPECT_EQ(s.size(), 3u) << a->name;
        for (const auto& [name, status] : s)
            EXPECT_EQ(status, "alive") << a->name << " sees " << name;
    }
    // c2 found both peers through mDNS (not only one and the rest through gossip).
    EXPECT_TRUE(wait_until([&] { return stat(c, c2, "peers_found") == "2"; }, 5s))
        << mdns_stats(c, c2).dump() << c.dump();
    EXPECT_EQ(stat(c, c0, "malformed"), "0");
    std::cout << "mixed mDNS cluster formed in "
              << std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
                     .count()
              << " ms\n";
}

TEST(LabMdns, MalformedPacketIsDroppedAndCounted) {
    require_lab();
    netlab::Lab lab({.hosts = 2, .ipv4 = true, .ipv6 = false, .ipv6_only = {}, .multicast = true});
    LabCluster c(lab, "lab-mdns-malformed");
    auto& c0 = c.start(Kind::Clusterd, "c0", 0, {"-discover=lab"});
    ASSERT_EQ(stat(c, c0, "malformed"), "0") << mdns_stats(c, c0).dump();
    // A question whose name points at itself, a header cut short, a response whose A record
    // claims more rdata than there is: unicast to the agent, and one to the group.
    const std::string loop("\0\0\0\0\0\1\0\0\0\0\0\0\xc0\x0c\0\1\0\1", 18);
    const std::string cut("\0\0\x84", 3);
    const std::string rdata("\0\0\x84\0\0\0\0\1\0\0\0\0\0\0\1\0\1\0\0\0\x78\0\x40\1\2", 25);
    send_udp(lab, 1, lab.ipv4(0), loop);
    send_udp(lab, 1, lab.ipv4(0), cut);
    send_udp(lab, 1, lab.ipv4(0), rdata);
    send_udp(lab, 1, "224.0.0.251", loop);
    EXPECT_TRUE(wait_until([&] { return stat(c, c0, "malformed") == "4"; }, 5s)) << mdns_stats(c, c0).dump();
    EXPECT_NE(stat(c, c0, "last_error").find("mdns:"), std::string::npos);
    // Still working: a new agent finds it by mDNS and both see each other alive.
    ASSERT_TRUE(c0.child.running()) << c.dump();
    c.start(Kind::Clusterd, "c1", 1, {"-discover=lab"});
    EXPECT_TRUE(c.wait_all_alive({"c0", "c1"}, 20s)) << c.dump();
    // And it shuts down cleanly with its multicast sockets open (exit 0; a sanitizer build of
    // the agent would report leaks or lifetime errors here).
    const int status = c0.child.stop(SIGTERM, 10s);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status << c.dump();
    EXPECT_NE(c0.child.log().find("shutdown complete"), std::string::npos) << c.dump();
}

// Port 5353 shared on one host: a serf agent (Go's multicast socket: SO_REUSEADDR on
// 224.0.0.251:5353) and clusterd (SO_REUSEADDR + SO_REUSEPORT on 0.0.0.0:5353), started in both
// orders, as with an avahi-daemon holding the port. All four agents find each other.
TEST(LabMdns, SharesPort5353WithSerfOnTheSameHost) {
    require_lab();
    netlab::Lab lab({.hosts = 2, .ipv4 = true, .ipv6 = false, .ipv6_only = {}, .multicast = true});
    LabCluster c(lab, "lab-mdns-shared");
    const std::vector<std::string> second{"-bind=0.0.0.0:7947", "-rpc-addr=127.0.0.1:7374", "-discover=lab"};
    auto spawn_second = [&](Kind kind, const std::string& name, int host) {
        std::vector<std::string> argv{kind == Kind::Serf ? std::string("serf") : clusterd_bin(), "agent",
                                      "-node=" + name, "-log-level=debug"};
        argv.insert(argv.end(), second.begin(), second.end());
        return lab.spawn(host, argv, c.dir() + "/" + name + ".log");
    };
    auto members_of_second = [&](int host) {
        return lab.run(host, {"serf", "members", "-rpc-addr=127.0.0.1:7374", "-status=alive"}, 5s).out;
    };
    // Host 0: serf holds 5353 first, then clusterd binds it too.
    auto& s0 = c.start(Kind::Serf, "s0", 0, {"-discover=lab"});
    auto d0 = spawn_second(Kind::Clusterd, "d0", 0);
    ASSERT_TRUE(wait_until([&] { return members_of_second(0).find("s0") != std::string::npos; }, 20s))
        << members_of_second(0) << d0.log() << c.dump();
    // Host 1: clusterd first, then serf.
    auto& c1 = c.start(Kind::Clusterd, "c1", 1, {"-discover=lab"});
    auto s1 = spawn_second(Kind::Serf, "s1", 1);
    EXPECT_TRUE(c.wait_all_alive({"s0", "d0", "c1", "s1"}, 20s)) << c.dump() << d0.log() << s1.log();
    EXPECT_TRUE(wait_until(
        [&] {
            auto m = members_of_second(1);
            return m.find("s0") != std::string::npos && m.find("d0") != std::string::npos &&
                   m.find("c1") != std::string::npos;
        },
        10s))
        << members_of_second(1);
    EXPECT_TRUE(d0.running()) << d0.log();
    EXPECT_TRUE(s1.running()) << s1.log();
    (void)s0;
    (void)c1;
}

// IPv6-only hosts: the queries and answers go over ff02::fb and the peers are joined at the
// addresses of their AAAA records. Serf starts first: its client cannot query here (hashicorp/mdns
// gives up when the IPv4 send fails), but its responder answers over IPv6, so c1 must read Serf's
// AAAA answer, and c2 both.
TEST(LabMdns, Ipv6OnlyHosts) {
    require_lab();
    netlab::Lab lab({.hosts = 3, .ipv4 = true, .ipv6 = false, .ipv6_only = {0, 1, 2}, .multicast = true});
    LabCluster c(lab, "lab-mdns-v6");
    auto& s0 = c.start(Kind::Serf, "s0", 0,
                       {"-bind=[::]:7946", "-advertise=[" + lab.ipv6(0) + "]:7946", "-discover=lab"});
    auto& c1 = c.start(Kind::Clusterd, "c1", 1, {"-bind=[::]:7946", "-discover=lab"});
    ASSERT_TRUE(c.wait_status(c1, "s0", "alive", 20s)) << c.dump();
    auto& c2 = c.start(Kind::Clusterd, "c2", 2, {"-bind=[" + lab.ipv6(2) + "]:7946", "-discover=lab"});
    ASSERT_TRUE(c.wait_all_alive({"s0", "c1", "c2"}, 20s)) << c.dump();
    EXPECT_TRUE(wait_until([&] { return stat(c, c2, "peers_found") == "2"; }, 5s))
        << mdns_stats(c, c2).dump();
    EXPECT_NE(stat(c, c1, "interface").find("IPv6"), std::string::npos) << mdns_stats(c, c1).dump();
    (void)s0;
}
