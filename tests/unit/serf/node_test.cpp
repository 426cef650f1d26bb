// serf::Node driven directly (no network): Lamport ordering of intents, user-event and query
// dedup through notify_msg, push-pull merge, size limits, coordinates and snapshot restore
// (the spirit of serf_internals_test.go and serf_test.go's message-level cases).
#include <gtest/gtest.h>

#include <algorithm>

#include "clusterd/coord/client.hpp"
#include "clusterd/coord/codec.hpp"
#include "clusterd/serf/node.hpp"
#include "clusterd/wire/serf_messages.hpp"

using namespace clusterd;
using namespace clusterd::serf;
using namespace std::chrono_literals;

namespace {
Config config(const std::string& name = "local") {
    Config c;
    c.memberlist = swim::Config::lan();
    c.memberlist.name = name;
    c.memberlist.advertise_addr = {127, 0, 0, 1};
    c.memberlist.advertise_port = 7946;
    c.snapshot = true;
    return c;
}

swim::Node peer(const std::string& name, std::uint8_t last_octet = 2) {
    swim::Node n;
    n.name = name;
    n.addr = swim::Address{{127, 0, 0, last_octet}, 7946};
    n.state = swim::State::Alive;
    n.incarnation = 1;
    n.vsn = {1, 5, 2, 2, 5, 5};
    n.meta = wire::encode_tags({{"role", "web"}});
    return n;
}

std::vector<Event> drain(Node& n) {
    std::vector<Event> out;
    while (auto e = n.poll_event())
        out.push_back(std::move(*e));
    return out;
}

void msg(Node& n, const wire::SerfMessage& m) {
    n.delegate().notify_msg(wire::encode_serf(m));
}

std::uint64_t status_ltime(Node& n, const std::string& member) {
    auto pp = wire::decode_serf(n.delegate().local_state(false));
    EXPECT_TRUE(pp.ok());
    return std::get<wire::SerfPushPull>(*pp).status_ltimes.at(member);
}
} // namespace

TEST(NodeUnit, LocalMemberExistsWithTagsAndVersions) {
    auto c = config();
    c.tags = {{"role", "lb"}};
    Node n(c, 1, base::Instant{});
    auto m = *n.member(n.name());
    EXPECT_EQ(m.name, "local");
    EXPECT_EQ(m.status, MemberStatus::Alive);
    EXPECT_EQ(m.tags.at("role"), "lb");
    EXPECT_EQ(m.delegate_max, 5);
    EXPECT_EQ(m.delegate_min, 2);
    EXPECT_EQ(n.members().size(), 1u);
}

TEST(NodeUnit, JoinIntentBufferedEarly) {
    Node n(config(), 1, base::Instant{});
    drain(n); // our own member-join
    msg(n, wire::SerfJoin{10, "test"});
    EXPECT_EQ(n.clocks().member, 11u); // witnessed
    n.delegate().notify_join(peer("test"));
    EXPECT_EQ(status_ltime(n, "test"), 10u);
    EXPECT_EQ(n.member("test")->status, MemberStatus::Alive);
    EXPECT_EQ(n.member("test")->tags.at("role"), "web");
}

TEST(NodeUnit, LeaveIntentBufferedEarly) {
    Node n(config(), 1, base::Instant{});
    drain(n); // our own member-join
    msg(n, wire::SerfLeave{10, "test", false});
    n.delegate().notify_join(peer("test"));
    EXPECT_EQ(n.member("test")->status, MemberStatus::Leaving);
    EXPECT_EQ(status_ltime(n, "test"), 10u);
    // memberlist then reports it gone: left, not failed.
    drain(n);
    n.delegate().notify_leave(peer("test"));
    EXPECT_EQ(n.member("test")->status, MemberStatus::Left);
    auto ev = drain(n);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(event_type(ev[0]), EventType::MemberLeave);
}

