#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>

#include "clusterd/metrics/registry.hpp"
#include "unit/metrics/exposition_parser.hpp"

using namespace clusterd;
using namespace clusterd::metrics;
using clusterd::testing::parse_exposition;

namespace {

Registry sample_registry() {
    Registry r;
    r.counter("serf_member_join", "Members that joined.").inc();
    auto& ev = r.counter("serf_events", "User events received, by name.", {"name"});
    ev.inc({"deploy"}, 3);
    ev.inc({"we\"ird\\na\nme"}, 1);
    r.gauge("memberlist_health_score", "Lifeguard awareness.").set(2);
    auto& h = r.histogram("memberlist_probe_node_seconds", "Probe duration.", {0.001, 0.01, 0.1, 1});
    h.observe(0.0005);
    h.observe(0.005);
    h.observe(0.05);
    h.observe(0.05);
    h.observe(7);
    r.gauge("empty_gauge", "No series.\nSecond \\ line.");
    return r;
}

} // namespace

TEST(MetricsRegistry, CountersNeverGoDown) {
    Registry r;
    auto& c = r.counter("c", "help");
    c.inc({}, 5);
    c.inc({}, -3);
    c.inc({}, std::nan(""));
    EXPECT_EQ(c.find({})->value, 5);
    c.set({}, 1); // wrong type: ignored
    EXPECT_EQ(c.find({})->value, 5);
}

TEST(MetricsRegistry, SyncFollowsASourceAndSurvivesItsRestart) {
    Registry r;
    auto& c = r.counter("c", "help", {"k"});
    c.sync({"a"}, 10);
    c.sync({"a"}, 15);
    EXPECT_EQ(c.find({"a"})->value, 15);
    c.sync({"a"}, 15);
    EXPECT_EQ(c.find({"a"})->value, 15);
    c.sync({"a"}, 4); // the source restarted from 0 and counted 4 since
    EXPECT_EQ(c.find({"a"})->value, 19);
    c.sync({"a"}, 6);
    EXPECT_EQ(c.find({"a"})->value, 21);
}

TEST(MetricsRegistry, LabelCardinalityIsCapped) {
    Registry r;
    auto& c = r.counter("serf_events", "help", {"name"}).cap("name", 3);
    for (int i = 0; i < 100; ++i)
        c.inc({"ev" + std::to_string(i)});
    c.inc({"ev1"});
    EXPECT_EQ(c.series().size(), 4u);
    EXPECT_EQ(c.find({"ev1"})->value, 2);
    EXPECT_EQ(c.find({"other"})->value, 97);
    EXPECT_EQ(c.find({"ev50"}), nullptr);
}

TEST(MetricsRegistry, LabelValuesAreValidUtf8AndBounded) {
    EXPECT_EQ(clean_label_value("ok \xC3\xA9"), "ok \xC3\xA9");
    EXPECT_EQ(clean_label_value("a\xFF"
                                "b"),
              "a?b");
    EXPECT_EQ(clean_label_value("\xC3"), "?");           // truncated sequence
    EXPECT_EQ(clean_label_value("\xC0\xAF"), "??");      // overlong
    EXPECT_EQ(clean_label_value("\xED\xA0\x80"), "???"); // surrogate
    EXPECT_EQ(clean_label_value(std::string(500, 'x')).size(), kMaxLabelValueBytes);
    std::string euro;
    for (int i = 0; i < 60; ++i)
        euro += "\xE2\x82\xAC";
    auto cut = clean_label_value(euro);
    EXPECT_LE(cut.size(), kMaxLabelValueBytes);
    EXPECT_EQ(cut.size() % 3, 0u); // never cut inside a character
}

TEST(MetricsRegistry, BadNamesAreRefused) {
    Registry r;
    EXPECT_THROW(r.counter("9bad", "h"), std::invalid_argument);
    EXPECT_THROW(r.counter("a-b", "h"), std::invalid_argument);
    EXPECT_THROW(r.counter("x_total", "h"), std::invalid_argument);
    EXPECT_THROW(r.gauge("g", "h", {"__reserved"}), std::invalid_argument);
    EXPECT_THROW(r.histogram("h", "h", {1, 2}, {"le"}), std::invalid_argument);
    EXPECT_THROW(r.histogram("h2", "h", {2, 1}), std::invalid_argument);
    EXPECT_THROW(r.histogram("h3", "h", {1, INFINITY}), std::invalid_argument);
    r.gauge("g", "h");
    EXPECT_THROW(r.counter("g", "h"), std::invalid_argument);
    auto& g2 = r.gauge("g2", "h", {"a"});
    g2.set({"x", "y"}, 1); // wrong label count: ignored
    EXPECT_TRUE(g2.series().empty());
}

