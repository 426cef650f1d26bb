// Unit tests for Vivaldi coordinates and the estimator (the spirit of Serf's coordinate tests).
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "clusterd/coord/client.hpp"
#include "clusterd/coord/coordinate.hpp"

using namespace clusterd;
using namespace std::chrono_literals;

namespace {
double secs(base::Duration d) {
    return static_cast<double>(d.count()) / 1e9;
}
} // namespace

TEST(Coordinate, FreshMatchesSerfDefaults) {
    coord::Config cfg;
    auto c = coord::Coordinate::fresh(cfg);
    EXPECT_EQ(c.vec.size(), 8u);
    for (double x : c.vec)
        EXPECT_EQ(x, 0.0);
    EXPECT_DOUBLE_EQ(c.error, 1.5);
    EXPECT_DOUBLE_EQ(c.height, 1e-5);
    EXPECT_EQ(c.adjustment, 0.0);
    EXPECT_TRUE(c.is_valid());
}

TEST(Coordinate, ValidityAndCompatibility) {
    coord::Config cfg;
    auto c = coord::Coordinate::fresh(cfg);
    auto d = c;
    d.vec[3] = std::nan("");
    EXPECT_FALSE(d.is_valid());
    d = c;
    d.height = INFINITY;
    EXPECT_FALSE(d.is_valid());
    cfg.dimensionality = 3;
    EXPECT_FALSE(c.is_compatible_with(coord::Coordinate::fresh(cfg)));
}

TEST(Coordinate, DistanceIncludesHeightsAndAdjustments) {
    coord::Config cfg;
    cfg.dimensionality = 3;
    auto a = coord::Coordinate::fresh(cfg);
    auto b = coord::Coordinate::fresh(cfg);
    a.vec = {-0.5, 1.3, 2.4};
    b.vec = {1.2, -2.3, 3.4};
    double raw = std::sqrt(1.7 * 1.7 + 3.6 * 3.6 + 1.0 * 1.0);
    EXPECT_NEAR(secs(a.distance_to(b)), raw + 2e-5, 1e-9);
    a.adjustment = 0.1;
    b.adjustment = 0.2;
    EXPECT_NEAR(secs(a.distance_to(b)), raw + 2e-5 + 0.3, 1e-9);
    // Negative adjustments that would make the distance non-positive are ignored.
    a.adjustment = -100;
    EXPECT_NEAR(secs(a.distance_to(b)), raw + 2e-5, 1e-9);
}

TEST(Coordinate, ApplyForceMovesAlongUnitVectorAndAdjustsHeight) {
    coord::Config cfg;
    cfg.dimensionality = 3;
    base::Rng rng(7);
    auto origin = coord::Coordinate::fresh(cfg);
    auto above = origin;
    above.vec = {0.0, 0.0, 2.9};
    // Pushing the origin away from a point above moves it straight down.
    auto c = origin.apply_force(cfg, 5.3, above, rng);
    EXPECT_NEAR(c.vec[2], -5.3, 1e-12);
    EXPECT_NEAR(c.vec[0], 0.0, 1e-12);
    // Height: (h1+h2)*force/mag + h1.
    EXPECT_NEAR(c.height, (1e-5 + 1e-5) * 5.3 / 2.9 + 1e-5, 1e-12);
    // Pulling hard cannot push the height below the minimum.
    auto d = origin.apply_force(cfg, -100.0, above, rng);
    EXPECT_DOUBLE_EQ(d.height, cfg.height_min);
    // Coincident points: a random unit direction, height unchanged.
    auto e = origin.apply_force(cfg, 1.0, origin, rng);
    double mag = std::sqrt(e.vec[0] * e.vec[0] + e.vec[1] * e.vec[1] + e.vec[2] * e.vec[2]);
    EXPECT_NEAR(mag, 1.0, 1e-9);
    EXPECT_DOUBLE_EQ(e.height, origin.height);
}

TEST(Client, UpdateMovesAwayWhenRttLongerThanExpected) {
    coord::Config cfg;
    cfg.dimensionality = 3;
    coord::Client client(cfg);
    auto other = coord::Coordinate::fresh(cfg);
    other.vec[2] = 0.001;
    auto r = client.update("node", other, base::Duration(2'000'000)); // 2 ms
    ASSERT_TRUE(r.ok());
    EXPECT_LT(r->vec[2], 0.0);
    auto c = client.coordinate();
    c.vec[2] = 99.0;
    ASSERT_TRUE(client.set_coordinate(c).ok());
    EXPECT_DOUBLE_EQ(client.coordinate().vec[2], 99.0);
}