TEST(NodeUnit, SelfAnnouncedLeaveWithoutIntentIsLeftNotFailed) {
    Node n(config(), 1, base::Instant{});
    drain(n); // our own member-join
    n.delegate().notify_join(peer("gone"));
    n.delegate().notify_join(peer("crashed", 3));
    drain(n);
    // "gone" sent memberlist's dead-about-itself (state Left) but its leave intent was lost.
    swim::Node gone = peer("gone");
    gone.state = swim::State::Left;
    n.delegate().notify_leave(gone);
    // "crashed" was declared dead by others.
    swim::Node crashed = peer("crashed", 3);
    crashed.state = swim::State::Dead;
    n.delegate().notify_leave(crashed);
    EXPECT_EQ(n.member("gone")->status, MemberStatus::Left);
    EXPECT_EQ(n.member("crashed")->status, MemberStatus::Failed);
    EXPECT_EQ(n.gauges().num_left, 1u);
    EXPECT_EQ(n.gauges().num_failed, 1u);
    auto ev = drain(n);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(event_type(ev[0]), EventType::MemberLeave);
    EXPECT_EQ(event_type(ev[1]), EventType::MemberFailed);
}

TEST(NodeUnit, LeaveIntentOldMessageIgnoredNewerApplied) {
    Node n(config(), 1, base::Instant{});
    drain(n); // our own member-join
    n.delegate().notify_join(peer("test"));
    msg(n, wire::SerfJoin{12, "test"});
    msg(n, wire::SerfLeave{10, "test", false});
    EXPECT_EQ(n.member("test")->status, MemberStatus::Alive);
    msg(n, wire::SerfLeave{14, "test", false});
    EXPECT_EQ(n.member("test")->status, MemberStatus::Leaving);
    // A newer join intent cancels the leaving state.
    msg(n, wire::SerfJoin{15, "test"});
    EXPECT_EQ(n.member("test")->status, MemberStatus::Alive);
}

TEST(NodeUnit, CrashThenForcedLeaveAndPrune) {
    Node n(config(), 1, base::Instant{});
    drain(n); // our own member-join
    n.delegate().notify_join(peer("test"));
    n.delegate().notify_leave(peer("test"));
    EXPECT_EQ(n.member("test")->status, MemberStatus::Failed);
    EXPECT_EQ(n.gauges().num_failed, 1u);
    drain(n);
    ASSERT_TRUE(n.force_leave("test", false, base::Instant{}).ok());
    EXPECT_EQ(n.member("test")->status, MemberStatus::Left);
    EXPECT_EQ(n.gauges().num_failed, 0u);
    EXPECT_EQ(n.gauges().num_left, 1u);
    ASSERT_TRUE(n.force_leave("test", true, base::Instant{}).ok());
    EXPECT_FALSE(n.member("test").has_value());
    auto ev = drain(n);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(event_type(ev[0]), EventType::MemberLeave);
    EXPECT_EQ(event_type(ev[1]), EventType::MemberReap);
}

TEST(NodeUnit, UserEventsDedupSameClockAndOld) {
    Node n(config(), 1, base::Instant{});
    drain(n); // our own member-join
    msg(n, wire::SerfUserEvent{1, "first", base::to_bytes("a"), false});
    msg(n, wire::SerfUserEvent{1, "first", base::to_bytes("a"), false}); // duplicate
    msg(n, wire::SerfUserEvent{1, "second", base::to_bytes("a"), false});
    msg(n, wire::SerfUserEvent{1, "first", base::to_bytes("b"), false});
    auto ev = drain(n);
    EXPECT_EQ(ev.size(), 3u);
    EXPECT_EQ(n.stats().user_events_duplicate, 1u);
    msg(n, wire::SerfUserEvent{20000, "late", {}, false});
    drain(n);
    msg(n, wire::SerfUserEvent{100, "old", {}, false}); // 100 < 20001 - 16384
    EXPECT_TRUE(drain(n).empty());
    EXPECT_EQ(n.stats().user_events_old, 1u);
    // Rebroadcasts of the accepted events are queued for gossip.
    EXPECT_EQ(n.gauges().event_queue, 4u);
}

