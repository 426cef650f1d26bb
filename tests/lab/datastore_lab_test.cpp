// Issue 14, the seed's shape on a real network: three "hosts" (network namespaces), each running
// clusterd from a Kong 0.x kong.yml (cluster_listen 0.0.0.0:7946, advertise left to
// auto-detection, `database: postgres` with Kong's `postgres:` block), and a shared PostgreSQL
// server on a fourth host. No -join, no seeds: the hosts find each other through the store alone,
// `clusterd members -format kong` on every host lists three alive members with each host's own
// lab address, and `clusterd store list` shows the three rows as PostgreSQL holds them.
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "lab_cluster.hpp"
#include "pg_server.hpp"

using namespace clusterd::testing;
using namespace std::chrono_literals;

TEST(LabDatastore, ThreeHostsOnAnyAddressFindEachOtherThroughASharedPostgres) {
    const auto why = netlab::unavailable_reason();
    ASSERT_TRUE(why.empty()) << why;
    netlab::Lab lab({.hosts = 4, .ipv4 = true, .ipv6 = false, .ipv6_only = {}});
    constexpr int kDbHost = 3;
    PgServer pg(lab.in(kDbHost, {}), lab.ipv4(kDbHost));
    ASSERT_TRUE(pg.initialised()) << pg.init_output();
    ASSERT_TRUE(pg.start()) << pg.log();

    LabCluster c(lab, "lab-datastore-pg");
    const std::vector<std::string> names{"kong-h0", "kong-h1", "kong-h2"};
    const auto t0 = std::chrono::steady_clock::now();
    for (int h = 0; h < 3; ++h) {
        const std::string yml = c.dir() + "/kong-h" + std::to_string(h) + ".yml";
        std::ofstream(yml) << "cluster_listen: \"0.0.0.0:7946\"\n"
                           << "cluster_listen_rpc: \"127.0.0.1:7373\"\n"
                           << "cluster:\n  advertise: \"\"\n  ttl_on_failure: 60\n"
                           << "database: postgres\n"
                           << "postgres:\n  host: " << lab.ipv4(kDbHost) << "\n  port: " << pg.port()
                           << "\n  user: kong\n  password: " << PgServer::kPassword
                           << "\n  database: postgres\n";
        c.start(Kind::Clusterd, names[static_cast<std::size_t>(h)], h, {"-c", yml});
    }
    ASSERT_TRUE(c.wait_all_alive(names, 60s)) << c.dump() << pg.log();
    std::printf("3 hosts on 0.0.0.0:7946, PostgreSQL on a 4th, no -join: one cluster after %.1f s\n",
                std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

    for (int h = 0; h < 3; ++h) {
        auto& a = c.agents().at(static_cast<std::size_t>(h));
        auto r = c.clusterd_cli(a, {"members", "-format", "kong"});
        ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
        std::printf("host %d: clusterd members -format kong\n%s", h, r.out.c_str());
        std::istringstream in(r.out);
        std::map<std::string, std::pair<std::string, std::string>> seen; // name -> (address, status)
        std::string line;
        while (std::getline(in, line)) {
            std::istringstream f(line);
            std::string name, addr, status;
            f >> name >> addr >> status;
            seen[name] = {addr, status};
        }
        ASSERT_EQ(seen.size(), 3u) << r.out;
        for (int o = 0; o < 3; ++o) {
            const auto& [addr, status] = seen[names[static_cast<std::size_t>(o)]];
            EXPECT_EQ(addr, lab.ipv4(o) + ":7946")
                << "host " << h << " sees " << names[static_cast<std::size_t>(o)];
            EXPECT_EQ(status, "alive");
        }
        EXPECT_EQ(a.child.log().find(PgServer::kPassword), std::string::npos) << "the password reached a log";
    }

    auto listed = c.clusterd_cli(c.agents().at(1), {"store", "list"});
    ASSERT_EQ(listed.exit_code, 0) << listed.out << listed.err;
    std::printf("clusterd store list (via host 1)\n%s", listed.out.c_str());
    for (int o = 0; o < 3; ++o)
        EXPECT_NE(listed.out.find(lab.ipv4(o) + ":7946"), std::string::npos) << listed.out;
    EXPECT_EQ(listed.out.find(PgServer::kPassword), std::string::npos);
    EXPECT_EQ(listed.out.find("skipped"), std::string::npos) << listed.out;
}