TEST(MetricsExposition, NumbersAsBothFormatsWriteThem) {
    EXPECT_EQ(format_value(0), "0");
    EXPECT_EQ(format_value(42), "42");
    EXPECT_EQ(format_value(-3), "-3");
    EXPECT_EQ(format_value(0.25), "0.25");
    EXPECT_EQ(format_value(INFINITY), "+Inf");
    EXPECT_EQ(format_value(-INFINITY), "-Inf");
    EXPECT_EQ(format_value(NAN), "NaN");
    EXPECT_EQ(std::stod(format_value(1e-7)), 1e-7);
}

TEST(MetricsExposition, PrometheusTextParsesBackStrictly) {
    auto r = sample_registry();
    const std::string text = render_prometheus(r);
    auto p = parse_exposition(text, false);
    ASSERT_NE(p.family("serf_member_join_total"), nullptr) << text;
    EXPECT_EQ(p.family("serf_member_join_total")->type, "counter");
    EXPECT_EQ(p.value("serf_member_join_total"), 1);
    EXPECT_EQ(p.value("serf_events_total", {{"name", "deploy"}}), 3);
    EXPECT_EQ(p.value("serf_events_total", {{"name", "we\"ird\\na\nme"}}), 1) << text;
    EXPECT_NE(text.find(R"(name="we\"ird\\na\nme")"), std::string::npos) << text;
    EXPECT_EQ(p.value("memberlist_health_score"), 2);
    EXPECT_EQ(p.family("empty_gauge")->help, "No series.\nSecond \\ line.");
    EXPECT_NE(text.find("# HELP empty_gauge No series.\\nSecond \\\\ line.\n"), std::string::npos) << text;
    // histogram: cumulative buckets, +Inf, _sum, _count
    EXPECT_EQ(p.value("memberlist_probe_node_seconds_bucket", {{"le", "0.001"}}), 1) << text;
    EXPECT_EQ(p.value("memberlist_probe_node_seconds_bucket", {{"le", "0.01"}}), 2);
    EXPECT_EQ(p.value("memberlist_probe_node_seconds_bucket", {{"le", "0.1"}}), 4);
    EXPECT_EQ(p.value("memberlist_probe_node_seconds_bucket", {{"le", "1.0"}}), 4);
    EXPECT_EQ(p.value("memberlist_probe_node_seconds_bucket", {{"le", "+Inf"}}), 5);
    EXPECT_EQ(p.value("memberlist_probe_node_seconds_count"), 5);
    EXPECT_DOUBLE_EQ(p.value("memberlist_probe_node_seconds_sum"), 7.1055);
    EXPECT_EQ(text.find("# EOF"), std::string::npos);
    EXPECT_EQ(kPrometheusContentType, "text/plain; version=0.0.4; charset=utf-8");
}

TEST(MetricsExposition, OpenMetricsParsesBackStrictly) {
    auto r = sample_registry();
    const std::string text = render_openmetrics(r);
    auto p = parse_exposition(text, true);
    ASSERT_NE(p.family("serf_member_join"), nullptr) << text;
    EXPECT_EQ(p.family("serf_member_join")->type, "counter");
    EXPECT_EQ(p.value("serf_member_join_total"), 1);
    EXPECT_EQ(p.value("serf_events_total", {{"name", "we\"ird\\na\nme"}}), 1);
    EXPECT_EQ(p.value("memberlist_probe_node_seconds_bucket", {{"le", "+Inf"}}), 5);
    EXPECT_EQ(text.substr(text.size() - 6), "# EOF\n");
    EXPECT_EQ(kOpenMetricsContentType, "application/openmetrics-text; version=1.0.0; charset=utf-8");
}

TEST(MetricsExposition, TheParserCatchesBrokenText) {
    // each must be refused: the strict parser is what the exposition tests lean on
    const char* bad_prom[] = {
        "# HELP a_total h\n# TYPE a_total counter\na_total -1\n", // negative counter
        "# HELP a h\n# TYPE a gauge\na{x=\"1\"\" 1\n",            // bad quoting
        "# HELP a h\n# TYPE a gauge\na{x=\"\\q\"} 1\n",           // bad escape
        "# HELP a h\n# TYPE a gauge\nb 1\n",                      // foreign sample
        "# TYPE a gauge\na 1\n",                                  // no HELP
        ("# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1.0\"} 2\nh_bucket{le=\"+Inf\"} 1\n"
         "h_sum 1\nh_count 1\n"),                                                        // decreasing
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"1.0\"} 1\nh_sum 1\nh_count 1\n",  // no +Inf
        "# HELP h h\n# TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 2\n", // count differs
        "# HELP a h\n# TYPE a gauge\na 1\n# EOF\n",                                      // EOF in 0.0.4
        "# HELP a_total h\n# TYPE a_total counter\na 1\n",                               // sample name
    };
    for (const char* t : bad_prom)
        EXPECT_THROW(parse_exposition(t, false), std::runtime_error) << t;
    EXPECT_THROW(parse_exposition("# HELP a h\n# TYPE a gauge\na 1\n", true), std::runtime_error); // no EOF
    EXPECT_THROW(parse_exposition("# HELP a_total h\n# TYPE a_total counter\na_total 1\n# EOF\n", true),
                 std::runtime_error);
    EXPECT_NO_THROW(parse_exposition("# HELP a h\n# TYPE a counter\na_total 1\n# EOF\n", true));
}

TEST(MetricsExposition, LatencyHistogramFoldsIntoPowerOfTwoBounds) {
    Registry r;
    auto& h = r.histogram("probe_seconds", "h", power_of_two_bounds(10, 4)); // 1.024 ms .. 8.192 ms
    base::LatencyHistogram lat;
    lat.record(std::chrono::microseconds(100));  // -> first bound
    lat.record(std::chrono::microseconds(1500)); // < 2048 us -> second
    lat.record(std::chrono::microseconds(2047)); // second
    lat.record(std::chrono::microseconds(2048)); // third
    lat.record(std::chrono::seconds(3));         // +Inf
    h.set_latency({}, lat);
    const Series* s = h.find({});
    ASSERT_NE(s, nullptr);
    EXPECT_EQ(s->buckets, (std::vector<std::uint64_t>{1, 2, 1, 0, 1}));
    EXPECT_EQ(s->count, 5u);
    EXPECT_DOUBLE_EQ(s->sum, (100 + 1500 + 2047 + 2048 + 3000000) / 1e6);
    auto p = parse_exposition(render_prometheus(r), false);
    EXPECT_EQ(p.value("probe_seconds_bucket", {{"le", "+Inf"}}), 5);
}

TEST(MetricsStatsd, LinesAsGoMetricsWritesThem) {
    Registry r;
    auto& join = r.counter("serf_member_join", "h").statsd("serf.member.join");
    auto& ev = r.counter("serf_events", "h", {"name"}).statsd("serf.events").statsd_total();
    auto& health = r.gauge("memberlist_health_score", "h").statsd("memberlist.health.score");
    auto& adj = r.histogram("serf_coordinate_adjustment_seconds", "h", {0.001, 0.01})
                    .statsd("serf.coordinate.adjustment-ms", 1000);
    join.inc({}, 2);
    ev.inc({"de ploy:x|y\n"}, 1);
    ev.inc({"b"}, 2);
    health.set(3);
    adj.observe(0.002);
    adj.observe(0.004);
    StatsdOptions o;
    o.hostname = "host1";
    StatsdState st;
    auto lines = encode_statsd(r, o, st);
    ASSERT_EQ(lines.size(), 6u);
    EXPECT_EQ(lines[0], "serf-agent.serf.member.join:2.000000|c\n");
    EXPECT_EQ(lines[1], "serf-agent.serf.events:3.000000|c\n"); // the total, as Serf also sends it
    EXPECT_EQ(lines[2], "serf-agent.serf.events.b:2.000000|c\n");
    EXPECT_EQ(lines[3], "serf-agent.serf.events.de_ploy_x_y_:1.000000|c\n");
    EXPECT_EQ(lines[4], "serf-agent.host1.memberlist.health.score:3.000000|g\n");
    EXPECT_EQ(lines[5], "serf-agent.serf.coordinate.adjustment-ms:3.000000|ms\n");
    // the next push carries only what changed: increments and new samples
    join.inc({}, 5);
    ev.inc({"b"}, 1);
    lines = encode_statsd(r, o, st);
    ASSERT_EQ(lines.size(), 4u);
    EXPECT_EQ(lines[0], "serf-agent.serf.member.join:5.000000|c\n");
    EXPECT_EQ(lines[1], "serf-agent.serf.events:1.000000|c\n");
    EXPECT_EQ(lines[2], "serf-agent.serf.events.b:1.000000|c\n");
    EXPECT_EQ(lines[3], "serf-agent.host1.memberlist.health.score:3.000000|g\n");
}

TEST(MetricsStatsd, DatagramsStayUnderTheLimit) {
    std::vector<std::string> lines;
    for (int i = 0; i < 100; ++i)
        lines.push_back("serf-agent.key" + std::to_string(i) + ":1.000000|c\n");
    auto dgrams = pack_datagrams(lines, 1400);
    std::string joined;
    for (const auto& d : dgrams) {
        EXPECT_LE(d.size(), 1400u);
        EXPECT_EQ(d.back(), '\n');
        joined += d;
    }
    std::string all;
    for (const auto& l : lines)
        all += l;
    EXPECT_EQ(joined, all);
    EXPECT_GT(dgrams.size(), 1u);
}
