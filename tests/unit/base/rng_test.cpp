#include <gtest/gtest.h>

#include "clusterd/base/rng.hpp"

using clusterd::base::Rng;

TEST(Rng, SameSeedSameSequence) {
    Rng a(42), b(42), c(43);
    bool differs = false;
    for (int i = 0; i < 100; ++i) {
        auto x = a.next();
        EXPECT_EQ(x, b.next());
        differs |= (x != c.next());
    }
    EXPECT_TRUE(differs);
}

TEST(Rng, BelowStaysInRangeAndCoversIt) {
    Rng r(7);
    int seen[10] = {};
    for (int i = 0; i < 10000; ++i) {
        auto v = r.below(10);
        ASSERT_LT(v, 10u);
        seen[v]++;
    }
    for (int count : seen)
        EXPECT_GT(count, 800);
    EXPECT_EQ(r.below(0), 0u);
}

TEST(Rng, UnitInHalfOpenInterval) {
    Rng r(1);
    for (int i = 0; i < 1000; ++i) {
        double u = r.unit();
        ASSERT_GE(u, 0.0);
        ASSERT_LT(u, 1.0);
    }
}

TEST(Rng, ShuffleIsPermutation) {
    Rng r(3);
    std::vector<int> v{1, 2, 3, 4, 5, 6, 7, 8};
    auto orig = v;
    r.shuffle(v);
    std::sort(v.begin(), v.end());
    EXPECT_EQ(v, orig);
}
