// Issue 14: Kong's cluster model with real clusterd processes on loopback. Agents started with
// no -join and the same SQLite store file find each other; a kill -9'd node's row is ignored
// once ttl_on_failure (60 s, the minimum) has passed and pruned, and a sixth agent never
// tries its address; a graceful leave deletes the row, force-leave -prune deletes the pruned
// node's row; after a full outage (every agent kill -9'd) the cluster re-forms from the store.
// Every process is stopped by PID (Cluster's destructor), every wait is bounded.
#include <gtest/gtest.h>
#include <signal.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "support/cluster.hpp"

namespace clusterd::testing {
namespace {

using namespace std::chrono_literals;

struct DbRow {
    std::string address;
    std::int64_t last_seen_ms = 0;
    std::int64_t expires_ms = 0;
};

/// name -> row, read straight from the file (readers never block WAL writers).
std::map<std::string, DbRow> read_rows(const std::string& db) {
    std::map<std::string, DbRow> out;
    sqlite3* h = nullptr;
    if (sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK) {
        sqlite3_close(h);
        return out;
    }
    sqlite3_busy_timeout(h, 5000);
    sqlite3_stmt* s = nullptr;
    if (sqlite3_prepare_v2(h, "SELECT name, address, last_seen_ms, expires_ms FROM clusterd_nodes", -1, &s,
                           nullptr) == SQLITE_OK) {
        while (sqlite3_step(s) == SQLITE_ROW) {
            DbRow r;
            r.address = reinterpret_cast<const char*>(sqlite3_column_text(s, 1));
            r.last_seen_ms = sqlite3_column_int64(s, 2);
            r.expires_ms = sqlite3_column_int64(s, 3);
            out[reinterpret_cast<const char*>(sqlite3_column_text(s, 0))] = r;
        }
    }
    sqlite3_finalize(s);
    sqlite3_close(h);
    return out;
}

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct StoreCluster {
    Cluster c{"datastore"};
    std::string db = c.dir() + "/nodes.db";
    std::string conf = c.dir() + "/ttl.json";

    StoreCluster() {
        // ttl_on_failure at its minimum, 60 s; the refresh interval then defaults to 20 s.
        std::ofstream(conf) << R"({"ttl_on_failure": 60})";
    }
    std::vector<std::string> flags() const { return {"-datastore=sqlite:" + db, "-config-file=" + conf}; }
    AgentProc& start(const std::string& name) { return c.start(Kind::Clusterd, name, flags()); }
    AgentProc* find(const std::string& name) {
        for (auto& a : c.agents())
            if (a.name == name)
                return &a;
        return nullptr;
    }
};

std::vector<std::string> names(int from, int to) {
    std::vector<std::string> out;
    for (int i = from; i <= to; ++i)
        out.push_back("ds" + std::to_string(i));
    return out;
}

TEST(DatastoreSqlite, FiveAgentsWithoutJoinFormOneClusterAndADeadRowExpires) {
    StoreCluster sc;
    const auto t_start = std::chrono::steady_clock::now();
    for (const auto& n : names(1, 5))
        sc.start(n);
    ASSERT_TRUE(sc.c.wait_all_alive(names(1, 5), 30s)) << sc.c.dump();
    const double formed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_start).count();
    std::printf("5 agents, no -join, one SQLite store: one cluster %.1f s after the first start\n", formed_s);
    for (auto& a : sc.c.agents())
        EXPECT_EQ(sc.c.statuses(a).size(), 5u) << a.name;

