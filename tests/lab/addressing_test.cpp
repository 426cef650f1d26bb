// Issue 13: addresses on real networks. Joins by host name (every resolved address is tried, an
// unresolvable entry does not abort the others, retry_join re-resolves), advertise by host name
// and NAT-style to a second address of the host (with a serf observer), IPv6-only hosts, and
// clusterd bound dual-stack to "::" next to a serf that gossips an IPv4-mapped address.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "lab_cluster.hpp"

using namespace clusterd::testing;
using namespace std::chrono_literals;

namespace {

void require_lab() {
    const auto why = netlab::unavailable_reason();
    ASSERT_TRUE(why.empty()) << why;
}

std::string addr_of(LabCluster& c, const LabAgent& via, const std::string& name) {
    auto j = c.members_json(via);
    if (!j.contains("members"))
        return "";
    for (const auto& m : j["members"])
        if (m.value("name", "") == name)
            return m.value("addr", "");
    return "";
}

// Dead addresses for a name's first entry. glibc sorts the addresses of a name (RFC 6724 rule 9:
// longest common prefix with the source address first), so each joiner gets a dead address
// closer to its own than the live seed 10.201.0.1: for 10.201.0.2 that is 10.201.0.3 (a lab host
// running nothing: connection refused), for 10.201.0.4 it is 10.201.0.5 (no host: unreachable).
std::string seeds_for(netlab::Lab& lab, int joiner) {
    const std::string dead = joiner == 1 ? lab.ipv4(2) : "10.201.0.5";
    return dead + " seeds\n" + lab.ipv4(0) + " seeds\n";
}

void expect_dead_first(netlab::Lab& lab, int joiner) {
    auto order = lab.run(joiner, {"getent", "ahostsv4", "seeds"});
    const std::string dead = joiner == 1 ? lab.ipv4(2) : "10.201.0.5";
    ASSERT_LT(order.out.find(dead), order.out.find(lab.ipv4(0))) << "resolver order: " << order.out;
}

} // namespace

TEST(LabNames, JoinByNameTriesEveryAddress) {
    require_lab();
    netlab::Lab lab({.hosts = 4, .ipv4 = true, .ipv6 = false, .ipv6_only = {}});
    LabCluster c(lab, "lab-names-every");
    auto& c0 = c.start(Kind::Clusterd, "c0", 0);
    // "seeds" resolves to a dead address first, then to c0's (h2 runs nothing).
    lab.set_hosts(1, seeds_for(lab, 1));
    lab.set_hosts(3, seeds_for(lab, 3));
    expect_dead_first(lab, 1);
    expect_dead_first(lab, 3);

    // start_join through the name: joins through the second address and keeps running.
    auto& c1 = c.start(Kind::Clusterd, "c1", 1, {"-join=seeds"});
    EXPECT_TRUE(c.wait_status(c0, "c1", "alive", 30s)) << c.dump();
    EXPECT_TRUE(c1.child.running()) << c.dump();

    // The RPC join (`serf join`) through the same name: 1 node joined.
    auto& c3 = c.start(Kind::Clusterd, "c3", 3);
    auto r = c.serf_cli(c3, {"join", "seeds"}, 30s);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err << c.dump();
    EXPECT_NE(r.out.find("Successfully joined cluster by contacting 1 nodes"), std::string::npos) << r.out;
    EXPECT_TRUE(c.wait_all_alive({"c0", "c1", "c3"}, 30s)) << c.dump();
}

