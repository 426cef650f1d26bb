// Lamport clock, intent buffer and dedup rings (the spirit of serf_internals_test.go and
// lamport_test.go: joinIntent_bufferEarly, userEvent_oldMessage, userEvent_sameClock, queries).
#include <gtest/gtest.h>

#include "clusterd/serf/dedup_buffers.hpp"
#include "clusterd/serf/intents.hpp"
#include "clusterd/serf/lamport.hpp"

using namespace clusterd;
using namespace clusterd::serf;
using namespace std::chrono_literals;

TEST(Lamport, IncrementAndWitness) {
    LamportClock c;
    EXPECT_EQ(c.time(), 0u);
    EXPECT_EQ(c.increment(), 1u);
    EXPECT_EQ(c.time(), 1u);
    c.witness(41);
    EXPECT_EQ(c.time(), 42u);
    c.witness(30); // older: no change
    EXPECT_EQ(c.time(), 42u);
    c.witness(42); // equal: moves past it
    EXPECT_EQ(c.time(), 43u);
}

TEST(IntentBuffer, JoinIntentBufferedEarly) {
    IntentBuffer b;
    base::Instant t0{};
    EXPECT_TRUE(b.upsert("test", IntentType::Join, 10, t0));
    ASSERT_TRUE(b.recent("test", IntentType::Join).has_value());
    EXPECT_EQ(*b.recent("test", IntentType::Join), 10u);
    EXPECT_FALSE(b.recent("test", IntentType::Leave).has_value());
    EXPECT_FALSE(b.recent("other", IntentType::Join).has_value());
}

TEST(IntentBuffer, NewerWinsOlderAndEqualRejected) {
    IntentBuffer b;
    base::Instant t0{};
    EXPECT_TRUE(b.upsert("n", IntentType::Join, 10, t0));
    EXPECT_FALSE(b.upsert("n", IntentType::Leave, 10, t0));
    EXPECT_FALSE(b.upsert("n", IntentType::Leave, 9, t0));
    EXPECT_TRUE(b.upsert("n", IntentType::Leave, 11, t0));
    EXPECT_EQ(*b.recent("n", IntentType::Leave), 11u);
    EXPECT_FALSE(b.recent("n", IntentType::Join).has_value());
}

// A join at the time of a buffered leave is a later process of the node: it wins the tie (a
// leave at the time of a buffered join does not).
TEST(IntentBuffer, JoinWinsATieWithALeave) {
    IntentBuffer b;
    base::Instant t0{};
    EXPECT_TRUE(b.upsert("n", IntentType::Leave, 28, t0));
    EXPECT_TRUE(b.upsert("n", IntentType::Join, 28, t0));
    EXPECT_EQ(*b.recent("n", IntentType::Join), 28u);
    EXPECT_FALSE(b.recent("n", IntentType::Leave).has_value());
    EXPECT_FALSE(b.upsert("n", IntentType::Leave, 28, t0));
    EXPECT_FALSE(b.upsert("n", IntentType::Join, 28, t0));
}

TEST(IntentBuffer, ReapAfterTimeout) {
    IntentBuffer b;
    base::Instant t0{};
    b.upsert("old", IntentType::Join, 1, t0);
    b.upsert("new", IntentType::Join, 1, t0 + 4min);
    b.reap(t0 + 5min); // exactly the timeout: kept
    EXPECT_EQ(b.size(), 2u);
    b.reap(t0 + 5min + 1ms);
    EXPECT_EQ(b.size(), 1u);
    EXPECT_TRUE(b.recent("new", IntentType::Join).has_value());
}

TEST(UserEventBuffer, SameClockDifferentEventsBothDelivered) {
    UserEventBuffer b;
    base::Bytes p1{'a'}, p2{'b'};
    EXPECT_EQ(b.record(1, "first", p1, 2, 0), DedupVerdict::New);
    EXPECT_EQ(b.record(1, "first", p2, 2, 0), DedupVerdict::New);  // same name, other payload
    EXPECT_EQ(b.record(1, "second", p1, 2, 0), DedupVerdict::New); // other name
    EXPECT_EQ(b.record(1, "first", p1, 2, 0), DedupVerdict::Duplicate);
    auto slots = b.export_slots();
    ASSERT_EQ(slots.size(), 512u);
    ASSERT_TRUE(slots[1].has_value());
    EXPECT_EQ(slots[1]->events.size(), 3u);
    EXPECT_FALSE(slots[0].has_value());
}