    auto rows = read_rows(sc.db);
    ASSERT_EQ(rows.size(), 5u);
    for (auto& a : sc.c.agents()) {
        ASSERT_TRUE(rows.count(a.name)) << a.name;
        EXPECT_EQ(rows[a.name].address, a.bind_addr());
        EXPECT_NEAR(static_cast<double>(rows[a.name].expires_ms - rows[a.name].last_seen_ms), 60000.0, 1.0);
    }
    struct stat st {};
    ASSERT_EQ(::stat(sc.db.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto info = sc.c.clusterd_cli(sc.c.agents().front(), {"info"});
    EXPECT_NE(info.out.find("state = up"), std::string::npos) << info.out;
    EXPECT_NE(info.out.find("url = sqlite:" + sc.db), std::string::npos) << info.out;

    // kill -9 one agent: its row stays until it expires (it cannot delete it).
    AgentProc& dead = *sc.find("ds5");
    const std::string dead_addr = dead.bind_addr();
    dead.child.kill9();
    const std::int64_t dead_expiry = read_rows(sc.db)["ds5"].expires_ms;
    ASSERT_GT(dead_expiry, 0);
    EXPECT_LE(dead_expiry, wall_ms() + 60000);
    EXPECT_TRUE(sc.c.wait_status(sc.c.agents().front(), "ds5", "failed", 30s)) << sc.c.dump();
    EXPECT_EQ(read_rows(sc.db).count("ds5"), 1u) << "a crashed node's row stays until ttl_on_failure";

    // Past its expiry the row is pruned by whichever live node lists next (refresh <= 20 s).
    const auto wait_expiry = std::chrono::milliseconds(std::max<std::int64_t>(0, dead_expiry - wall_ms()));
    ASSERT_TRUE(wait_until([&] { return read_rows(sc.db).count("ds5") == 0; }, wait_expiry + 30s, 500ms))
        << "expired row not pruned" << sc.c.dump();

    // A sixth agent finds the four live nodes and never tries the dead one's address: put an
    // expired row back at that address (as if no node had pruned yet) and a corrupt row.
    {
        sqlite3* h = nullptr;
        ASSERT_EQ(sqlite3_open(sc.db.c_str(), &h), SQLITE_OK);
        sqlite3_busy_timeout(h, 5000);
        const std::int64_t now = wall_ms();
        const std::string sql = "INSERT INTO clusterd_nodes VALUES ('ghost', '" + dead_addr + "', 2, 5, " +
                                std::to_string(now - 70000) + ", " + std::to_string(now - 70000) + ", " +
                                std::to_string(now - 10000) +
                                "); INSERT INTO clusterd_nodes VALUES ('junk', "
                                "'nowhere', 2, 5, 1, 1, 'never');";
        EXPECT_EQ(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
        sqlite3_close(h);
    }
    AgentProc& sixth = sc.start("ds6");
    std::vector<std::string> live = names(1, 4);
    live.push_back("ds6");
    ASSERT_TRUE(wait_until([&] { return sc.c.statuses(sixth).size() >= 5; }, 30s)) << sc.c.dump();
    ASSERT_TRUE(sc.c.wait_all_alive(live, 30s)) << sc.c.dump();
    const std::string log6 = sixth.child.log();
    EXPECT_NE(log6.find("joining from the datastore"), std::string::npos) << log6;
    std::size_t pos = 0;
    while ((pos = log6.find("joining from the datastore", pos)) != std::string::npos) {
        const auto eol = log6.find('\n', pos);
        const std::string line = log6.substr(pos, eol - pos);
        EXPECT_EQ(line.find(dead_addr), std::string::npos) << "the sixth agent tried the dead node: " << line;
        EXPECT_EQ(line.find("ds5"), std::string::npos) << line;
        EXPECT_EQ(line.find("ghost"), std::string::npos) << line;
        pos = eol;
    }
    EXPECT_NE(log6.find("skipping row 'junk'"), std::string::npos) << log6;
    EXPECT_TRUE(wait_until([&] { return read_rows(sc.db).count("ghost") == 0; }, 30s))
        << "expired row not pruned";
    auto info6 = sc.c.clusterd_cli(sixth, {"info"});
    EXPECT_NE(info6.out.find("live_rows = 5"), std::string::npos) << info6.out;

    // Graceful leave deletes the row; SIGINT is the graceful stop.
    AgentProc& leaver = *sc.find("ds4");
    EXPECT_EQ(read_rows(sc.db).count("ds4"), 1u);
    leaver.child.stop(SIGINT, 15s);
    EXPECT_EQ(read_rows(sc.db).count("ds4"), 0u) << sc.c.dump();

    // force-leave -prune deletes the pruned node's row.
    AgentProc& crashed = *sc.find("ds3");
    crashed.child.kill9();
    EXPECT_EQ(read_rows(sc.db).count("ds3"), 1u);
    ASSERT_TRUE(sc.c.wait_status(sc.c.agents().front(), "ds3", "failed", 30s)) << sc.c.dump();
    auto fl = sc.c.clusterd_cli(sc.c.agents().front(), {"force-leave", "-prune", "ds3"});
    EXPECT_EQ(fl.exit_code, 0) << fl.out << fl.err;
    EXPECT_TRUE(wait_until([&] { return read_rows(sc.db).count("ds3") == 0; }, 10s)) << sc.c.dump();
    auto left = read_rows(sc.db);
    EXPECT_EQ(left.size(), 4u); // ds1, ds2, ds6 and the unreadable 'junk' (never pruned: no expiry)
    EXPECT_TRUE(left.count("ds1") && left.count("ds2") && left.count("ds6") && left.count("junk"));
}

TEST(DatastoreSqlite, FullOutageReformsFromTheStore) {
    StoreCluster sc;
    for (const auto& n : names(1, 4))
        sc.start(n);
    ASSERT_TRUE(sc.c.wait_all_alive(names(1, 4), 30s)) << sc.c.dump();
    for (auto& a : sc.c.agents())
        a.child.kill9();
    ASSERT_EQ(read_rows(sc.db).size(), 4u);
    // Every agent restarted with no -join and no snapshot.
    const auto t = std::chrono::steady_clock::now();
    for (auto& a : sc.c.agents())
        sc.c.restart(a);
    ASSERT_TRUE(sc.c.wait_all_alive(names(1, 4), 60s)) << sc.c.dump();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
    std::printf(
        "full outage: 4 agents kill -9'd and restarted with no -join: one cluster again after %.1f s\n", s);
    for (auto& a : sc.c.agents())
        EXPECT_EQ(sc.c.statuses(a).size(), 4u) << a.name;
}

TEST(DatastoreSqlite, SerfAgentJoinedToOneStoreDiscoveredAgentSeesThemAll) {
    StoreCluster sc;
    for (const auto& n : names(1, 3))
        sc.start(n);
    ASSERT_TRUE(sc.c.wait_all_alive(names(1, 3), 30s)) << sc.c.dump();
    AgentProc& serf = sc.c.start(Kind::Serf, "serf1", {}, &sc.c.agents().front());
    std::vector<std::string> all = names(1, 3);
    all.push_back("serf1");
    ASSERT_TRUE(sc.c.wait_all_alive(all, 30s)) << sc.c.dump();
    EXPECT_EQ(sc.c.statuses(serf).size(), 4u);
    EXPECT_EQ(read_rows(sc.db).size(), 3u) << "only clusterd agents register";
}

TEST(DatastoreSqlite, FiftyAgentsStartingTogetherAllRegisterAndConverge) {
    // 50 processes started back to back (within about a second) against one new store file:
    // the schema is created once, every node registers, and all converge on one cluster.
    const std::string dir = temp_dir("datastore50");
    const std::string db = dir + "/nodes.db";
    constexpr int kN = 50;
    struct Node {
        std::string name;
        std::uint16_t port = 0, rpc = 0;
        Process child;
    };
    std::vector<Node> nodes(kN);
    const auto t0 = std::chrono::steady_clock::now();
    for (int i = 0; i < kN; ++i) {
        auto& n = nodes[static_cast<std::size_t>(i)];
        n.name = "f" + std::to_string(i);
        n.port = free_port();
        n.rpc = free_port();
        n.child =
            Process({clusterd_bin(), "agent", "-node=" + n.name, "-bind=127.0.0.1:" + std::to_string(n.port),
                     "-rpc-addr=127.0.0.1:" + std::to_string(n.rpc), "-datastore=sqlite:" + db},
                    dir + "/" + n.name + ".log");
    }
    const double spawn_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto alive_seen_by = [&](const Node& n) {
        auto r = run({clusterd_bin(), "members", "-status=alive", "-format=kong",
                      "-rpc-addr=127.0.0.1:" + std::to_string(n.rpc)},
                     5s);
        if (r.exit_code != 0)
            return 0;
        return static_cast<int>(std::count(r.out.begin(), r.out.end(), '\n'));
    };
    const bool converged = wait_until(
        [&] {
            for (std::size_t i = 0; i < nodes.size(); i += 7)
                if (alive_seen_by(nodes[i]) != kN)
                    return false;
            return alive_seen_by(nodes.back()) == kN;
        },
        90s, 500ms);
    const double conv_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::string logs;
    if (!converged)
        for (auto& n : nodes)
            logs += "\n== " + n.name + "\n" + n.child.log().substr(0, 3000);
    EXPECT_TRUE(converged) << logs;
    std::printf("%d agents spawned in %.1f s against one new SQLite store: converged after %.1f s\n", kN,
                spawn_s, conv_s);
    EXPECT_EQ(read_rows(db).size(), static_cast<std::size_t>(kN));
    for (auto& n : nodes) {
        EXPECT_EQ(n.child.log().find("datastore is down"), std::string::npos)
            << n.name << ": " << n.child.log();
        n.child.stop(SIGTERM, 5s);
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
}

TEST(DatastoreSqlite, NameConflictIsRefusedAndLogged) {
    StoreCluster sc;
    AgentProc& first = sc.start("same");
    ASSERT_TRUE(wait_until([&] { return read_rows(sc.db).count("same") == 1; }, 15s)) << sc.c.dump();
    AgentProc& second = sc.start("same");
    ASSERT_TRUE(
        wait_until([&] { return second.child.log().find("is registered by") != std::string::npos; }, 15s))
        << sc.c.dump();
    EXPECT_EQ(read_rows(sc.db)["same"].address, first.bind_addr()) << "the live row was overwritten";
    auto info = sc.c.clusterd_cli(second, {"info"});
    EXPECT_NE(info.out.find("name_conflict = true"), std::string::npos) << info.out;
}

} // namespace
} // namespace clusterd::testing