TEST(NodeUnit, FiredUserEventIsDeliveredLocallyAndSizeChecked) {
    Node n(config(), 1, base::Instant{});
    drain(n); // our own member-join
    ASSERT_TRUE(n.user_event("deploy", base::to_bytes("v1"), true, base::Instant{}).ok());
    auto ev = drain(n);
    ASSERT_EQ(ev.size(), 1u);
    const auto& u = std::get<UserEvent>(ev[0]);
    EXPECT_EQ(u.name, "deploy");
    EXPECT_TRUE(u.coalesce);
    EXPECT_EQ(u.ltime, 1u); // clocks start at 1
    EXPECT_EQ(n.clocks().event, 2u);
    auto big = n.user_event("x", base::Bytes(600, 'a'), false, base::Instant{});
    ASSERT_FALSE(big.ok());
    EXPECT_EQ(big.error().code, "too_large");
    EXPECT_EQ(n.clocks().event, 2u);
}

TEST(NodeUnit, QueryDedupAndInternalPingNotDelivered) {
    Node n(config(), 1, base::Instant{});
    drain(n); // our own member-join
    wire::SerfQuery q;
    q.ltime = 5;
    q.id = 77;
    q.addr = {127, 0, 0, 9};
    q.port = 7946;
    q.source_node = "origin";
    q.timeout = 5s;
    q.name = "hello";
    msg(n, q);
    msg(n, q);
    auto ev = drain(n);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(std::get<QueryEvent>(ev[0]).id, 77u);
    EXPECT_EQ(n.stats().queries_duplicate, 1u);
    q.id = 78;
    q.name = "_serf_ping";
    msg(n, q);
    EXPECT_TRUE(drain(n).empty());
    // A node filter that excludes us: not delivered, still rebroadcast.
    q.id = 79;
    q.name = "filtered";
    q.filters = {wire::encode_filter(wire::FilterNodes{{"someone-else"}})};
    auto before = n.gauges().query_queue;
    msg(n, q);
    EXPECT_TRUE(drain(n).empty());
    EXPECT_EQ(n.gauges().query_queue, before + 1);
}

TEST(NodeUnit, RespondAfterDeadlineRefused) {
    Node n(config(), 1, base::Instant{});
    drain(n); // our own member-join
    QueryEvent q;
    q.ltime = 1;
    q.id = 1;
    q.addr = {127, 0, 0, 9};
    q.port = 7946;
    q.deadline = base::Instant{} + 1s;
    EXPECT_TRUE(n.respond(q, base::to_bytes("ok"), base::Instant{}).ok());
    auto late = n.respond(q, base::to_bytes("ok"), base::Instant{} + 2s);
    EXPECT_FALSE(late.ok());
    auto big = n.respond(q, base::Bytes(2000, 'x'), base::Instant{});
    EXPECT_FALSE(big.ok());
}

TEST(NodeUnit, MergeRemoteStateAppliesIntentsAndEvents) {
    Node n(config(), 1, base::Instant{});
    drain(n); // our own member-join
    n.delegate().notify_join(peer("a", 2));
    n.delegate().notify_join(peer("b", 3));
    n.delegate().notify_leave(peer("b", 3)); // failed locally
    drain(n);
    wire::SerfPushPull pp;
    pp.ltime = 50;
    pp.status_ltimes = {{"a", 20}, {"b", 21}};
    pp.left_members = {"b"};
    pp.event_ltime = 9;
    pp.events.resize(512);
    pp.events[3] = wire::SerfUserEvents{3, {{"ev", base::to_bytes("p")}}};
    pp.query_ltime = 7;
    n.delegate().merge_remote_state(wire::encode_serf(pp), false);
    EXPECT_EQ(n.clocks().member, 50u);
    EXPECT_EQ(n.clocks().event, 9u);
    EXPECT_EQ(n.clocks().query, 7u);
    EXPECT_EQ(status_ltime(n, "a"), 20u);
    EXPECT_EQ(n.member("b")->status, MemberStatus::Left); // failed + leave intent -> left
    auto ev = drain(n);
    ASSERT_EQ(ev.size(), 2u);
    EXPECT_EQ(event_type(ev[0]), EventType::MemberLeave);
    EXPECT_EQ(std::get<UserEvent>(ev[1]).name, "ev");
    // Garbage state is dropped and counted.
    n.delegate().merge_remote_state(base::Bytes{2, 0xc1}, false);
    n.delegate().merge_remote_state(base::Bytes{3}, false);
    EXPECT_EQ(n.stats().malformed_messages, 2u);
}

