// Query timeout/filters/collector and snapshot records.
#include <gtest/gtest.h>

#include "clusterd/serf/query.hpp"
#include "clusterd/serf/snapshot.hpp"

using namespace clusterd;
using namespace clusterd::serf;
using namespace std::chrono_literals;

TEST(Query, DefaultTimeoutFormula) {
    // LAN gossip interval 200ms * 16 * ceil(log10(n+1)).
    EXPECT_EQ(default_query_timeout(200ms, 1), 200ms * 16 * 1);
    EXPECT_EQ(default_query_timeout(200ms, 9), 200ms * 16 * 1);
    EXPECT_EQ(default_query_timeout(200ms, 10), 200ms * 16 * 2);
    EXPECT_EQ(default_query_timeout(200ms, 100), 200ms * 16 * 3);
    EXPECT_EQ(default_query_timeout(500ms, 3, 10), 5s);
}

TEST(Query, NodeFilterIsExact) {
    std::vector<wire::QueryFilter> f{wire::FilterNodes{{"foo", "bar"}}};
    EXPECT_TRUE(filters_match(f, "foo", {}));
    EXPECT_FALSE(filters_match(f, "fo", {}));
    EXPECT_FALSE(filters_match(f, "foobar", {}));
    EXPECT_TRUE(filters_match({}, "anything", {}));
}

TEST(Query, TagFilterIsUnanchoredRegex) {
    std::map<std::string, std::string> tags{{"role", "webserver"}, {"dc", "east-1"}};
    EXPECT_TRUE(filters_match({wire::FilterTag{"role", "web"}}, "n", tags)); // substring
    EXPECT_TRUE(filters_match({wire::FilterTag{"role", "^web.*r$"}}, "n", tags));
    EXPECT_FALSE(filters_match({wire::FilterTag{"role", "^db"}}, "n", tags));
    EXPECT_TRUE(filters_match({wire::FilterTag{"role", "(?i)WEB"}}, "n", tags));
    EXPECT_FALSE(filters_match({wire::FilterTag{"role", "WEB"}}, "n", tags));
    // Missing tag is matched as the empty string.
    EXPECT_TRUE(filters_match({wire::FilterTag{"missing", ".*"}}, "n", tags));
    EXPECT_FALSE(filters_match({wire::FilterTag{"missing", "."}}, "n", tags));
    // Invalid regex never matches.
    EXPECT_FALSE(filters_match({wire::FilterTag{"role", "(web"}}, "n", tags));
    // Go's (RE2's) syntax, not ECMAScript's: Unicode classes, \z, inline flags mid-pattern;
    // `\C` is refused as Go refuses it; (?<n>) is not Go 1.19 syntax.
    EXPECT_TRUE(filters_match({wire::FilterTag{"dc", "^\\pL+-\\d\\z"}}, "n", tags));
    EXPECT_TRUE(filters_match({wire::FilterTag{"role", "web(?i)SERVER"}}, "n", tags));
    EXPECT_FALSE(filters_match({wire::FilterTag{"role", "w\\Cb"}}, "n", tags));
    EXPECT_FALSE(filters_match({wire::FilterTag{"role", "(?<x>web)"}}, "n", tags));
    // A huge tag expression from the wire is refused, not compiled.
    EXPECT_FALSE(filters_match({wire::FilterTag{"role", std::string(100 * 1024, 'w')}}, "n", tags));
    // All filters must pass.
    std::vector<wire::QueryFilter> both{wire::FilterTag{"role", "web"}, wire::FilterTag{"dc", "west"}};
    EXPECT_FALSE(filters_match(both, "n", tags));
    std::vector<wire::QueryFilter> mixed{wire::FilterNodes{{"n"}}, wire::FilterTag{"dc", "east"}};
    EXPECT_TRUE(filters_match(mixed, "n", tags));
}

TEST(Query, CollectorDedupsAndHonoursDeadline) {
    base::Instant t{};
    QueryCollector q(5, 77, t + 1s, true);
    EXPECT_TRUE(q.add_ack("a", t));
    EXPECT_FALSE(q.add_ack("a", t));
    EXPECT_TRUE(q.add_response("a", t));
    EXPECT_FALSE(q.add_response("a", t + 10ms));
    EXPECT_EQ(q.duplicate_responses(), 1u);
    EXPECT_FALSE(q.add_response("b", t + 1s)); // at the deadline: closed
    EXPECT_EQ(q.responses().size(), 1u);
    QueryCollector noack(1, 1, t + 1s, false);
    EXPECT_FALSE(noack.add_ack("a", t));
}

TEST(Snapshot, ReplayAllLineKinds) {
    std::string text = "# a comment\n"
                       "alive: foo 127.0.0.1:5000\n"
                       "alive: bar baz 10.0.0.2:7946\n" // names may contain spaces: the LAST space splits
                       "alive: gone 10.0.0.3:7946\n"
                       "not-alive: gone\n"
                       "clock: 10\n"
                       "event-clock: 20\n"
                       "query-clock: 30\n"
                       "coordinate: {\"Vec\":[]}\n"
                       "clock: bogus\n"
                       "garbage line\n"
                       "alive: nospace\n"
                       "clock: 99"; // torn, no newline: ignored
    auto st = SnapshotState::replay(text, false);
    EXPECT_EQ(st.alive_nodes.size(), 2u);
    EXPECT_EQ(st.alive_nodes.at("foo"), "127.0.0.1:5000");
    EXPECT_EQ(st.alive_nodes.at("bar baz"), "10.0.0.2:7946");
    EXPECT_EQ(st.last_clock, 10u);
    EXPECT_EQ(st.last_event_clock, 20u);
    EXPECT_EQ(st.last_query_clock, 30u);
    EXPECT_EQ(st.unrecognized_lines, 3u);
    EXPECT_EQ(st.previous_nodes().size(), 2u);
}

