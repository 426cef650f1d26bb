// memberlist scaling formulas, awareness and the Lifeguard suspicion timer.
#include <gtest/gtest.h>

#include "clusterd/swim/awareness.hpp"
#include "clusterd/swim/config.hpp"
#include "clusterd/swim/suspicion.hpp"
#include "clusterd/swim/timing.hpp"

using namespace clusterd;
using namespace clusterd::swim;
using namespace std::chrono_literals;

TEST(Timing, SuspicionTimeoutScalesWithLog10N) {
    EXPECT_EQ(suspicion_timeout(4, 0, 1s), 4s);
    EXPECT_EQ(suspicion_timeout(4, 1, 1s), 4s);
    EXPECT_EQ(suspicion_timeout(4, 10, 1s), 4s);
    EXPECT_EQ(suspicion_timeout(4, 100, 1s), 8s);
    EXPECT_EQ(suspicion_timeout(4, 1000, 1s), 12s);
    EXPECT_EQ(suspicion_timeout(3, 1000, 1s), 9s);
    // log10(50) = 1.69897 -> 1698 ms per unit, Go's integer truncation.
    EXPECT_EQ(suspicion_timeout(4, 50, 1s), 6792ms);
}

TEST(Timing, RetransmitLimit) {
    EXPECT_EQ(retransmit_limit(4, 0), 0);
    EXPECT_EQ(retransmit_limit(4, 1), 4);
    EXPECT_EQ(retransmit_limit(4, 9), 4);
    EXPECT_EQ(retransmit_limit(4, 10), 8);
    EXPECT_EQ(retransmit_limit(4, 99), 8);
    EXPECT_EQ(retransmit_limit(4, 100), 12);
    EXPECT_EQ(retransmit_limit(2, 1000), 8);
}

TEST(Timing, PushPullScale) {
    EXPECT_EQ(push_pull_scale(30s, 1), 30s);
    EXPECT_EQ(push_pull_scale(30s, 32), 30s);
    EXPECT_EQ(push_pull_scale(30s, 33), 60s);
    EXPECT_EQ(push_pull_scale(30s, 64), 60s);
    EXPECT_EQ(push_pull_scale(30s, 65), 90s);
    EXPECT_EQ(push_pull_scale(30s, 1000), 180s);
}

TEST(Timing, SuspicionTotalShrinksWithConfirmations) {
    // Same table as memberlist's TestSuspicion_remainingSuspicionTime (min 2s, max 30s, k 3).
    EXPECT_EQ(suspicion_total(0, 3, 2s, 30s), 30s);
    EXPECT_EQ(suspicion_total(1, 3, 2s, 30s), 16s);
    EXPECT_EQ(suspicion_total(2, 3, 2s, 30s), 7810ms);
    EXPECT_EQ(suspicion_total(3, 3, 2s, 30s), 2s);
    EXPECT_EQ(suspicion_total(4, 3, 2s, 30s), 2s);
    EXPECT_EQ(suspicion_total(0, 0, 2s, 30s), 2s);
}

TEST(Awareness, ClampsAndScales) {
    Awareness a(8);
    EXPECT_EQ(a.score(), 0);
    a.apply_delta(-1);
    EXPECT_EQ(a.score(), 0);
    a.apply_delta(3);
    EXPECT_EQ(a.score(), 3);
    EXPECT_EQ(a.scale(1s), 4s);
    a.apply_delta(100);
    EXPECT_EQ(a.score(), 7);
    EXPECT_EQ(a.scale(500ms), 4s);
    a.apply_delta(-2);
    EXPECT_EQ(a.score(), 5);
}

TEST(Suspicion, StartsAtMaxAndShrinksWithIndependentConfirmations) {
    const base::Instant t0 = base::Instant::zero() + 100s;
    Suspicion s("a", 3, 2s, 30s, t0);
    EXPECT_EQ(s.deadline(), t0 + 30s);
    EXPECT_FALSE(s.confirm("a")); // the original accuser does not count
    EXPECT_TRUE(s.confirm("b"));
    EXPECT_EQ(s.deadline(), t0 + 16s);
    EXPECT_FALSE(s.confirm("b")); // duplicate
    EXPECT_TRUE(s.confirm("c"));
    EXPECT_EQ(s.deadline(), t0 + 7810ms);
    EXPECT_TRUE(s.confirm("d"));
    EXPECT_EQ(s.deadline(), t0 + 2s);
    EXPECT_FALSE(s.confirm("e")); // k reached
    EXPECT_EQ(s.confirmations(), 3);
}

TEST(Suspicion, NoExpectedConfirmationsMeansMin) {
    const base::Instant t0 = base::Instant::zero();
    Suspicion s("a", 0, 2s, 30s, t0);
    EXPECT_EQ(s.deadline(), t0 + 2s);
    EXPECT_FALSE(s.confirm("b"));
}

TEST(Config, ProfilesCarryMemberlistNumbers) {
    Config lan = Config::lan(), wan = Config::wan(), local = Config::local();
    EXPECT_EQ(lan.tcp_timeout, 10s);
    EXPECT_EQ(lan.indirect_checks, 3);
    EXPECT_EQ(lan.retransmit_mult, 4);
    EXPECT_EQ(lan.suspicion_mult, 4);
    EXPECT_EQ(lan.suspicion_max_timeout_mult, 6);
    EXPECT_EQ(lan.push_pull_interval, 30s);
    EXPECT_EQ(lan.probe_timeout, 500ms);
    EXPECT_EQ(lan.probe_interval, 1s);
    EXPECT_EQ(lan.awareness_max_multiplier, 8);
    EXPECT_EQ(lan.gossip_nodes, 3);
    EXPECT_EQ(lan.gossip_interval, 200ms);
    EXPECT_EQ(lan.gossip_to_the_dead_time, 30s);
    EXPECT_EQ(lan.udp_buffer_size, 1400u);

    EXPECT_EQ(wan.tcp_timeout, 30s);
    EXPECT_EQ(wan.suspicion_mult, 6);
    EXPECT_EQ(wan.push_pull_interval, 60s);
    EXPECT_EQ(wan.probe_timeout, 3s);
    EXPECT_EQ(wan.probe_interval, 5s);
    EXPECT_EQ(wan.gossip_nodes, 4);
    EXPECT_EQ(wan.gossip_interval, 500ms);
    EXPECT_EQ(wan.gossip_to_the_dead_time, 60s);
    EXPECT_EQ(wan.indirect_checks, 3);

    EXPECT_EQ(local.tcp_timeout, 1s);
    EXPECT_EQ(local.indirect_checks, 1);
    EXPECT_EQ(local.retransmit_mult, 2);
    EXPECT_EQ(local.suspicion_mult, 3);
    EXPECT_EQ(local.push_pull_interval, 15s);
    EXPECT_EQ(local.probe_timeout, 200ms);
    EXPECT_EQ(local.probe_interval, 1s);
    EXPECT_EQ(local.gossip_interval, 100ms);
    EXPECT_EQ(local.gossip_to_the_dead_time, 15s);

    Config c;
    EXPECT_TRUE(Config::from_profile("wan", c));
    EXPECT_EQ(c.probe_interval, 5s);
    EXPECT_FALSE(Config::from_profile("moon", c));
}