TEST(Client, RejectsBadInput) {
    coord::Client client;
    auto other = coord::Coordinate::fresh(client.config());
    EXPECT_EQ(client.update("n", other, -1ns).error().code, "bad_rtt");
    EXPECT_EQ(client.update("n", other, 11s).error().code, "bad_rtt");
    auto bad = other;
    bad.vec[0] = std::nan("");
    EXPECT_EQ(client.update("n", bad, 1ms).error().code, "invalid");
    coord::Config three;
    three.dimensionality = 3;
    EXPECT_EQ(client.update("n", coord::Coordinate::fresh(three), 1ms).error().code, "incompatible");
    EXPECT_FALSE(client.set_coordinate(bad).ok());
    EXPECT_EQ(client.coordinate(), coord::Coordinate::fresh(client.config()));
}

TEST(Client, LatencyFilterTakesMedianPerNode) {
    // With a huge outlier in a window of 3, the median keeps the update identical to one without it.
    coord::Config cfg;
    cfg.dimensionality = 2;
    auto other = coord::Coordinate::fresh(cfg);
    other.vec = {0.01, 0.0};
    coord::Client a(cfg, 5), b(cfg, 5);
    for (auto rtt : {20ms, 20ms}) {
        ASSERT_TRUE(a.update("x", other, rtt).ok());
        ASSERT_TRUE(b.update("x", other, rtt).ok());
    }
    ASSERT_TRUE(a.update("x", other, 9s).ok());   // outlier: median of {20,20,9000} = 20
    ASSERT_TRUE(b.update("x", other, 20ms).ok()); // no outlier
    EXPECT_NEAR(a.coordinate().vec[0], b.coordinate().vec[0], 1e-12);
    // Different nodes are not coupled, and forget_node drops the history.
    a.forget_node("x");
    coord::Client c(cfg, 5);
    ASSERT_TRUE(c.update("y", other, 9s).ok());
    EXPECT_GT(std::fabs(c.coordinate().vec[0]), 0.1);
}

TEST(Client, CallerKeptWindowFiltersLikeTheNamedPeer) {
    // The compact peer table keeps each peer's samples itself: the same RTT sequence (outliers
    // included, more samples than the window) must move the coordinate exactly as the named form.
    coord::Config cfg;
    cfg.dimensionality = 3;
    auto other = coord::Coordinate::fresh(cfg);
    other.vec = {0.004, -0.002, 0.001};
    coord::Client named(cfg, 9), windowed(cfg, 9);
    std::vector<double> window(cfg.latency_filter_size, 0.0);
    std::uint32_t count = 0;
    for (auto rtt : {3ms, 4ms, 900ms, 5ms, 2ms, 2ms, 7000ms, 3ms}) {
        ASSERT_TRUE(named.update("x", other, rtt).ok());
        ASSERT_TRUE(windowed.update(window, count, other, rtt).ok());
        EXPECT_EQ(named.coordinate(), windowed.coordinate());
    }
    EXPECT_EQ(count, cfg.latency_filter_size);
    // The window holds the last three samples, oldest first.
    EXPECT_DOUBLE_EQ(window[0], 0.002);
    EXPECT_DOUBLE_EQ(window[1], 7.0);
    EXPECT_DOUBLE_EQ(window[2], 0.003);
    // Bad input leaves the window alone.
    EXPECT_EQ(windowed.update(window, count, other, 11s).error().code, "bad_rtt");
    EXPECT_DOUBLE_EQ(window[2], 0.003);
}

TEST(Client, ConvergesOnALine) {
    // Five nodes on a line 10 ms apart: after many rounds predicted RTTs are close to the truth.
    coord::Config cfg;
    const int n = 5;
    std::vector<coord::Client> clients;
    for (int i = 0; i < n; ++i)
        clients.emplace_back(cfg, 100 + i);
    base::Rng rng(3);
    for (int round = 0; round < 2000; ++round) {
        for (int i = 0; i < n; ++i) {
            int j = static_cast<int>(rng.below(n));
            if (j == i)
                continue;
            auto truth = base::Duration(static_cast<std::int64_t>(std::abs(i - j)) * 10'000'000);
            ASSERT_TRUE(clients[i].update("n" + std::to_string(j), clients[j].coordinate(), truth).ok());
        }
    }
    for (int i = 0; i < n; ++i)
        for (int j = 0; j < n; ++j) {
            if (i == j)
                continue;
            double est = secs(clients[i].coordinate().distance_to(clients[j].coordinate()));
            double truth = std::abs(i - j) * 0.010;
            EXPECT_NEAR(est, truth, 0.005) << i << "->" << j;
        }
    for (auto& c : clients)
        EXPECT_LT(c.coordinate().error, 0.5);
}