// Regression (found by the simulation swarm): a left member in a push-pull is a leave intent
// at its status time, not one past it; otherwise nodes that exchange state raise it forever.
TEST(NodeUnit, MergeRemoteStateKeepsALeftMembersStatusTime) {
    Node n(config(), 1, base::Instant{});
    drain(n);
    n.delegate().notify_join(peer("b", 3));
    n.delegate().notify_leave(peer("b", 3)); // failed locally
    drain(n);
    wire::SerfPushPull pp;
    pp.ltime = 30;
    pp.status_ltimes = {{"b", 21}};
    pp.left_members = {"b"};
    pp.events.resize(512);
    for (int k = 0; k < 3; ++k) {
        n.delegate().merge_remote_state(wire::encode_serf(pp), false);
        EXPECT_EQ(status_ltime(n, "b"), 21u) << k;
        EXPECT_EQ(n.member("b")->status, MemberStatus::Left);
        pp.status_ltimes["b"] = status_ltime(n, "b"); // what we would send back
    }
}

// Regression (found by the simulation swarm): a member that left and then joined again has a
// status time that is its *join*. While memberlist still holds it left here, it is on our left
// list; sending it there in a push-pull turned that join time into a leave intent at the same
// time, which a node that hears it first keeps as "leaving" for good (the real join, at the same
// Lamport time, is then not newer). A left member whose latest intent is a join goes out as a join.
TEST(NodeUnit, LeftMemberThatJoinedAgainIsNotSentAsLeft) {
    Node n(config(), 1, base::Instant{});
    drain(n);
    n.delegate().notify_join(peer("b", 3));
    msg(n, wire::SerfLeave{10, "b", false}); // b leaves: leaving, then left in memberlist
    swim::Node gone = peer("b", 3);
    gone.state = swim::State::Left;
    n.delegate().notify_leave(gone);
    ASSERT_EQ(n.member("b")->status, MemberStatus::Left);
    auto pp = std::get<wire::SerfPushPull>(*wire::decode_serf(n.delegate().local_state(false)));
    EXPECT_EQ(pp.left_members, std::vector<std::string>{"b"}); // a plain leave is sent as left

    msg(n, wire::SerfJoin{11, "b"}); // b started again; memberlist here has not heard yet
    EXPECT_EQ(n.member("b")->status, MemberStatus::Left);
    pp = std::get<wire::SerfPushPull>(*wire::decode_serf(n.delegate().local_state(false)));
    EXPECT_TRUE(pp.left_members.empty());
    EXPECT_EQ(pp.status_ltimes.at("b"), 11u);

    // A node that learns b from that state, then from memberlist, has it alive.
    Node fresh(config("fresh"), 2, base::Instant{});
    drain(fresh);
    fresh.delegate().merge_remote_state(n.delegate().local_state(false), false);
    fresh.delegate().notify_join(peer("b", 3));
    EXPECT_EQ(fresh.member("b")->status, MemberStatus::Alive);
    msg(fresh, wire::SerfJoin{11, "b"}); // the join itself, gossiped, changes nothing
    EXPECT_EQ(fresh.member("b")->status, MemberStatus::Alive);
}

