// Issue 14 with etcd: a real 3-member etcd cluster (/usr/bin/etcd, loopback ports, temp data
// dirs, --initial-cluster), started and stopped by PID by this test. Five clusterd agents with
// `-datastore etcd://m0,m1,m2/clusterd-test` and no -join form one cluster; each row is a key
// with a lease of ttl_on_failure (60 s). One agent is kill -9'd and, at the same moment, the
// etcd member listed first is kill -9'd: discovery goes on through the other two (every agent's
// `info` shows the datastore up again), the dead agent's key is deleted by etcd when its lease
// runs out, and a sixth agent registers, joins, and never tries the dead agent's address.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "etcd_cluster.hpp"
#include "support/cluster.hpp"

namespace clusterd::testing {
namespace {

using namespace std::chrono_literals;

const std::string kPrefix = "/clusterd-test";

std::vector<std::string> names(int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i <= to; ++i)
        out.push_back("et" + std::to_string(i));
    return out;
}

double since(std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

TEST(DatastoreEtcd, FiveAgentsFormOneClusterThroughEtcdSurviveAMemberLossAndADeadRowExpires) {
    ASSERT_TRUE(EtcdCluster::available()) << "etcd is not installed (scripts/setup.sh installs etcd-server)";
    const auto t_begin = std::chrono::steady_clock::now();
    EtcdCluster etcd(3);
    ASSERT_TRUE(etcd.start(60s)) << etcd.log(0) << etcd.log(1) << etcd.log(2);
    std::printf("3-member etcd cluster healthy after %.1f s\n", since(t_begin));

    Cluster c("datastore-etcd");
    const std::string conf = c.dir() + "/ds.json";
    std::ofstream(conf) << R"({"ttl_on_failure": 60, "datastore_refresh_interval": "5s"})";
    const std::vector<std::string> flags{"-datastore=" + etcd.url(kPrefix), "-config-file=" + conf};
    const auto t_agents = std::chrono::steady_clock::now();
    for (const auto& n : names(1, 5))
        c.start(Kind::Clusterd, n, flags);
    ASSERT_TRUE(c.wait_all_alive(names(1, 5), 30s)) << c.dump();
    std::printf("5 agents, no -join, etcd store: one cluster %.1f s after the first start\n",
                since(t_agents));

    // One key per node, holding the row, attached to a lease of ttl_on_failure seconds.
    auto keys = etcd.get_prefix(kPrefix + "/nodes/");
    ASSERT_EQ(keys.size(), 5u);
    for (auto& a : c.agents()) {
        const auto it = keys.find(kPrefix + "/nodes/" + a.name);
        ASSERT_NE(it, keys.end()) << a.name;
        auto row = nlohmann::json::parse(it->second);
        EXPECT_EQ(row["address"], a.bind_addr());
        EXPECT_EQ(row["expires_ms"].get<std::int64_t>() - row["last_seen_ms"].get<std::int64_t>(), 60000);
    }
    EXPECT_EQ(etcd.ctl({"get", "--print-value-only", kPrefix + "/schema_version"}).out, "1\n");
    auto js = nlohmann::json::parse(etcd.ctl({"get", kPrefix + "/nodes/et5", "-w", "json"}).out);
    const auto lease = js["kvs"][0]["lease"].get<std::int64_t>();
    ASSERT_NE(lease, 0);
    char hex[32];
    std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(lease));
    EXPECT_NE(etcd.ctl({"lease", "timetolive", hex}).out.find("granted with TTL(60s)"), std::string::npos);
    auto info = c.clusterd_cli(c.agents().front(), {"info"});
    EXPECT_NE(info.out.find("state = up"), std::string::npos) << info.out;
    EXPECT_NE(info.out.find("url = " + etcd.url(kPrefix)), std::string::npos) << info.out;

    // kill -9 one agent and, at the same moment, stop the etcd member listed first.
    AgentProc& dead = c.agents().back();
    const std::string dead_addr = dead.bind_addr();
    dead.child.kill9();
    const auto killed_at = std::chrono::steady_clock::now();
    etcd.kill9(0);
    ASSERT_FALSE(etcd.running(0));
    std::printf("agent et5 and etcd member e0 (first in the URL) kill -9'd\n");

    // Discovery goes on through the other two members: after a refresh interval or two, every
    // live agent has written its row again and shows the store up.
    const std::int64_t stop_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                     std::chrono::system_clock::now().time_since_epoch())
                                     .count();
    ASSERT_TRUE(wait_until(
        [&] {
            auto rows = etcd.get_prefix(kPrefix + "/nodes/");
            for (const auto& n : names(1, 4)) {
                auto it = rows.find(kPrefix + "/nodes/" + n);
                if (it == rows.end())
                    return false;
                auto row = nlohmann::json::parse(it->second, nullptr, false);
                if (row.is_discarded() || row.value("last_seen_ms", std::int64_t{0}) < stop_ms)
                    return false;
            }
            return true;
        },
        30s, 500ms))
        << "registration did not continue through the other members" << c.dump();
    for (auto& a : c.agents()) {
        if (!a.child.running())
            continue;
        ASSERT_TRUE(wait_until(
            [&] { return c.clusterd_cli(a, {"info"}).out.find("state = up") != std::string::npos; }, 20s,
            500ms))
            << a.name << "\n"
            << c.clusterd_cli(a, {"info"}).out << a.child.log();
    }
    std::printf("every agent back on the store %.1f s after e0 stopped\n", since(killed_at));

    // The dead agent's key goes when its lease runs out (ttl_on_failure after its last keepalive).
    ASSERT_TRUE(wait_until([&] { return etcd.get_prefix(kPrefix + "/nodes/et5").empty(); }, 80s, 1s))
        << "the dead node's key outlived its lease" << c.dump();
    const double gone_s = since(killed_at);
    std::printf("dead agent's key deleted by etcd %.1f s after the kill (ttl_on_failure 60 s)\n", gone_s);
    EXPECT_LE(gone_s, 62.0 + 5.0);

    // A sixth agent, with e0 still down, registers and joins the four live nodes only.
    AgentProc& sixth = c.start(Kind::Clusterd, "et6", flags);
    std::vector<std::string> live = names(1, 4);
    live.push_back("et6");
    ASSERT_TRUE(c.wait_all_alive(live, 30s)) << c.dump();
    EXPECT_TRUE(wait_until([&] { return etcd.get_prefix(kPrefix + "/nodes/et6").size() == 1; }, 10s));
    const std::string log6 = sixth.child.log();
    EXPECT_NE(log6.find("joining from the datastore"), std::string::npos) << log6;
    for (auto p = log6.find("joining from the datastore"); p != std::string::npos;
         p = log6.find("joining from the datastore", p + 1)) {
        const std::string line = log6.substr(p, log6.find('\n', p) - p);
        EXPECT_EQ(line.find(dead_addr), std::string::npos) << "the sixth agent tried the dead node: " << line;
        EXPECT_EQ(line.find("et5"), std::string::npos) << line;
    }
    auto info6 = c.clusterd_cli(sixth, {"info"});
    EXPECT_NE(info6.out.find("state = up"), std::string::npos) << info6.out;
    EXPECT_NE(info6.out.find("live_rows = 5"), std::string::npos) << info6.out;

    // A graceful leave deletes the row.
    c.agents().front().child.stop(SIGINT, 15s);
    EXPECT_TRUE(wait_until([&] { return etcd.get_prefix(kPrefix + "/nodes/et1").empty(); }, 10s)) << c.dump();
    std::printf("total %.1f s\n", since(t_begin));
}

} // namespace
} // namespace clusterd::testing
