// Issue 14 with PostgreSQL: a real server (initdb + postgres in a temp dir, on a loopback port,
// password authentication, run as the `postgres` user since PostgreSQL refuses root), started
// and stopped by PID by this test. Five clusterd agents with no -join find each other through
// it; the server is stopped for 20 s and restarted: the gossip cluster does not change, each
// agent logs one "down" and one "reachable again" line, registration resumes, no row is lost or
// duplicated; the password appears in no log and no `info`. Then a kill -9'd agent's row
// expires after ttl_on_failure (60 s) and a new agent never tries it; a graceful leave deletes
// its row.
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "pg_server.hpp"
#include "support/cluster.hpp"

namespace clusterd::testing {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

const char* const kPassword = PgServer::kPassword;

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

std::size_t count(const std::string& hay, const std::string& needle) {
    std::size_t n = 0;
    for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1))
        ++n;
    return n;
}

TEST(DatastorePostgres, ClusterFormsSurvivesAServerOutageAndExpiresADeadRow) {
    PgServer pg;
    ASSERT_TRUE(pg.initialised()) << pg.init_output();
    ASSERT_TRUE(pg.start()) << pg.log();

    Cluster c("datastore-pg");
    const std::string conf = c.dir() + "/ds.json";
    std::ofstream(conf) << R"({"ttl_on_failure": 60, "datastore_refresh_interval": "5s"})";
    const std::vector<std::string> flags{"-datastore=" + pg.url(), "-config-file=" + conf};
    const std::vector<std::string> names{"pg1", "pg2", "pg3", "pg4", "pg5"};
    const auto t0 = std::chrono::steady_clock::now();
    for (const auto& n : names)
        c.start(Kind::Clusterd, n, flags);
    ASSERT_TRUE(c.wait_all_alive(names, 30s)) << c.dump();
    std::printf("5 agents, no -join, PostgreSQL store: one cluster after %.1f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    ASSERT_EQ(pg.rows().size(), 5u);
    // `clusterd store list` through any agent shows the registry as PostgreSQL holds it.
    auto listed = c.clusterd_cli(c.agents().at(2), {"store", "list"});
    EXPECT_EQ(listed.exit_code, 0) << listed.out << listed.err;
    for (const auto& n : names)
        EXPECT_NE(listed.out.find(n + " "), std::string::npos) << listed.out;
    EXPECT_NE(listed.out.find("Expires"), std::string::npos) << listed.out;
    EXPECT_EQ(listed.out.find(kPassword), std::string::npos) << listed.out;

    // The server goes away for 20 s.
    pg.stop();
    const auto down_at = std::chrono::steady_clock::now();
    std::this_thread::sleep_for(20s);
    for (auto& a : c.agents()) {
        EXPECT_EQ(count(a.child.log(), "datastore is down"), 1u) << a.name << "\n" << a.child.log();
        auto info = c.clusterd_cli(a, {"info"});
        EXPECT_NE(info.out.find("state = down"), std::string::npos) << info.out;
        EXPECT_EQ(info.out.find(kPassword), std::string::npos) << info.out;
        auto st = c.statuses(a);
        for (const auto& n : names)
            EXPECT_EQ(st[n], "alive") << a.name << " sees " << n;
    }
    ASSERT_TRUE(pg.start()) << pg.log();
    const std::int64_t back_ms = wall_ms();
    ASSERT_TRUE(wait_until(
        [&] {
            for (auto& a : c.agents())
                if (a.child.log().find("datastore is reachable again") == std::string::npos)
                    return false;
            return true;
        },
        60s))
        << c.dump();
    ASSERT_TRUE(wait_until(
        [&] {
            auto rows = pg.rows();
            if (rows.size() != 5)
                return false;
            for (const auto& [n, seen] : rows)
                if (seen < back_ms)
                    return false;
            return true;
        },
        30s))
        << "registration did not resume";
    std::printf("PostgreSQL down %.0f s: agents back on the store within %.1f s of its restart\n", 20.0,
                std::chrono::duration<double>(std::chrono::steady_clock::now() - down_at).count() - 20.0);
    for (auto& a : c.agents()) {
        const std::string log = a.child.log();
        EXPECT_EQ(count(log, "datastore is down"), 1u) << a.name;
        EXPECT_EQ(count(log, "datastore is reachable again"), 1u) << a.name;
        EXPECT_EQ(log.find("EventMemberFailed"), std::string::npos) << a.name << " saw a member fail";
        EXPECT_EQ(log.find(kPassword), std::string::npos) << a.name << " logged the password";
        for (const auto& n : names)
            EXPECT_EQ(c.statuses(a)[n], "alive");
    }

    // kill -9 one agent; its row is ignored once ttl_on_failure has passed.
    AgentProc& dead = c.agents().back();
    const std::string dead_addr = dead.bind_addr();
    dead.child.kill9();
    ASSERT_TRUE(wait_until([&] { return pg.rows().count("pg5") == 0; }, 90s))
        << "dead row not pruned" << c.dump();
    // The new agent takes its password from datastore_password_file, not from the URL.
    const std::string pwfile = c.dir() + "/pg-password";
    std::ofstream(pwfile) << kPassword << "\n";
    const std::string conf4 = c.dir() + "/ds4.json";
    std::ofstream(conf4)
        << R"({"ttl_on_failure": 60, "datastore_refresh_interval": "5s", "datastore_password_file": ")"
        << pwfile << "\"}";
    AgentProc& fresh =
        c.start(Kind::Clusterd, "pg6", {"-datastore=" + pg.url_without_password(), "-config-file=" + conf4});
    ASSERT_TRUE(c.wait_all_alive({"pg1", "pg2", "pg3", "pg4", "pg6"}, 30s)) << c.dump();
    const std::string log4 = fresh.child.log();
    EXPECT_NE(log4.find("joining from the datastore"), std::string::npos) << log4;
    for (auto p = log4.find("joining from the datastore"); p != std::string::npos;
         p = log4.find("joining from the datastore", p + 1)) {
        const std::string line = log4.substr(p, log4.find('\n', p) - p);
        EXPECT_EQ(line.find(dead_addr), std::string::npos) << line;
    }

    EXPECT_TRUE(wait_until([&] { return pg.rows().count("pg6") == 1; }, 10s));
    EXPECT_EQ(log4.find(kPassword), std::string::npos);

    // A graceful leave deletes the row.
    c.agents().front().child.stop(SIGINT, 15s);
    EXPECT_TRUE(wait_until([&] { return pg.rows().count("pg1") == 0; }, 10s));
    auto rows = pg.rows();
    EXPECT_EQ(rows.size(), 4u);
    EXPECT_TRUE(rows.count("pg2") && rows.count("pg3") && rows.count("pg4") && rows.count("pg6"));
}

} // namespace
} // namespace clusterd::testing
