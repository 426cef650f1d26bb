// The interned string pool and the compact member table (issue 19).
#include <gtest/gtest.h>

#include "clusterd/base/rng.hpp"
#include "clusterd/swim/broadcast_queue.hpp"
#include "clusterd/swim/member_table.hpp"

namespace clusterd::swim {
namespace {

Address addr(std::uint8_t last, std::uint16_t port = 7946) {
    return Address{base::Bytes{10, 0, 0, last}, port};
}

TEST(StringPool, InternsCountsAndReusesIds) {
    StringPool p;
    const auto a = p.acquire("alpha");
    const auto b = p.acquire("a-name-longer-than-the-small-string-buffer");
    EXPECT_NE(a, b);
    EXPECT_EQ(p.acquire("alpha"), a);
    EXPECT_EQ(p.size(), 2u);
    EXPECT_EQ(p.find("alpha"), a);
    EXPECT_EQ(p.view(b), "a-name-longer-than-the-small-string-buffer");
    p.release(a);
    EXPECT_EQ(p.find("alpha"), a); // one reference left
    p.release(a);
    EXPECT_EQ(p.find("alpha"), StringPool::kNone);
    // The freed id is reused and views of other entries stay valid.
    const auto c = p.acquire("gamma");
    EXPECT_EQ(c, a);
    EXPECT_EQ(p.view(c), "gamma");
    EXPECT_EQ(p.view(b), "a-name-longer-than-the-small-string-buffer");
    EXPECT_EQ(p.id_bound(), 2u);
}

TEST(StringPool, ShortTextsLiveInTheEntryLongOnesInOneBlock) {
    // Issue 19 (bytes per member): an entry is 24 bytes with a text of up to 16 bytes in it (a
    // std::string entry was 40, and a heap block on top past 15 bytes).
    EXPECT_EQ(StringPool::entry_bytes(), 24u);
    StringPool p;
    const std::string s16(16, 'x'), s17(17, 'y'), s200(200, 'z');
    const auto e = p.acquire("");
    const auto a = p.acquire(s16);
    const auto b = p.acquire(s17);
    const auto c = p.acquire(s200);
    EXPECT_EQ(p.view(e), "");
    EXPECT_EQ(p.view(a), s16);
    EXPECT_EQ(p.view(b), s17);
    EXPECT_EQ(p.view(c), s200);
    EXPECT_EQ(p.find(s17), b);
    EXPECT_EQ(p.find(std::string(17, 'x')), StringPool::kNone);
    // A long text's id reused by a short one and the reverse; views of others stay put.
    p.release(b);
    p.release(a);
    const auto b2 = p.acquire("short");
    const auto a2 = p.acquire(std::string(40, 'q'));
    EXPECT_EQ(p.view(b2), "short");
    EXPECT_EQ(p.view(a2), std::string(40, 'q'));
    EXPECT_EQ(p.view(c), s200);
    EXPECT_EQ(p.find(s16), StringPool::kNone);
    EXPECT_EQ(p.size(), 4u);
    const auto fresh = p.acquire(s16); // a new entry: the freed ids were taken
    EXPECT_EQ(fresh, p.id_bound() - 1);
    EXPECT_EQ(p.view(fresh), s16);
}

TEST(MemberTable, StoresFieldsCompactlyAndFindsByName) {
    static_assert(sizeof(MemberRec) == 16, "a member record stays 16 bytes");
    auto pools = std::make_shared<InternPools>();
    MemberTable t(pools, base::Instant{});
    const MemberTable::Vsn vsn{1, 5, 2, 2, 5, 4};
    const base::Bytes meta{'m', 'e', 't', 'a'};
    MemberRec& a = t.insert("a", addr(1), vsn, meta, 0, base::Instant{});
    a.incarnation = 7;
    t.set_state(a, State::Suspect, base::Instant{} + std::chrono::seconds(3));
    t.insert("b", Address{base::Bytes(16, 1), 65535}, vsn, {}, 0, base::Instant{});
    ASSERT_NE(t.find("a"), nullptr);
    ASSERT_NE(t.find("b"), nullptr);
    EXPECT_EQ(t.find("c"), nullptr);
    const Node n = t.node(*t.find("a"));
    EXPECT_EQ(n.name, "a");
    EXPECT_EQ(n.addr, addr(1));
    EXPECT_EQ(n.meta, meta);
    EXPECT_EQ(n.vsn, vsn);
    EXPECT_EQ(n.incarnation, 7u);
    EXPECT_EQ(n.state, State::Suspect);
    EXPECT_EQ(n.state_change, base::Instant{} + std::chrono::seconds(3));
    EXPECT_EQ(t.addr(*t.find("b")), (Address{base::Bytes(16, 1), 65535}));
    EXPECT_EQ(t.pmax(*t.find("b")), 5);

    t.set_where(*t.find("a"), addr(9, 1), vsn, {});
    EXPECT_EQ(t.addr(*t.find("a")), addr(9, 1));
    EXPECT_TRUE(t.meta(*t.find("a")).empty());
    EXPECT_EQ(pools->blobs.size(), 2u); // the old payload of "a" was released
}

TEST(MemberTable, StateChangeTimesKeepAQuarterSecondAndSaturate) {
    const base::Instant epoch = base::Instant{} + std::chrono::hours(1);
    MemberTable t(nullptr, epoch);
    MemberRec& r = t.insert("a", addr(1), {}, {}, 0, epoch);
    EXPECT_EQ(t.state_change(r), epoch);
    t.set_state(r, State::Dead, epoch + std::chrono::milliseconds(30'100));
    EXPECT_EQ(r.state(), State::Dead);
    EXPECT_EQ(t.state_change(r), epoch + std::chrono::seconds(30));
    t.set_state(r, State::Left, epoch - std::chrono::seconds(5)); // before the epoch: clamps
    EXPECT_EQ(t.state_change(r), epoch);
    t.set_state(r, State::Alive, epoch + std::chrono::hours(24 * 365 * 20));
    EXPECT_EQ(r.state(), State::Alive);
    EXPECT_EQ(t.state_change(r), epoch + std::chrono::milliseconds(250) * ((1 << 30) - 1));
}

TEST(MemberTable, TablesSharingPoolsShareOneCopy) {
    auto pools = std::make_shared<InternPools>();
    const MemberTable::Vsn vsn{1, 5, 2, 0, 0, 0};
    {
        MemberTable x(pools, base::Instant{}), y(pools, base::Instant{});
        for (std::uint8_t i = 0; i < 50; ++i) {
            x.insert("node-" + std::to_string(i), addr(i), vsn, {}, 0, base::Instant{});
            y.insert("node-" + std::to_string(i), addr(i), vsn, {}, 0, base::Instant{});
        }
        EXPECT_EQ(pools->names.size(), 50u);
        EXPECT_EQ(pools->blobs.size(), 50u);
    }
    EXPECT_EQ(pools->names.size(), 0u); // both tables gave their references back
    EXPECT_EQ(pools->blobs.size(), 0u);
}

TEST(MemberTable, EraseAndShuffleKeepTheIndex) {
    MemberTable t(nullptr, base::Instant{});
    const MemberTable::Vsn vsn{};
    base::Rng rng(42);
    for (int i = 0; i < 100; ++i)
        t.insert("n" + std::to_string(i), addr(static_cast<std::uint8_t>(i)), vsn, {},
                 static_cast<std::size_t>(rng.below(static_cast<std::uint64_t>(i) + 1)), base::Instant{});
    for (int i = 0; i < 100; ++i) {
        const MemberRec* r = t.find("n" + std::to_string(i));
        ASSERT_NE(r, nullptr);
        EXPECT_EQ(t.addr(*r), addr(static_cast<std::uint8_t>(i)));
    }
    const std::size_t dropped = t.erase_if([&](const MemberRec& r) { return t.name(r).back() == '7'; });
    EXPECT_EQ(dropped, 10u);
    EXPECT_EQ(t.size(), 90u);
    t.shuffle(rng);
    for (int i = 0; i < 100; ++i) {
        const MemberRec* r = t.find("n" + std::to_string(i));
        if (i % 10 == 7) {
            EXPECT_EQ(r, nullptr);
            continue;
        }
        ASSERT_NE(r, nullptr);
        EXPECT_EQ(t.name(*r), "n" + std::to_string(i));
    }
    EXPECT_EQ(t.pools()->names.size(), 90u);
}

TEST(MemberTable, PrefetchIsSafeForEveryNameAndChangesNothing) {
    // A name held by another table sharing the pools (its id is beyond this table's index), an
    // unknown name, an erased one and present ones: every stage is a no-op for lookups.
    auto pools = std::make_shared<InternPools>();
    MemberTable t(pools, base::Instant{}), other(pools, base::Instant{});
    const MemberTable::Vsn vsn{1, 5, 2, 0, 0, 0};
    for (std::uint8_t i = 0; i < 20; ++i)
        t.insert("n" + std::to_string(i), addr(i), vsn, {}, 0, base::Instant{});
    other.insert("elsewhere", addr(99), vsn, {}, 0, base::Instant{});
    t.erase_if([&](const MemberRec& r) { return t.name(r) == "n3"; });
    std::vector<MemberTable::Prefetch> batch;
    for (const char* name : {"n0", "n3", "n19", "elsewhere", "unknown", ""})
        batch.push_back(MemberTable::Prefetch{name});
    for (int stage = 0; stage < MemberTable::kPrefetchStages; ++stage)
        for (auto& p : batch)
            t.prefetch(p, stage);
    EXPECT_EQ(t.size(), 19u);
    EXPECT_EQ(t.find("n3"), nullptr);
    EXPECT_EQ(t.find("elsewhere"), nullptr);
    ASSERT_NE(t.find("n19"), nullptr);
    EXPECT_EQ(t.addr(*t.find("n19")), addr(19));
}

// live() (num_alive) is kept as states change instead of counted: it must always equal the count.
TEST(MemberTable, LiveCountFollowsEveryChange) {
    MemberTable t(std::make_shared<InternPools>(), base::Instant{});
    base::Rng rng(7);
    const MemberTable::Vsn vsn{1, 5, 2, 0, 0, 0};
    auto counted = [&] {
        std::size_t n = 0;
        for (const MemberRec& r : t)
            n += r.dead_or_left() ? 0 : 1;
        return n;
    };
    std::size_t next = 0;
    for (int op = 0; op < 3000; ++op) {
        const auto kind = rng.below(10);
        if (kind < 3 || t.size() == 0) {
            MemberRec& r = t.insert("m" + std::to_string(next), addr(static_cast<std::uint8_t>(next)), vsn,
                                    {}, rng.below(t.size() + 1), base::Instant{});
            ++next;
            if (rng.below(2) == 0)
                t.set_state(r, State::Alive, base::Instant{});
        } else if (kind < 8) {
            MemberRec& r = t[rng.below(t.size())];
            t.set_state(r, static_cast<State>(rng.below(4)), base::Instant{});
        } else if (kind == 8) {
            t.erase_if([&](const MemberRec&) { return rng.below(8) == 0; });
        } else {
            t.shuffle(rng);
        }
        ASSERT_EQ(t.live(), counted()) << "op " << op;
    }
    MemberRec outside; // a record not in the table changes nothing
    t.set_state(outside, State::Alive, base::Instant{});
    EXPECT_EQ(t.live(), counted());
}

TEST(BroadcastQueue, NamedItemsStayIndexedAcrossSlotReuse) {
    BroadcastQueue q(4);
    for (int round = 0; round < 3; ++round) {
        for (int i = 0; i < 200; ++i)
            q.queue("n" + std::to_string(i), base::Bytes(10 + static_cast<std::size_t>(i % 7), 1));
        // Replacing by name keeps one item per name.
        for (int i = 0; i < 200; i += 2)
            q.queue("n" + std::to_string(i), base::Bytes(3, 2));
        EXPECT_EQ(q.size(), 200u);
        q.prune(50);
        EXPECT_EQ(q.size(), 50u);
        for (int i = 0; i < 200; ++i)
            q.queue("n" + std::to_string(i), base::Bytes(5, 3));
        EXPECT_EQ(q.size(), 200u);
        q.reset();
        EXPECT_EQ(q.size(), 0u);
    }
}

} // namespace
} // namespace clusterd::swim
