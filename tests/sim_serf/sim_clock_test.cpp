// Simulator per-node clocks (sim::NodeClock, set_clock_rate): a host sees only its local
// clock, its deadlines are mapped back to global time exactly (never early), the clock stays
// continuous across a rate change and a restart, and the default clock is the global one.
#include <gtest/gtest.h>

#include <vector>

#include "clusterd/sim/simulator.hpp"

using namespace clusterd;
using namespace std::chrono_literals;

namespace {
/// Asks for a timeout every `period` of its local time and records what it was given.
class TickHost final : public sim::SimHost {
  public:
    TickHost(base::Instant now, base::Duration period) : next_(now + period), period_(period) {}
    void handle_packet(const swim::Address&, base::ByteView, base::Instant) override {}
    void handle_timeout(base::Instant now) override {
        if (now < next_)
            ++early;
        else {
            late = std::max(late, now - next_);
            ticks.push_back(now);
            next_ = next_ + period_;
        }
    }
    base::Instant next_deadline() const override { return next_; }
    std::optional<swim::Transmit> poll_transmit() override { return std::nullopt; }
    base::Result<base::Bytes> handle_stream_request(const swim::Address&, base::ByteView,
                                                    base::Instant) override {
        return base::Bytes{};
    }
    void handle_stream_reply(std::uint64_t, base::ByteView, base::Instant) override {}
    void stream_failed(std::uint64_t, base::Instant, std::string_view, swim::StreamFailure) override {}

    std::vector<base::Instant> ticks;
    int early = 0;
    base::Duration late{0};

  private:
    base::Instant next_;
    base::Duration period_;
};

sim::Simulator::HostFactory ticker(base::Duration period) {
    return [period](std::size_t, const swim::Address&, std::uint64_t, base::Instant now) {
        return std::make_unique<TickHost>(now, period);
    };
}
} // namespace

TEST(SimClock, OffsetAndRateAreWhatTheHostSees) {
    sim::Simulator s(1);
    const std::size_t plain = s.add_node(ticker(1s));
    const std::size_t fast = s.add_node(ticker(1s), sim::NodeClock{1000s, 100000}); // +10 %
    const std::size_t slow = s.add_node(ticker(1s), sim::NodeClock{7s, -50000});    // -5 %
    s.run_for(100s);
    EXPECT_EQ(s.local_now(plain), s.now());
    EXPECT_EQ(s.local_now(fast), base::Instant{1000s + 110s});
    EXPECT_EQ(s.local_now(slow), base::Instant{7s + 95s});
    auto* p = s.host_as<TickHost>(plain);
    auto* f = s.host_as<TickHost>(fast);
    auto* w = s.host_as<TickHost>(slow);
    EXPECT_EQ(p->ticks.size(), 100u);
    EXPECT_EQ(f->ticks.size(), 110u);
    EXPECT_EQ(w->ticks.size(), 95u);
    for (auto* h : {p, f, w}) {
        EXPECT_EQ(h->early, 0);  // never woken before its deadline
        EXPECT_LE(h->late, 2ns); // and at most rounding late
    }
}

TEST(SimClock, RateChangeKeepsTheClockContinuousAndSurvivesRestart) {
    sim::Simulator s(2);
    const std::size_t n = s.add_node(ticker(100ms), sim::NodeClock{50s, 0});
    s.run_for(10s);
    EXPECT_EQ(s.local_now(n), base::Instant{60s});
    s.set_clock_rate(n, 200000); // +20 % from here on
    s.run_for(10s);
    EXPECT_EQ(s.local_now(n), base::Instant{72s});
    EXPECT_EQ(s.clock_rate(n), 200000);
    auto* h = s.host_as<TickHost>(n);
    EXPECT_EQ(h->early, 0);
    EXPECT_EQ(h->ticks.size(), 220u);
    s.restart(n); // the machine's clock, not the process's
    s.run_for(5s);
    EXPECT_EQ(s.local_now(n), base::Instant{78s});
    EXPECT_EQ(s.host_as<TickHost>(n)->ticks.size(), 60u);
    EXPECT_EQ(s.host_as<TickHost>(n)->early, 0);
}

TEST(SimClock, OnStepSeesEveryHandledEvent) {
    sim::Simulator s(3);
    std::vector<std::size_t> steps(2);
    s.on_step = [&](std::size_t i) { ++steps[i]; };
    s.add_node(ticker(1s));
    s.add_node(ticker(500ms));
    s.run_for(10s);
    EXPECT_EQ(steps[0], 10u);
    EXPECT_EQ(steps[1], 20u);
}