TEST(LabNames, UnresolvableEntryDoesNotAbortTheJoin) {
    require_lab();
    netlab::Lab lab({.hosts = 2, .ipv4 = true, .ipv6 = false, .ipv6_only = {}});
    LabCluster c(lab, "lab-names-unresolvable");
    auto& c0 = c.start(Kind::Clusterd, "c0", 0);
    auto& c1 = c.start(Kind::Clusterd, "c1", 1, {"-join=no-such-host.invalid", "-join=" + lab.ipv4(0)});
    EXPECT_TRUE(c.wait_status(c0, "c1", "alive", 30s)) << c.dump();
    EXPECT_TRUE(c1.child.running()) << c.dump();
    EXPECT_NE(c1.child.log().find("no-such-host.invalid"), std::string::npos) << "the bad entry is reported";
    // Only unresolvable entries: the agent exits with an error naming them (as before).
    auto& c1b =
        c.start(Kind::Clusterd, "c1b", 1,
                {"-bind=0.0.0.0:7950", "-rpc-addr=127.0.0.1:7380", "-join=no-such-host.invalid"}, false);
    EXPECT_TRUE(wait_until([&] { return !c1b.child.running(); }, 20s)) << c.dump();
    EXPECT_NE(c1b.child.log().find("cannot resolve 'no-such-host.invalid'"), std::string::npos) << c.dump();
}

TEST(LabNames, RetryJoinReResolvesAndTriesEveryAddress) {
    require_lab();
    netlab::Lab lab({.hosts = 4, .ipv4 = true, .ipv6 = false, .ipv6_only = {}});
    LabCluster c(lab, "lab-names-retry");
    auto& c0 = c.start(Kind::Clusterd, "c0", 0);
    // h1: the name has a dead address (first) and a live one from the start.
    lab.set_hosts(1, seeds_for(lab, 1));
    expect_dead_first(lab, 1);
    c.start(Kind::Clusterd, "c1", 1, {"-retry-join=seeds", "-retry-interval=1s"});
    EXPECT_TRUE(c.wait_status(c0, "c1", "alive", 30s)) << c.dump();
    // h3: at first only the dead address; the live one appears later and is found on a retry.
    lab.set_hosts(3, "10.201.0.5 seeds\n");
    auto& c3 = c.start(Kind::Clusterd, "c3", 3, {"-retry-join=seeds", "-retry-interval=1s"});
    std::this_thread::sleep_for(3s);
    EXPECT_EQ(c.statuses(c0).count("c3"), 0u);
    lab.set_hosts(3, seeds_for(lab, 3));
    EXPECT_TRUE(c.wait_status(c0, "c3", "alive", 40s)) << c.dump();
    EXPECT_TRUE(c3.child.running());
}

class LabAdvertise : public ::testing::TestWithParam<bool> {};

TEST_P(LabAdvertise, HostNameAndNatStyleSecondAddress) {
    require_lab();
    netlab::Lab lab({.hosts = 3, .ipv4 = true, .ipv6 = false, .ipv6_only = {}});
    LabCluster c(lab, "lab-names-advertise");
    // The serf observer without -advertise (IPv4-mapped address) or with it.
    auto& s0 = c.start(Kind::Serf, "s0", 0,
                       GetParam() ? std::vector<std::string>{"-advertise=" + lab.ipv4(0)}
                                  : std::vector<std::string>{});
    // h1 advertises a second address of its own by host name; h2 by Kong YAML cluster.advertise.
    const std::string nat1 = lab.add_ipv4(1);
    const std::string nat2 = lab.add_ipv4(2);
    lab.set_hosts(1, nat1 + " c1-public\n");
    auto& c1 = c.start(Kind::Clusterd, "c1", 1, {"-advertise=c1-public:7946", "-join=" + lab.ipv4(0)});
    const std::string yaml = c.dir() + "/c2.yml";
    std::ofstream(yaml) << "cluster_listen: \"0.0.0.0:7946\"\ncluster_listen_rpc: \"127.0.0.1:7373\"\n"
                        << "cluster:\n  advertise: \"" << nat2 << ":7946\"\n";
    auto& c2 = c.start(Kind::Clusterd, "c2", 2, {"-c", yaml, "-join=" + lab.ipv4(0)});
    ASSERT_TRUE(c.wait_all_alive({"s0", "c1", "c2"}, 30s)) << c.dump();
    for (auto* via : {&s0, &c1, &c2}) {
        EXPECT_EQ(addr_of(c, *via, "c1"), nat1 + ":7946") << via->name;
        EXPECT_EQ(addr_of(c, *via, "c2"), nat2 + ":7946") << via->name;
    }
    // A partition of the host behind the advertised address is detected, and heals.
    lab.partition({2}, {0, 1});
    EXPECT_TRUE(c.wait_status(s0, "c2", "failed", 40s)) << c.dump();
    lab.heal();
    EXPECT_TRUE(c.wait_all_alive({"s0", "c1", "c2"}, 60s)) << c.dump();
}

