// Go duration syntax: the values Go's time.ParseDuration accepts and rejects, and Duration.String.
#include <gtest/gtest.h>

#include "clusterd/config/duration.hpp"

using namespace clusterd;
using config::format_go_duration;
using config::parse_go_duration;
using namespace std::chrono_literals;

TEST(GoDuration, ParsesUnitsAndCombinations) {
    EXPECT_EQ(*parse_go_duration("30s"), 30s);
    EXPECT_EQ(*parse_go_duration("24h"), 24h);
    EXPECT_EQ(*parse_go_duration("1h30m"), 90min);
    EXPECT_EQ(*parse_go_duration("250ms"), 250ms);
    EXPECT_EQ(*parse_go_duration("1.5s"), 1500ms);
    EXPECT_EQ(*parse_go_duration(".5s"), 500ms);
    EXPECT_EQ(*parse_go_duration("10us"), 10us);
    EXPECT_EQ(*parse_go_duration("10\xC2\xB5s"), 10us);
    EXPECT_EQ(*parse_go_duration("7ns"), 7ns);
    EXPECT_EQ(*parse_go_duration("0"), 0ns);
    EXPECT_EQ(*parse_go_duration("-2m"), -120s);
    EXPECT_EQ(*parse_go_duration("+1h1m1s"), 3661s);
    EXPECT_EQ(*parse_go_duration("1.5h"), 90min);
}

TEST(GoDuration, RejectsJunk) {
    for (const char* bad : {"", "30", "s", "1x", "1.s.", "abc", "1h 30m", "-", "1..5s", "3000000h"}) {
        auto r = parse_go_duration(bad);
        EXPECT_FALSE(r.ok()) << bad;
        if (!r.ok()) {
            EXPECT_EQ(r.error().code, "bad_duration");
        }
    }
}

TEST(GoDuration, FormatsLikeGo) {
    EXPECT_EQ(format_go_duration(0s), "0s");
    EXPECT_EQ(format_go_duration(30s), "30s");
    EXPECT_EQ(format_go_duration(24h), "24h0m0s");
    EXPECT_EQ(format_go_duration(90min), "1h30m0s");
    EXPECT_EQ(format_go_duration(1500ms), "1.5s");
    EXPECT_EQ(format_go_duration(500ms), "500ms");
    EXPECT_EQ(format_go_duration(10us), "10\xC2\xB5s");
    EXPECT_EQ(format_go_duration(7ns), "7ns");
    EXPECT_EQ(format_go_duration(-61s), "-1m1s");
}

TEST(GoDuration, RoundTrips) {
    for (base::Duration d : std::initializer_list<base::Duration>{1ns, 999ns, 1us, 1ms, 1s, 59s, 61s, 3601s,
                                                                  36h, 1234567891ns}) {
        auto parsed = parse_go_duration(format_go_duration(d));
        ASSERT_TRUE(parsed.ok()) << format_go_duration(d);
        EXPECT_EQ(*parsed, d);
    }
}
