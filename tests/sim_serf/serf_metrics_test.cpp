// The cores' telemetry counters (docs/metrics.md) move by exactly what happened: N user events
// -> serf.events grows by N on every node, one query -> serf.queries by one, a crash -> one
// member-failed, memberlist.msg.suspect/dead and the probe/push-pull timings on the survivors.
#include <gtest/gtest.h>

#include "clusterd/wire/memberlist.hpp"
#include "serf_sim_cluster.hpp"

using namespace clusterd;
using namespace clusterd::serftest;
using namespace std::chrono_literals;
using serf::EventType;
using serf::MemberStatus;

TEST(SerfMetrics, CountersMoveByTheRightAmounts) {
    SerfCluster c(sim::Simulator::seed_from_env(17), [](std::size_t, serf::Config& cfg) {
        cfg.reconnect_timeout = 30s;
        cfg.tombstone_timeout = 30s;
        cfg.reap_interval = 5s;
    });
    c.add(4);
    c.star_join();
    ASSERT_TRUE(c.sim.run_until([&] { return c.all_alive(c.range(4)); }, 30s));
    for (std::size_t i = 0; i < 4; ++i) {
        const auto& s = c.node(i).stats();
        EXPECT_EQ(s.member_join, 4u) << i; // every member, itself included, joined once
        EXPECT_EQ(s.member_failed + s.member_left + s.member_reap, 0u) << i;
        EXPECT_GE(c.node(i).endpoint().stats().msg_alive, 3u) << i;
    }

    // 7 "deploy" events and 2 "restart" events from two nodes: counted once per node each.
    std::vector<std::uint64_t> before(4);
    for (std::size_t i = 0; i < 4; ++i)
        before[i] = c.node(i).stats().user_events;
    for (int k = 0; k < 7; ++k) {
        ASSERT_TRUE(c.node(1).user_event("deploy", {}, false, c.sim.now()).ok());
        c.sim.poke(1);
    }
    for (int k = 0; k < 2; ++k) {
        ASSERT_TRUE(c.node(2).user_event("restart", {}, false, c.sim.now()).ok());
        c.sim.poke(2);
    }
    auto all_have = [&] {
        for (std::size_t i = 0; i < 4; ++i) {
            const auto& by = c.node(i).stats().user_events_by_name.by_name;
            auto d = by.find("deploy"), r = by.find("restart");
            if (d == by.end() || d->second < 7 || r == by.end() || r->second < 2)
                return false;
        }
        return true;
    };
    ASSERT_TRUE(c.sim.run_until(all_have, 30s));
    c.sim.run_for(5s); // more gossip rounds: retransmissions must not count again
    for (std::size_t i = 0; i < 4; ++i) {
        const auto& s = c.node(i).stats();
        EXPECT_EQ(s.user_events_by_name.by_name.at("deploy"), 7u) << i;
        EXPECT_EQ(s.user_events_by_name.by_name.at("restart"), 2u) << i;
        EXPECT_EQ(s.user_events - before[i], 9u) << i;
    }

    // One query from node 0: every node (node 0 too) counts it once.
    serf::QueryParams qp;
    qp.timeout = 2s;
    ASSERT_TRUE(c.node(0).query("ping-app", {}, qp, c.sim.now()).ok());
    c.sim.poke(0);
    c.sim.run_for(4s);
    for (std::size_t i = 0; i < 4; ++i) {
        EXPECT_EQ(c.node(i).stats().queries_by_name.by_name.count("ping-app"), 1u) << i;
        EXPECT_EQ(c.node(i).stats().queries_by_name.by_name.at("ping-app"), 1u) << i;
    }

    // Crash node 3: each survivor counts one member-failed, then one reap.
    c.sim.crash(3);
    auto failed_everywhere = [&] {
        for (std::size_t v = 0; v < 3; ++v)
            if (c.status(v, "node-3") != MemberStatus::Failed)
                return false;
        return true;
    };
    ASSERT_TRUE(c.sim.run_until(failed_everywhere, 60s));
    std::uint64_t suspects = 0, deads = 0;
    for (std::size_t v = 0; v < 3; ++v) {
        const auto& s = c.node(v).stats();
        EXPECT_EQ(s.member_failed, 1u) << v;
        const auto& es = c.node(v).endpoint().stats();
        suspects += es.msg_suspect;
        deads += es.msg_dead;
        EXPECT_GT(es.probe_time.count(), 0u) << v;
        EXPECT_LE(es.probe_time.count(), es.probes) << v;
        EXPECT_GT(es.push_pull_time.count() + es.push_pulls, 0u) << v;
        EXPECT_GT(es.gossip_rounds, 0u) << v;
        EXPECT_GT(es.msgs_in[static_cast<std::size_t>(wire::MsgType::Ping)], 0u) << v;
        EXPECT_GT(es.msgs_out[static_cast<std::size_t>(wire::MsgType::Ack)], 0u) << v;
        EXPECT_GT(es.msg_bytes_in[static_cast<std::size_t>(wire::MsgType::Alive)], 0u) << v;
        EXPECT_GT(s.coordinate_adjustment.count(), 0u) << v;
    }
    EXPECT_GE(suspects, 3u); // every survivor suspected it (first-hand or from gossip)
    EXPECT_GE(deads, 3u);
    ASSERT_TRUE(c.sim.run_until(
        [&] {
            for (std::size_t v = 0; v < 3; ++v)
                if (c.node(v).member("node-3"))
                    return false;
            return true;
        },
        90s));
    for (std::size_t v = 0; v < 3; ++v)
        EXPECT_EQ(c.node(v).stats().member_reap, 1u) << v;
}

TEST(SerfMetrics, EventNamesAreCountedWithinACap) {
    serf::NameCounts n;
    for (std::size_t i = 0; i < serf::NameCounts::kMaxNames + 10; ++i)
        n.add("ev" + std::to_string(i));
    n.add("ev0");
    EXPECT_EQ(n.by_name.size(), serf::NameCounts::kMaxNames);
    EXPECT_EQ(n.by_name.at("ev0"), 2u);
    EXPECT_EQ(n.other, 10u);
}