// Regression (found by the simulation swarm): x left at Lamport time 2 and was started again.
// A node that holds it "leaving" at 2 sends status 2 in its push-pull (push-pull cannot say
// leaving), and the new x took that as its own join, so it never answered the leave at 2; a
// node that heard the leave at 2 first then kept x "leaving" for good. x must answer any
// status time for itself that is not older than its own, and a leave at its own time, with a
// newer join.
TEST(NodeUnit, RestartedNodeOutdatesALeaveOfItsEarlierProcess) {
    auto joins_for = [](Node& n, const std::string& who) {
        std::vector<wire::SerfJoin> out;
        for (const auto& b : n.delegate().get_broadcasts(2, 65536)) {
            auto d = wire::decode_serf(b);
            if (d && std::holds_alternative<wire::SerfJoin>(*d) && std::get<wire::SerfJoin>(*d).node == who)
                out.push_back(std::get<wire::SerfJoin>(*d));
        }
        return out;
    };
    Node x(config("x"), 1, base::Instant{});
    drain(x);
    wire::SerfPushPull pp;
    pp.ltime = 3;
    pp.status_ltimes = {{"x", 2}}; // x "leaving" at 2 over there
    pp.events.resize(512);
    x.delegate().merge_remote_state(wire::encode_serf(pp), true);
    EXPECT_GT(status_ltime(x, "x"), 2u);
    auto joins = joins_for(x, "x");
    ASSERT_EQ(joins.size(), 1u);
    EXPECT_GT(joins[0].ltime, 2u);

    // A node that heard the old leave first, then x's join, then memberlist's alive: alive.
    Node o(config("o"), 2, base::Instant{});
    drain(o);
    msg(o, wire::SerfLeave{2, "x", false});
    msg(o, joins[0]);
    o.delegate().notify_join(peer("x", 3));
    EXPECT_EQ(o.member("x")->status, MemberStatus::Alive);

    // A leave about x at exactly x's own status time is refuted too.
    const auto own = status_ltime(x, "x");
    msg(x, wire::SerfLeave{own, "x", false});
    EXPECT_GT(status_ltime(x, "x"), own);
    std::uint64_t newest = 0;
    for (const auto& j : joins_for(x, "x"))
        newest = std::max<std::uint64_t>(newest, j.ltime);
    EXPECT_GT(newest, own);
}

// Regression (swarm seeds 657 and 1723): x left at Lamport time 28 and a new process of x,
// started without a snapshot, joined at 28 too. A node that heard the old leave first, took x
// from memberlist as leaving, and then got the join at 28 kept x leaving for good (Serf does:
// the join is not newer). A join at the leave's own time wins the tie, in either order of
// memberlist's alive and the join.
TEST(NodeUnit, JoinAtTheTimeOfALeaveIsALaterProcess) {
    for (const bool alive_first : {true, false}) {
        Node o(config("o"), 2, base::Instant{});
        drain(o);
        msg(o, wire::SerfLeave{28, "x", false});
        if (alive_first) {
            o.delegate().notify_join(peer("x", 3));
            EXPECT_EQ(o.member("x")->status, MemberStatus::Leaving);
        }
        msg(o, wire::SerfJoin{28, "x"});
        if (!alive_first)
            o.delegate().notify_join(peer("x", 3));
        EXPECT_EQ(o.member("x")->status, MemberStatus::Alive) << "alive first " << alive_first;
        // An alive member is not made leaving by a leave at its join's time either.
        msg(o, wire::SerfLeave{28, "x", false});
        EXPECT_EQ(o.member("x")->status, MemberStatus::Alive);
    }
}

TEST(NodeUnit, BadMessagesAreCountedNotFatal) {
    Node n(config(), 1, base::Instant{});
    drain(n); // our own member-join
    n.delegate().notify_msg(base::Bytes{});
    n.delegate().notify_msg(base::Bytes{0x03, 0xff, 0x00});
    n.delegate().notify_msg(base::Bytes{0x7f, 0x01});
    n.delegate().notify_msg(base::Bytes{0x04});
    EXPECT_GE(n.stats().malformed_messages, 3u);
    EXPECT_TRUE(drain(n).empty());
}