INSTANTIATE_TEST_SUITE_P(LabNames, LabAdvertise, ::testing::Values(false, true),
                         [](const auto& p) { return p.param ? "SerfAdvertise" : "SerfNoAdvertise"; });

TEST(LabFamilies, Ipv6OnlyHosts) {
    require_lab();
    netlab::Lab lab({.hosts = 3, .ipv4 = true, .ipv6 = false, .ipv6_only = {0, 1, 2}});
    LabCluster c(lab, "lab-v6only");
    const std::string seed = "[" + lab.ipv6(0) + "]:7946";
    // Serf must be told its address (bound to ::, memberlist would advertise "::").
    auto& s0 = c.start(Kind::Serf, "s0", 0, {"-bind=[::]:7946", "-advertise=" + seed});
    // c1 bound to :: without advertise: auto-detects its ULA address; c2 bound to its address.
    auto& c1 = c.start(Kind::Clusterd, "c1", 1, {"-bind=[::]:7946", "-join=" + seed});
    auto& c2 = c.start(Kind::Clusterd, "c2", 2, {"-bind=[" + lab.ipv6(2) + "]:7946", "-join=" + seed});
    ASSERT_TRUE(c.wait_all_alive({"s0", "c1", "c2"}, 30s)) << c.dump();
    EXPECT_EQ(addr_of(c, s0, "c1"), "[" + lab.ipv6(1) + "]:7946") << c.dump();
    EXPECT_EQ(addr_of(c, c1, "c2"), "[" + lab.ipv6(2) + "]:7946");
    auto ev = c.serf_cli(c2, {"event", "v6", "x"});
    EXPECT_EQ(ev.exit_code, 0);
    c2.child.kill9();
    EXPECT_TRUE(c.wait_status(s0, "c2", "failed", 30s)) << c.dump();
    EXPECT_TRUE(c.wait_status(c1, "c2", "failed", 30s)) << c.dump();
    EXPECT_EQ(c1.child.log().find("udp send to"), std::string::npos) << c.dump();
}

TEST(LabFamilies, DualStackClusterdNextToMappedSerf) {
    require_lab();
    netlab::Lab lab({.hosts = 3, .ipv4 = true, .ipv6 = true, .ipv6_only = {}});
    LabCluster c(lab, "lab-dualstack");
    // Serf without -advertise: gossips ::ffff:10.201.0.1. c1 on "::" (dual-stack socket), c2 on
    // 0.0.0.0 (IPv4 socket): both must reach it, and each other, over UDP.
    auto& s0 = c.start(Kind::Serf, "s0", 0);
    auto& c1 = c.start(Kind::Clusterd, "c1", 1, {"-bind=[::]:7946", "-join=" + lab.ipv4(0)});
    auto& c2 = c.start(Kind::Clusterd, "c2", 2, {"-join=" + lab.ipv4(0)});
    ASSERT_TRUE(c.wait_all_alive({"s0", "c1", "c2"}, 30s)) << c.dump();
    EXPECT_EQ(addr_of(c, s0, "c1"), lab.ipv4(1) + ":7946") << "bound to :: advertises the private IPv4";
    std::this_thread::sleep_for(6s);
    EXPECT_EQ(s0.child.log().find("but other probes failed"), std::string::npos) << c.dump();
    EXPECT_EQ(c1.child.log().find("udp send to"), std::string::npos) << c.dump();
    EXPECT_EQ(c2.child.log().find("udp send to"), std::string::npos) << c.dump();
    auto reach = c.serf_cli(s0, {"reachability"}, 20s);
    EXPECT_NE(reach.out.find("Successfully contacted all live nodes"), std::string::npos)
        << reach.out << c.dump();
    c2.child.kill9();
    EXPECT_TRUE(c.wait_status(s0, "c2", "failed", 30s)) << c.dump();
    EXPECT_TRUE(c.wait_status(c1, "c2", "failed", 30s)) << c.dump();
}
