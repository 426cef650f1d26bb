// BroadcastQueue: ordering by fewest transmits, invalidation by name, retransmit limits, budget.
#include <gtest/gtest.h>

#include <algorithm>

#include "clusterd/swim/broadcast_queue.hpp"
#include "clusterd/swim/timing.hpp"

using namespace clusterd;
using clusterd::swim::BroadcastQueue;

namespace {
base::Bytes msg(const std::string& s) {
    return base::to_bytes(s);
}
std::vector<std::string> strs(const std::vector<base::Bytes>& v) {
    std::vector<std::string> out;
    for (const auto& b : v)
        out.push_back(base::to_string(b));
    return out;
}
} // namespace

TEST(BroadcastQueue, InvalidatesSameName) {
    BroadcastQueue q(3);
    int finished = 0;
    q.queue("node1", msg("first"), [&] { finished++; });
    q.queue("node2", msg("other"));
    q.queue("node1", msg("second"));
    EXPECT_EQ(q.size(), 2u);
    EXPECT_EQ(finished, 1);
    auto got = strs(q.get(2, 1400, 10));
    EXPECT_EQ(got.size(), 2u);
    EXPECT_NE(std::find(got.begin(), got.end(), "second"), got.end());
    EXPECT_EQ(std::find(got.begin(), got.end(), "first"), got.end());
}

TEST(BroadcastQueue, UnnamedAreNeverInvalidated) {
    BroadcastQueue q(3);
    q.queue("", msg("a"));
    q.queue("", msg("b"));
    EXPECT_EQ(q.size(), 2u);
}

TEST(BroadcastQueue, OrdersNewestAndLargestFirstAtEqualTransmits) {
    BroadcastQueue q(3);
    q.queue("a", msg("aa"));
    q.queue("b", msg("bbbb"));
    q.queue("c", msg("cc"));
    // Larger first, then newer.
    auto got = strs(q.get(0, 1400, 10));
    EXPECT_EQ(got, (std::vector<std::string>{"bbbb", "cc", "aa"}));
}

TEST(BroadcastQueue, FewestTransmitsFirst) {
    BroadcastQueue q(10);
    q.queue("old", msg("old-message"));
    q.get(0, 1400, 10); // old now has 1 transmit
    q.queue("new", msg("new"));
    auto counts = q.transmit_counts();
    EXPECT_EQ(counts, (std::vector<int>{0, 1}));
    // Budget for one message only: the fresh one wins although it is smaller.
    auto got = strs(q.get(0, 5, 10));
    EXPECT_EQ(got, (std::vector<std::string>{"new"}));
}

TEST(BroadcastQueue, RetransmitLimitRemovesAndFinishes) {
    BroadcastQueue q(1); // limit = 1 * ceil(log10(n+1))
    bool done = false;
    q.queue("x", msg("x"), [&] { done = true; });
    // n = 10 -> limit 2
    EXPECT_EQ(q.get(0, 100, 10).size(), 1u);
    EXPECT_FALSE(done);
    EXPECT_EQ(q.get(0, 100, 10).size(), 1u);
    EXPECT_TRUE(done);
    EXPECT_EQ(q.size(), 0u);
    EXPECT_TRUE(q.get(0, 100, 10).empty());
}

TEST(BroadcastQueue, RespectsByteBudgetWithOverhead) {
    BroadcastQueue q(3);
    for (int i = 0; i < 10; ++i)
        q.queue("n" + std::to_string(i), base::Bytes(100, 'x'));
    // each costs 100 + 2; 1000 bytes fit 9 of them
    auto got = q.get(2, 1000, 10);
    EXPECT_EQ(got.size(), 9u);
    std::size_t used = 0;
    for (const auto& m : got)
        used += m.size() + 2;
    EXPECT_LE(used, 1000u);
    // The too-big message is skipped but a small one that fits is still taken.
    BroadcastQueue q2(3);
    q2.queue("big", base::Bytes(500, 'b'));
    q2.queue("small", base::Bytes(10, 's'));
    auto got2 = q2.get(2, 100, 10);
    ASSERT_EQ(got2.size(), 1u);
    EXPECT_EQ(got2[0].size(), 10u);
}