TEST(NodeUnit, CoordinatesFromPingAcks) {
    Node n(config(), 1, base::Instant{});
    drain(n); // our own member-join
    auto payload = n.delegate().ack_payload();
    ASSERT_FALSE(payload.empty());
    EXPECT_EQ(payload[0], coord::kPingVersion);
    auto other = coord::Coordinate::fresh(coord::Config{});
    other.vec[0] = 0.01;
    n.delegate().notify_ping_complete(peer("a"), 20ms, coord::encode_ping_payload(other));
    ASSERT_TRUE(n.coordinate_of("a").has_value());
    EXPECT_EQ(*n.coordinate_of("a"), other);
    EXPECT_NE(*n.local_coordinate(), coord::Coordinate::fresh(coord::Config{}));
    n.delegate().notify_ping_complete(peer("b"), 20ms, base::Bytes{9, 1, 2});
    EXPECT_FALSE(n.coordinate_of("b").has_value());
    EXPECT_EQ(n.stats().coordinate_rejected, 1u);
    auto c = config();
    c.disable_coordinates = true;
    Node off(c, 1, base::Instant{});
    EXPECT_TRUE(off.delegate().ack_payload().empty());
}

TEST(NodeUnit, CoordinatesOfManyPeersAreKeptApartAndForgottenOnPrune) {
    // The compact peer table: each peer's coordinate and latency window in its own row. The
    // local coordinate must move exactly as a Vivaldi client fed the same (peer, RTT) sequence
    // with per-peer filters; a pruned member's row is gone and its name starts afresh.
    Node n(config(), 1, base::Instant{});
    drain(n);
    coord::Client ref(coord::Config{}, base::Rng::mix(1, 0xC00D));
    auto coord_of = [](int i) {
        auto c = coord::Coordinate::fresh(coord::Config{});
        c.vec[static_cast<std::size_t>(i) % c.vec.size()] = 1e-4 * i;
        c.height = 1e-5 * (i % 7 + 1);
        return c;
    };
    const int peers = 300;
    for (int round = 0; round < 4; ++round) {
        for (int i = 1; i <= peers; ++i) {
            const std::string name = "peer-" + std::to_string(i);
            if (round == 0)
                n.delegate().notify_join(peer(name, static_cast<std::uint8_t>(i % 250 + 2)));
            // every peer's third sample is an outlier the median must hide
            const auto rtt = round == 2 ? 5s : std::chrono::milliseconds(1 + (i * 7 + round) % 40);
            n.delegate().notify_ping_complete(peer(name), rtt, coord::encode_ping_payload(coord_of(i)));
            ASSERT_TRUE(ref.update(name, coord_of(i), rtt).ok());
        }
    }
    EXPECT_EQ(*n.local_coordinate(), ref.coordinate());
    EXPECT_EQ(*n.coordinate_of("local"), ref.coordinate());
    for (int i = 1; i <= peers; ++i)
        ASSERT_EQ(n.coordinate_of("peer-" + std::to_string(i)), coord_of(i)) << i;
    // Prune peer-7: its coordinate and samples go; the others stay.
    n.delegate().notify_leave(peer("peer-7"));
    ASSERT_TRUE(n.force_leave("peer-7", true, base::Instant{}).ok());
    EXPECT_FALSE(n.member("peer-7").has_value());
    EXPECT_FALSE(n.coordinate_of("peer-7").has_value());
    EXPECT_EQ(n.coordinate_of("peer-8"), coord_of(8));
    // The member table moved its last row into the pruned one: every other member is intact,
    // and members() is still in name order.
    for (int i = 1; i <= peers; ++i) {
        if (i == 7)
            continue;
        const auto m = n.member("peer-" + std::to_string(i));
        ASSERT_TRUE(m.has_value()) << i;
        EXPECT_EQ(m->status, MemberStatus::Alive) << i;
        EXPECT_EQ(m->port, 7946) << i;
    }
    const auto all = n.members();
    ASSERT_EQ(all.size(), static_cast<std::size_t>(peers)); // 299 peers and ourselves
    EXPECT_TRUE(std::is_sorted(all.begin(), all.end(),
                               [](const Member& a, const Member& b) { return a.name < b.name; }));
    ref.forget_node("peer-7");
    // A member of that name again: its window starts empty (an outlier first is not hidden).
    n.delegate().notify_join(peer("peer-7"));
    n.delegate().notify_ping_complete(peer("peer-7"), 9s, coord::encode_ping_payload(coord_of(7)));
    ASSERT_TRUE(ref.update("peer-7", coord_of(7), 9s).ok());
    EXPECT_EQ(*n.local_coordinate(), ref.coordinate());
    EXPECT_EQ(n.coordinate_of("peer-7"), coord_of(7));
}