TEST(UserEventBuffer, OldMessageRejected) {
    UserEventBuffer b;
    // Clock is at 600 + 16384: anything below 600 is too old (the history window).
    const LamportTime now = 600 + kEventHistory;
    EXPECT_EQ(b.record(599, "e", {}, now, 0), DedupVerdict::TooOld);
    EXPECT_EQ(b.record(600, "e", {}, now, 0), DedupVerdict::New);
    // Below the window size, nothing is "too old".
    UserEventBuffer c;
    EXPECT_EQ(c.record(0, "e", {}, kEventHistory, 0), DedupVerdict::New);
    // Serf's window when the history is no longer than the ring: below 600 - 512 = 88.
    UserEventBuffer serf_like(512, 0);
    EXPECT_EQ(serf_like.record(87, "e", {}, 600, 0), DedupVerdict::TooOld);
    EXPECT_EQ(serf_like.record(88, "e", {}, 600, 0), DedupVerdict::New);
}

// Issue 16 (10,000 events at 200/s): a relayed copy arrived thousands of events late and Serf's
// 512-tick window dropped it at nodes that never ran it. Accepted once within the history,
// deduplicated after it left the ring, refused beyond the history; the ring (what push-pull
// carries) is unchanged.
TEST(UserEventBuffer, LateEventsRunOnceWithinTheHistory) {
    UserEventBuffer b;
    base::Bytes p{'x'};
    EXPECT_EQ(b.record(10, "seen", p, 10, 0), DedupVerdict::New);
    // 5,000 ticks later: "seen" left the ring but is remembered; "late" never arrived before.
    EXPECT_EQ(b.record(10, "seen", p, 5010, 0), DedupVerdict::Duplicate);
    EXPECT_EQ(b.record(11, "late", p, 5010, 0), DedupVerdict::New);
    EXPECT_EQ(b.record(11, "late", p, 5011, 0), DedupVerdict::Duplicate);
    EXPECT_EQ(b.record(11, "late", base::Bytes{'y'}, 5011, 0), DedupVerdict::New); // other payload
    EXPECT_FALSE(b.export_slots()[11].has_value()); // late events stay out of the ring
    EXPECT_EQ(b.history_size(), 3u);
    // Beyond the history: too old, and the history forgets what expired.
    EXPECT_EQ(b.record(11, "late", p, 11 + kEventHistory + 1, 0), DedupVerdict::TooOld);
    EXPECT_EQ(b.record(20000, "new", p, 20000, 0), DedupVerdict::New);
    EXPECT_EQ(b.history_size(), 1u);
}

TEST(UserEventBuffer, MinTimeAndSlotReuse) {
    UserEventBuffer b;
    EXPECT_EQ(b.record(5, "e", {}, 10, 6), DedupVerdict::BeforeMin);
    EXPECT_EQ(b.record(5, "e", {}, 10, 0), DedupVerdict::New);
    // 517 maps to the same slot as 5 and replaces it; 5 is then too old anyway.
    EXPECT_EQ(b.record(517, "e", {}, 600, 0), DedupVerdict::New);
    EXPECT_EQ(b.export_slots()[5]->ltime, 517u);
    EXPECT_EQ(b.record(517, "e", {}, 600, 0), DedupVerdict::Duplicate);
}

TEST(QueryBuffer, DedupOnLtimeAndId) {
    QueryBuffer b;
    EXPECT_EQ(b.record(3, 100, 4, 0), DedupVerdict::New);
    EXPECT_EQ(b.record(3, 101, 4, 0), DedupVerdict::New);
    EXPECT_EQ(b.record(3, 100, 4, 0), DedupVerdict::Duplicate);
    EXPECT_EQ(b.record(4, 100, 5, 0), DedupVerdict::New); // same id, other time
    EXPECT_EQ(b.record(1, 1, 1000, 0), DedupVerdict::TooOld);
    EXPECT_EQ(b.record(7, 1, 10, 8), DedupVerdict::BeforeMin);
}