TEST(BroadcastQueue, PruneDropsMostTransmitted) {
    BroadcastQueue q(10);
    q.queue("a", msg("a"));
    q.get(0, 100, 10);
    q.queue("b", msg("b"));
    q.queue("c", msg("c"));
    q.prune(2);
    EXPECT_EQ(q.size(), 2u);
    EXPECT_EQ(q.transmit_counts(), (std::vector<int>{0, 0}));
    q.reset();
    EXPECT_EQ(q.size(), 0u);
}

// Issue 19: queues sharing a pool keep one copy of identical (name, bytes) messages; a copy
// lives while any queue holds it.
TEST(BroadcastQueue, QueuesSharingAPoolKeepOneCopyOfEachMessage) {
    auto pool = std::make_shared<swim::MessagePool>();
    {
        BroadcastQueue a(3, pool), b(3, pool), c(3, pool);
        for (int i = 0; i < 100; ++i) {
            a.queue("n" + std::to_string(i), msg("alive " + std::to_string(i)));
            b.queue("n" + std::to_string(i), msg("alive " + std::to_string(i)));
            c.queue("n" + std::to_string(i), msg("alive " + std::to_string(i)));
        }
        EXPECT_EQ(pool->size(), 100u);
        // Same bytes under another name, and another message under the same name, are distinct.
        c.queue("other", msg("alive 1"));
        EXPECT_EQ(pool->size(), 101u);
        c.queue("n1", msg("suspect 1")); // replaces c's alive 1; a and b still hold it
        EXPECT_EQ(pool->size(), 102u);
        a.reset();
        EXPECT_EQ(pool->size(), 102u);
        b.reset();
        EXPECT_EQ(pool->size(), 101u); // "alive 1" under n1 is gone with b's copy
        EXPECT_EQ(strs(c.get(0, 20, 10)).size(), 2u);
    }
    EXPECT_EQ(pool->size(), 0u); // destroyed queues give their references back
}

// A pooled message is one allocation: its name and bytes follow the header.
TEST(MessagePool, BlocksHoldNameAndBytesAndAreSharedByContent) {
    swim::MessagePool pool;
    const base::Bytes a = msg("alive node-1"), b = msg("alive node-2");
    auto* x = pool.acquire("node-1", base::ByteView(a));
    EXPECT_EQ(x->name(), "node-1");
    EXPECT_EQ(base::to_string(base::Bytes(x->bytes().begin(), x->bytes().end())), "alive node-1");
    EXPECT_EQ(pool.acquire("node-1", base::ByteView(a)), x); // same content: same block
    EXPECT_EQ(x->refs, 2u);
    auto* y = pool.acquire("node-2", base::ByteView(a)); // same bytes, other name
    auto* z = pool.acquire("node-1", base::ByteView(b)); // same name, other bytes
    auto* e = pool.acquire("", base::ByteView());        // empty name and bytes
    EXPECT_NE(y, x);
    EXPECT_NE(z, x);
    EXPECT_EQ(e->name(), "");
    EXPECT_TRUE(e->bytes().empty());
    EXPECT_EQ(pool.size(), 4u);
    pool.release(x);
    EXPECT_EQ(pool.size(), 4u);
    pool.release(x);
    EXPECT_EQ(pool.size(), 3u);
    // Lengths beyond a byte, and the block's bytes outliving the caller's buffer.
    std::string long_name(300, 'n');
    base::Bytes big(70000, 7);
    auto* w = pool.acquire(long_name, base::ByteView(big));
    big.assign(big.size(), 0);
    EXPECT_EQ(w->name(), long_name);
    EXPECT_EQ(w->bytes().size(), 70000u);
    EXPECT_TRUE(std::all_of(w->bytes().begin(), w->bytes().end(), [](std::uint8_t c) { return c == 7; }));
    for (auto* p : {y, z, e, w})
        pool.release(p);
    EXPECT_EQ(pool.size(), 0u);
}