TEST(Snapshot, LeaveClearsUnlessRejoin) {
    std::string text = "alive: a 1.2.3.4:5\nclock: 3\nevent-clock: 4\nleave\nclock: 5\n";
    auto wiped = SnapshotState::replay(text, false);
    EXPECT_TRUE(wiped.alive_nodes.empty());
    EXPECT_EQ(wiped.last_clock, 5u);
    EXPECT_EQ(wiped.last_event_clock, 0u);
    EXPECT_TRUE(wiped.saw_leave);
    auto kept = SnapshotState::replay(text, true);
    EXPECT_EQ(kept.alive_nodes.size(), 1u);
    EXPECT_EQ(kept.last_event_clock, 4u);
}

namespace {
Member member(const std::string& name, base::Bytes ip, std::uint16_t port) {
    Member m;
    m.name = name;
    m.addr = std::move(ip);
    m.port = port;
    return m;
}
} // namespace

TEST(Snapshot, RecorderProducesSerfLines) {
    SnapshotRecorder r(SnapshotState{}, 0, false);
    r.record_member_event(MemberEvent{EventType::MemberJoin, {member("a", {127, 0, 0, 1}, 7946)}}, 3);
    r.record_user_event(5);
    r.record_user_event(5); // not newer: nothing
    r.record_query(2);
    r.update_clock(3); // unchanged
    r.record_member_event(MemberEvent{EventType::MemberFailed, {member("a", {127, 0, 0, 1}, 7946)}}, 4);
    r.record_member_event(MemberEvent{EventType::MemberUpdate, {member("b", {127, 0, 0, 1}, 1)}}, 4);
    base::Bytes v6(16, 0);
    v6[15] = 1;
    r.record_member_event(MemberEvent{EventType::MemberJoin, {member("c", v6, 8000)}}, 4);
    r.record_leave();
    r.record_member_event(MemberEvent{EventType::MemberJoin, {member("d", {1, 1, 1, 1}, 1)}}, 9);
    EXPECT_EQ(r.drain(),
              "alive: a 127.0.0.1:7946\nclock: 2\nevent-clock: 5\nquery-clock: 2\nnot-alive: a\nclock: 3\n"
              "alive: c [::1]:8000\nleave\n");
    EXPECT_EQ(r.drain(), "");
    EXPECT_TRUE(r.state().alive_nodes.empty());
    // The recorded text replays to the same clocks.
    auto st = SnapshotState::replay("alive: a 127.0.0.1:7946\nclock: 2\nevent-clock: 5\n", false);
    EXPECT_EQ(st.last_event_clock, 5u);
}

TEST(Snapshot, CompactionDecisionAndContent) {
    SnapshotState st;
    st.alive_nodes["x"] = "10.0.0.1:7946";
    st.last_clock = 7;
    SnapshotRecorder r(st, 100, false, /*min_compact_size=*/200);
    EXPECT_EQ(r.max_size(), 256u); // 1 node * 128 * 2 > 200
    EXPECT_FALSE(r.compaction_due());
    for (LamportTime t = 1; t <= 20; ++t)
        r.record_user_event(t);
    EXPECT_TRUE(r.compaction_due());
    std::string c = r.compact();
    EXPECT_EQ(c, "alive: x 10.0.0.1:7946\nclock: 7\nevent-clock: 20\nquery-clock: 0\n");
    EXPECT_FALSE(r.compaction_due());
    EXPECT_EQ(r.drain(), "");
    auto back = SnapshotState::replay(c, false);
    EXPECT_EQ(back.alive_nodes, st.alive_nodes);
    EXPECT_EQ(back.last_event_clock, 20u);
}

TEST(Member, HostPortFormatting) {
    EXPECT_EQ(host_port({10, 1, 2, 3}, 7946), "10.1.2.3:7946");
    base::Bytes mapped(16, 0);
    mapped[10] = mapped[11] = 0xff;
    mapped[12] = 192;
    mapped[13] = 168;
    mapped[15] = 9;
    EXPECT_EQ(host_port(mapped, 1), "192.168.0.9:1");
    base::Bytes v6{0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    EXPECT_EQ(host_port(v6, 80), "[2001:db8::1]:80");
    base::Bytes v6b{0x20, 0x01, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    EXPECT_EQ(host_port(v6b, 80), "[2001:0:1::]:80");
}

TEST(Member, ParseHostPort) {
    auto v4 = parse_host_port("10.1.2.3:7946");
    ASSERT_TRUE(v4.has_value());
    EXPECT_EQ(v4->first, (base::Bytes{10, 1, 2, 3}));
    EXPECT_EQ(v4->second, 7946);
    auto v6 = parse_host_port("[2001:db8::1]:80");
    ASSERT_TRUE(v6.has_value());
    EXPECT_EQ(host_port(v6->first, v6->second), "[2001:db8::1]:80");
    for (const char* bad : {"", "10.1.2.3", "10.1.2.3:", "10.1.2.3:0", "10.1.2.3:70000", "10.1.2:1", "host:1",
                            "[::1:1", "10.1.2.3:12x", "[zz::1]:5"})
        EXPECT_FALSE(parse_host_port(bad).has_value()) << bad;
}
