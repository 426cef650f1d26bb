// The stock `serf` CLI against a real clusterd agent's RPC port, for the subcommands the other
// interop tests do not already drive: members (-detailed, -format=json, filters), join,
// reachability, monitor, info -format=json, force-leave.
#include <gtest/gtest.h>

#include "support/cluster.hpp"

using namespace clusterd::testing;
using namespace std::chrono_literals;

TEST(SerfCliAgainstClusterd, SubcommandsSucceedWithSerfsOutput) {
    Cluster c("serfcli");
    auto& s1 = c.start(Kind::Serf, "s1");
    auto& d1 = c.start(Kind::Clusterd, "d1", {"-tag=role=web"}, &s1);
    auto& d2 = c.start(Kind::Clusterd, "d2");
    // d2 runs alone for now, so check the other two only.
    ASSERT_TRUE(c.wait_status(s1, "d1", "alive", 20s)) << c.dump();
    ASSERT_TRUE(c.wait_status(d1, "s1", "alive", 20s)) << c.dump();

    // join: d2 was started alone; `serf join` through its RPC brings it in.
    auto join = c.serf_cli(d2, {"join", s1.bind_addr()});
    EXPECT_EQ(join.exit_code, 0) << join.out << join.err;
    EXPECT_NE(join.out.find("Successfully joined cluster by contacting 1 nodes."), std::string::npos)
        << join.out;
    ASSERT_TRUE(c.wait_all_alive({"s1", "d1", "d2"}, 20s)) << c.dump();

    // members -detailed, JSON and filters.
    auto det = c.serf_cli(d1, {"members", "-detailed"});
    EXPECT_EQ(det.exit_code, 0);
    EXPECT_NE(det.out.find("Protocol Version: 5"), std::string::npos) << det.out;
    EXPECT_NE(det.out.find("role=web"), std::string::npos) << det.out;
    auto js = c.members_json(d1);
    ASSERT_TRUE(js.contains("members")) << js.dump();
    ASSERT_EQ(js["members"].size(), 3u) << js.dump();
    for (const auto& m : js["members"]) {
        for (const char* k : {"name", "addr", "port", "tags", "status", "protocol"})
            EXPECT_TRUE(m.contains(k)) << k << " missing in " << m.dump();
        EXPECT_EQ(m["addr"], "127.0.0.1:" + std::to_string(m["port"].get<int>())) << m.dump();
    }
    auto filt = c.serf_cli(d1, {"members", "-status=alive", "-name=d.*"});
    EXPECT_NE(filt.out.find("d1"), std::string::npos);
    EXPECT_NE(filt.out.find("d2"), std::string::npos);
    EXPECT_EQ(filt.out.find("s1"), std::string::npos) << filt.out;
    auto tagf = c.serf_cli(d1, {"members", "-tag", "role=web"});
    EXPECT_NE(tagf.out.find("d1"), std::string::npos);
    EXPECT_EQ(tagf.out.find("d2"), std::string::npos) << tagf.out;

    // reachability uses the _serf_ping internal query with acks.
    auto reach = c.serf_cli(d1, {"reachability"}, 20s);
    EXPECT_EQ(reach.exit_code, 0) << reach.out << reach.err;
    EXPECT_NE(reach.out.find("Successfully contacted all live nodes"), std::string::npos) << reach.out;

    // info -format=json.
    auto info = c.serf_cli(d1, {"info", "-format=json"});
    EXPECT_EQ(info.exit_code, 0);
    auto ij = nlohmann::json::parse(info.out, nullptr, false);
    ASSERT_FALSE(ij.is_discarded()) << info.out;
    EXPECT_EQ(ij["agent"]["name"], "d1");
    EXPECT_EQ(ij["serf"]["members"], "3");

    // monitor streams the agent's log (recent lines are replayed first); the CLI runs until
    // killed, so it is stopped by the time limit.
    auto mon = c.serf_cli(d1, {"monitor", "-log-level=info"}, 3s);
    EXPECT_NE(mon.out.find("[INFO]"), std::string::npos) << mon.out << mon.err;
    EXPECT_EQ(mon.out.find("[DEBUG]"), std::string::npos) << mon.out;

    // force-leave of a crashed member: failed -> left everywhere.
    d2.child.kill9();
    ASSERT_TRUE(c.wait_status(d1, "d2", "failed", 45s)) << c.dump();
    auto fl = c.serf_cli(d1, {"force-leave", "d2"});
    EXPECT_EQ(fl.exit_code, 0) << fl.out << fl.err;
    EXPECT_TRUE(c.wait_status(d1, "d2", "left", 15s)) << c.dump();
    EXPECT_TRUE(c.wait_status(s1, "d2", "left", 15s)) << c.dump();
}