// The last transmit of every item in one get() empties the queue while others still wait to
// be put back: they must come back intact (slot storage is only reclaimed when nothing waits).
TEST(BroadcastQueue, ItemsFinishingInAGetDoNotLoseTheOthers) {
    BroadcastQueue q(1); // limit = 1 * ceil(log10(11)) = 2 transmits at 10 nodes
    int finished = 0;
    q.queue("a", msg("aaaa"), [&] { finished++; });
    EXPECT_EQ(q.get(0, 1400, 10).size(), 1u); // a: 1 transmit
    q.queue("b", msg("bb"));
    q.queue("c", msg("cc"), [&] { finished++; });
    // One pass: b and c (0 transmits) first, then a, which reaches its limit and leaves.
    EXPECT_EQ(strs(q.get(0, 1400, 10)), (std::vector<std::string>{"cc", "bb", "aaaa"}));
    EXPECT_EQ(finished, 1);
    EXPECT_EQ(q.transmit_counts(), (std::vector<int>{1, 1}));
    EXPECT_EQ(strs(q.get(0, 1400, 10)), (std::vector<std::string>{"cc", "bb"}));
    EXPECT_EQ(finished, 2);
    EXPECT_EQ(q.size(), 0u);
    // The queue is reusable after it emptied.
    q.queue("d", msg("d"));
    EXPECT_EQ(strs(q.get(0, 1400, 10)), (std::vector<std::string>{"d"}));
}

// A queue destroyed with items still queued runs no callbacks (the owner is going away).
TEST(BroadcastQueue, DestroyingAQueueRunsNoCallbacks) {
    int finished = 0;
    {
        BroadcastQueue q(3);
        q.queue("a", msg("a"), [&] { finished++; });
    }
    EXPECT_EQ(finished, 0);
}

// Distinct targets (issue 16's flood): with tracking on, a message never goes to the same member
// twice; it is finished once every other member has it, and a member that already has every
// queued message gets nothing. Without tracking a message goes to whoever asks.
TEST(BroadcastQueue, TrackedMessagesGoToEachMemberOnce) {
    BroadcastQueue q(4); // 5 nodes: limit 4 transmits = the 4 peers
    q.track_targets(true);
    int finished = 0;
    q.queue("", msg("e1"), [&] { finished++; });
    EXPECT_EQ(strs(q.get(0, 1400, 5, "b")), (std::vector<std::string>{"e1"}));
    EXPECT_TRUE(q.get(0, 1400, 5, "b").empty()); // b has it
    q.queue("", msg("e2"));
    EXPECT_EQ(strs(q.get(0, 1400, 5, "b")), (std::vector<std::string>{"e2"}));
    EXPECT_EQ(strs(q.get(0, 1400, 5, "c")), (std::vector<std::string>{"e2", "e1"}));
    EXPECT_EQ(strs(q.get(0, 1400, 5, "d")), (std::vector<std::string>{"e2", "e1"}));
    EXPECT_EQ(finished, 0);
    EXPECT_EQ(strs(q.get(0, 1400, 5, "e")), (std::vector<std::string>{"e2", "e1"}));
    EXPECT_EQ(finished, 1); // every peer has e1
    EXPECT_EQ(q.size(), 0u);

    // Untracked (Serf's behaviour): the same member can be sent a message again.
    BroadcastQueue r(4);
    r.queue("", msg("e1"));
    EXPECT_EQ(strs(r.get(0, 1400, 5, "b")), (std::vector<std::string>{"e1"}));
    EXPECT_EQ(strs(r.get(0, 1400, 5, "b")), (std::vector<std::string>{"e1"}));
}

