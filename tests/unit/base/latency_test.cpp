#include "clusterd/base/latency.hpp"

#include <gtest/gtest.h>

using namespace clusterd::base;
using namespace std::chrono_literals;

TEST(LatencyHistogram, EmptyIsZero) {
    LatencyHistogram h;
    EXPECT_EQ(h.count(), 0u);
    EXPECT_EQ(h.quantile_us(0.99), 0u);
    EXPECT_EQ(h.max_us(), 0u);
}

TEST(LatencyHistogram, QuantilesWithinAFactorOfTwoAndExactMax) {
    LatencyHistogram h;
    for (int i = 0; i < 990; ++i)
        h.record(100us);
    for (int i = 0; i < 10; ++i)
        h.record(50ms);
    h.record(-5us); // a timer that fired early counts as zero lateness
    EXPECT_EQ(h.count(), 1001u);
    const auto p50 = h.quantile_us(0.5);
    EXPECT_GE(p50, 100u);
    EXPECT_LT(p50, 200u);
    const auto p99 = h.quantile_us(0.99);
    EXPECT_GE(p99, 100u);
    EXPECT_LT(p99, 200u);
    const auto p999 = h.quantile_us(0.999);
    EXPECT_GE(p999, 50000u);
    EXPECT_LE(p999, 50000u); // capped by the exact maximum
    EXPECT_EQ(h.max_us(), 50000u);
    h.reset();
    EXPECT_EQ(h.count(), 0u);
}

TEST(LatencyHistogram, HugeValuesLandInTheLastBucket) {
    LatencyHistogram h;
    h.record(Duration::max());
    EXPECT_EQ(h.count(), 1u);
    EXPECT_EQ(h.quantile_us(1.0), h.max_us());
}
