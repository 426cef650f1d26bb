// Issue 18: IPv6 end to end against the real serf. A mixed 2+2 cluster of serf and clusterd
// agents bound to [::1] with RPC on [::1]: members output and JSON addresses in Go's format
// ([::1]:port), user events and queries issued through either kind reach every agent, and the
// snapshot's alive lines are written as Serf writes them.
#include <gtest/gtest.h>

#include "support/cluster.hpp"
#include "support/wait.hpp"

using namespace clusterd::testing;
using namespace std::chrono_literals;

TEST(Ipv6Interop, MixedClusterOnLoopbackV6) {
    Cluster c("ipv6", "::1");
    auto handlers = [&](const std::string& name) {
        return std::vector<std::string>{"-event-handler=user=echo \"$SERF_USER_EVENT\" >> " + c.dir() + "/" +
                                            name + ".events",
                                        "-event-handler=query:ping6=echo pong-$SERF_SELF_NAME",
                                        "-snapshot=" + c.dir() + "/" + name + ".snap"};
    };
    auto& s1 = c.start(Kind::Serf, "s1", handlers("s1"));
    auto& d1 = c.start(Kind::Clusterd, "d1", handlers("d1"), &s1);
    c.start(Kind::Serf, "s2", handlers("s2"), &d1);
    c.start(Kind::Clusterd, "d2", handlers("d2"), &s1);
    const std::vector<std::string> all{"s1", "s2", "d1", "d2"};
    ASSERT_TRUE(c.wait_all_alive(all, 30s)) << c.dump();

    // Addresses as Go prints them (net.JoinHostPort): the same from both kinds.
    for (const AgentProc* via : {&s1, &d1}) {
        auto js = c.members_json(*via);
        ASSERT_EQ(js["members"].size(), 4u) << js.dump();
        for (const auto& m : js["members"])
            EXPECT_EQ(m["addr"], "[::1]:" + std::to_string(m["port"].get<int>())) << m.dump();
        auto text = c.serf_cli(*via, {"members"});
        EXPECT_NE(text.out.find("[::1]:" + std::to_string(d1.port) + "  alive"), std::string::npos)
            << text.out;
    }

    // User events both ways: every agent's handler sees both.
    ASSERT_EQ(c.serf_cli(s1, {"event", "from-serf"}).exit_code, 0);
    ASSERT_EQ(c.serf_cli(d1, {"event", "from-clusterd"}).exit_code, 0);
    for (const auto& n : all) {
        EXPECT_TRUE(wait_until(
            [&] {
                auto t = read_file(c.dir() + "/" + n + ".events");
                return t.find("from-serf") != std::string::npos &&
                       t.find("from-clusterd") != std::string::npos;
            },
            20s))
            << n << ": " << read_file(c.dir() + "/" + n + ".events") << c.dump();
    }

    // Queries both ways: every agent acks and answers.
    for (const AgentProc* via : {&s1, &d1}) {
        auto r = c.serf_cli(*via, {"query", "-format=json", "-timeout=3s", "ping6", ""}, 20s);
        ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
        auto j = nlohmann::json::parse(r.out, nullptr, false);
        ASSERT_FALSE(j.is_discarded()) << r.out;
        EXPECT_EQ(j["Acks"].size(), 4u) << "via " << via->name << ": " << r.out;
        for (const auto& n : all)
            EXPECT_EQ(j["Responses"].value(n, ""), "pong-" + n + "\n")
                << "via " << via->name << ": " << r.out;
    }

    // Snapshots: clusterd writes the alive lines Serf writes.
    const auto ours = read_file(c.dir() + "/d1.snap");
    const auto theirs = read_file(c.dir() + "/s1.snap");
    for (const auto* a : {&s1, &d1}) {
        const std::string line = "alive: " + a->name + " [::1]:" + std::to_string(a->port) + "\n";
        EXPECT_NE(ours.find(line), std::string::npos) << ours;
        EXPECT_NE(theirs.find(line), std::string::npos) << theirs;
    }
}