TEST(NodeUnit, SnapshotRecordsAndRestore) {
    Node n(config(), 1, base::Instant{});
    drain(n); // our own member-join
    n.delegate().notify_join(peer("a", 2));
    msg(n, wire::SerfUserEvent{7, "e", {}, false});
    auto text = n.drain_snapshot();
    EXPECT_NE(text.find("alive: local 127.0.0.1:7946\n"), std::string::npos);
    EXPECT_NE(text.find("alive: a 127.0.0.2:7946\n"), std::string::npos);
    EXPECT_NE(text.find("event-clock: 7\n"), std::string::npos);

    auto state = SnapshotState::replay(text, false);
    Node restored(config(), 2, base::Instant{}, &state, text.size());
    drain(restored);
    EXPECT_EQ(restored.clocks().event, 8u);
    msg(restored, wire::SerfUserEvent{7, "e", {}, false}); // already seen before the restart
    EXPECT_TRUE(drain(restored).empty());
    msg(restored, wire::SerfUserEvent{8, "f", {}, false});
    auto ev = drain(restored);
    ASSERT_EQ(ev.size(), 1u);
    EXPECT_EQ(std::get<UserEvent>(ev[0]).name, "f");
    // rejoin_previous asks the endpoint to push-pull with "a" (not with ourselves).
    restored.rejoin_previous(base::Instant{});
    bool stream_to_a = false;
    while (auto t = restored.poll_transmit())
        if (t->kind == swim::Transmit::Kind::Stream && t->to.ip == base::Bytes{127, 0, 0, 2})
            stream_to_a = true;
    EXPECT_TRUE(stream_to_a);
}

TEST(NodeUnit, LeaveWithNobodyElseCompletes) {
    Node n(config(), 1, base::Instant{});
    drain(n); // our own member-join
    base::Instant t{};
    ASSERT_TRUE(n.leave(t).ok());
    EXPECT_EQ(n.state(), NodeState::Leaving);
    EXPECT_FALSE(n.leave(t).ok()); // already in progress
    for (int i = 0; i < 100 && !n.leave_complete(); ++i) {
        t += 100ms;
        n.handle_timeout(t);
    }
    EXPECT_TRUE(n.leave_complete());
    EXPECT_NE(n.drain_snapshot().find("leave\n"), std::string::npos);
    EXPECT_FALSE(n.join({swim::Address{{127, 0, 0, 2}, 7946}}, false, t).ok());
}

// Issue 16 (10,000 events at 200/s): the queue-depth check dropped broadcasts without a word.
// It now logs Serf's warning once per check and counts what it dropped.
TEST(NodeUnit, QueueDepthCheckLogsAndCountsWhatItDrops) {
    auto c = config();
    c.max_queue_depth = 4;
    Node n(c, 1, base::Instant{});
    drain(n);
    for (int i = 0; i < 10; ++i)
        msg(n, wire::SerfUserEvent{static_cast<LamportTime>(10 + i), "ev-" + std::to_string(i), {}, false});
    EXPECT_EQ(n.gauges().event_queue, 10u);
    n.handle_timeout(base::Instant{} + c.queue_check_interval + 1s);
    EXPECT_EQ(n.gauges().event_queue, 4u);
    EXPECT_EQ(n.stats().event_broadcasts_pruned, 6u);
    std::size_t warnings = 0;
    while (auto l = n.poll_log())
        if (l->text == "serf: Event queue depth (10) exceeds limit (4), dropping messages!")
            ++warnings;
    EXPECT_EQ(warnings, 1u);
}