// 20 nodes (limit 8): each of the 8 transmissions goes to a different member, and a message
// skipped by kMaxSkips targets in a row (every member that could still get it has it, e.g. the
// rest have left) is finished instead of waiting forever.
TEST(BroadcastQueue, TrackedMessageSkippedByEveryTargetIsFinished) {
    BroadcastQueue q(4);
    q.track_targets(true);
    int finished = 0;
    q.queue("", msg("e"), [&] { finished++; });
    const std::vector<std::string> peers{"p1", "p2", "p3"};
    for (const auto& p : peers)
        EXPECT_EQ(q.get(0, 1400, 20, p).size(), 1u);
    int asked = 0;
    while (q.size() > 0 && asked < 1000) {
        EXPECT_TRUE(q.get(0, 1400, 20, peers[static_cast<std::size_t>(asked) % peers.size()]).empty());
        ++asked;
    }
    EXPECT_EQ(asked, BroadcastQueue::kMaxSkips);
    EXPECT_EQ(finished, 1);

    // A skipped message does not hide the ones behind it at the same level.
    BroadcastQueue r(4);
    r.track_targets(true);
    r.queue("", msg("x1"));
    r.queue("", msg("x2"));
    r.queue("", msg("x3"));
    EXPECT_EQ(strs(r.get(0, 4, 20, "a")), (std::vector<std::string>{"x3", "x2"}));
    EXPECT_EQ(strs(r.get(0, 1400, 20, "a")), (std::vector<std::string>{"x1"}));
    EXPECT_EQ(strs(r.get(0, 1400, 20, "b")), (std::vector<std::string>{"x3", "x2", "x1"}));
}

// The queue's selection against a plain model of memberlist's TransmitLimitedQueue.GetBroadcasts
// (fewest transmits, then larger, then newer; per level the first message that still fits),
// over random queue/get/prune sequences: the B-tree walk that reuses its position between picks
// must choose exactly what a fresh search would.
TEST(BroadcastQueue, SelectionMatchesAModelOfMemberlist) {
    struct Item {
        std::string name;
        base::Bytes bytes;
        int transmits;
        std::uint64_t id;
    };
    std::uint64_t seed = 12345;
    auto next = [&](std::uint64_t n) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        return (seed >> 33) % n;
    };
    for (int round = 0; round < 40; ++round) {
        BroadcastQueue q(2);
        std::vector<Item> model;
        std::uint64_t ids = 0;
        const std::size_t nodes = 5 + next(200);
        const int limit = swim::retransmit_limit(2, nodes);
        auto before = [](const Item& a, const Item& b) {
            if (a.transmits != b.transmits)
                return a.transmits < b.transmits;
            if (a.bytes.size() != b.bytes.size())
                return a.bytes.size() > b.bytes.size();
            return a.id > b.id;
        };
        for (int op = 0; op < 400; ++op) {
            const auto kind = next(10);
            if (kind < 6) {
                const std::string name = next(4) == 0 ? "" : "n" + std::to_string(next(60));
                base::Bytes b(1 + next(40), static_cast<std::uint8_t>('a' + next(26)));
                b[0] = static_cast<std::uint8_t>(op);
                q.queue(name, b);
                if (!name.empty())
                    std::erase_if(model, [&](const Item& i) { return i.name == name; });
                model.push_back(Item{name, b, 0, ++ids});
            } else if (kind < 9) {
                const std::size_t overhead = next(3), budget = next(200);
                const auto got = q.get(overhead, budget, nodes);
                std::vector<base::Bytes> want;
                std::sort(model.begin(), model.end(), before);
                std::vector<bool> taken(model.size(), false);
                std::size_t used = 0;
                const int lo = model.empty() ? 0 : model.front().transmits;
                const int hi = model.empty() ? -1 : model.back().transmits;
                for (int level = lo; level <= hi && used + overhead < budget;) {
                    const std::size_t free = budget - used - overhead;
                    std::size_t pick = model.size();
                    for (std::size_t i = 0; i < model.size(); ++i)
                        if (!taken[i] && model[i].transmits == level && model[i].bytes.size() <= free) {
                            pick = i;
                            break;
                        }
                    if (pick == model.size()) {
                        ++level;
                        continue;
                    }
                    taken[pick] = true;
                    used += overhead + model[pick].bytes.size();
                    want.push_back(model[pick].bytes);
                }
                std::vector<Item> kept;
                for (std::size_t i = 0; i < model.size(); ++i) {
                    Item it = model[i];
                    if (taken[i] && ++it.transmits >= limit)
                        continue;
                    kept.push_back(it);
                }
                model = kept;
                ASSERT_EQ(got, want) << "round " << round << " op " << op;
            } else {
                const std::size_t keep = next(model.size() + 2);
                q.prune(keep);
                std::sort(model.begin(), model.end(), before);
                if (model.size() > keep)
                    model.resize(keep);
            }
            ASSERT_EQ(q.size(), model.size());
        }
    }
}
