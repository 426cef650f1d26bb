// swim::Endpoint driven by hand (a scripted fake peer): probe -> suspect -> dead, acks and
// nacks with awareness, incarnation ordering, refutation, leave, conflicts, push-pull join,
// and bad input.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <set>

#include "clusterd/swim/endpoint.hpp"
#include "clusterd/wire/memberlist.hpp"

using namespace clusterd;
using namespace clusterd::swim;
using namespace std::chrono_literals;

namespace {

struct Recorder : Delegate {
    std::vector<std::pair<std::string, std::string>> events; // kind, node
    std::vector<State> leave_states;
    int conflicts = 0;
    int pings_completed = 0;
    base::Duration last_rtt{0};
    base::Bytes ack_bytes = base::to_bytes("ackpayload");
    void notify_join(const Node& n) override { events.emplace_back("join", n.name); }
    void notify_leave(const Node& n) override {
        events.emplace_back("leave", n.name);
        leave_states.push_back(n.state);
    }
    void notify_update(const Node& n) override { events.emplace_back("update", n.name); }
    void notify_conflict(const Node&, const Node&) override { conflicts++; }
    base::Bytes ack_payload() override { return ack_bytes; }
    void notify_ping_complete(const Node&, base::Duration rtt, base::ByteView) override {
        pings_completed++;
        last_rtt = rtt;
    }
};

Address addr(std::uint8_t last) {
    return Address{base::Bytes{10, 0, 0, last}, 7946};
}

Config config_for(const std::string& name, std::uint8_t last) {
    Config c = Config::lan();
    c.name = name;
    c.advertise_addr = addr(last).ip;
    c.advertise_port = 7946;
    return c;
}

wire::Alive alive(const std::string& name, std::uint8_t last, std::uint32_t inc, std::string meta = "") {
    wire::Alive a;
    a.incarnation = inc;
    a.node = name;
    a.addr = addr(last).ip;
    a.port = 7946;
    a.meta = base::to_bytes(meta);
    a.vsn = {1, 5, 2, 0, 0, 0};
    return a;
}

/// Every message in a transmit (compounds split).
std::vector<wire::Message> messages(const Transmit& t) {
    std::vector<wire::Message> out;
    std::vector<base::Bytes> parts;
    if (!t.msg.empty() && t.msg[0] == static_cast<std::uint8_t>(wire::MsgType::Compound)) {
        auto split = wire::split_compound(t.msg);
        if (split)
            for (auto p : split->parts)
                parts.emplace_back(p.begin(), p.end());
    } else {
        parts.push_back(t.msg);
    }
    for (auto& p : parts) {
        auto m = wire::decode(p);
        if (m)
            out.push_back(*m);
    }
    return out;
}

struct Harness {
    Recorder rec;
    Endpoint ep;
    base::Instant now = base::Instant::zero() + 1000s;
    std::vector<Transmit> sent;

    explicit Harness(const std::string& name = "a", std::uint8_t last = 1)
        : Harness(config_for(name, last)) {}
    explicit Harness(Config c) : ep(std::move(c), &rec, 1234, base::Instant::zero() + 1000s) {
        ep.handle_timeout(now);
        drain();
    }
    std::vector<base::Instant> sent_times; ///< when each of `sent` was handed out
    void drain() {
        while (auto t = ep.poll_transmit()) {
            sent.push_back(std::move(*t));
            sent_times.push_back(now);
        }
    }
    void packet(const wire::Message& m, std::uint8_t from = 2) {
        ep.handle_packet(addr(from), wire::encode(m), now);
        drain();
    }
    /// Advance to `until`, firing every deadline on the way.
    void run_until(base::Instant until) {
        while (ep.next_deadline() <= until) {
            now = std::max(now, ep.next_deadline());
            ep.handle_timeout(now);
            drain();
        }
        now = until;
    }
    void run_for(base::Duration d) { run_until(now + d); }
    /// Fire exactly the next deadline.
    void step() {
        now = std::max(now, ep.next_deadline());
        ep.handle_timeout(now);
        drain();
    }
    template <typename T> std::vector<std::pair<Transmit, T>> find_sent() const {
        std::vector<std::pair<Transmit, T>> out;
        for (const auto& t : sent)
            for (const auto& m : messages(t))
                if (std::holds_alternative<T>(m))
                    out.emplace_back(t, std::get<T>(m));
        return out;
    }
};

} // namespace

TEST(Endpoint, StartsAliveAndAnnouncesItself) {
    Harness h;
    EXPECT_EQ(h.ep.local_node().state, State::Alive);
    EXPECT_EQ(h.ep.local_node().incarnation, 1u);
    ASSERT_EQ(h.rec.events.size(), 1u);
    EXPECT_EQ(h.rec.events[0], (std::pair<std::string, std::string>{"join", "a"}));
    EXPECT_EQ(h.ep.queued_broadcasts(), 1u);
    EXPECT_EQ(h.ep.local_node().vsn, (std::array<std::uint8_t, 6>{1, 5, 2, 0, 0, 0}));
}

TEST(Endpoint, ProbeWithoutAnswerLeadsToSuspectThenDead) {
    Harness h;
    h.packet(alive("b", 2, 1));
    ASSERT_TRUE(h.ep.find("b").has_value());
    EXPECT_EQ(h.ep.find("b")->state, State::Alive);
    // Within one probe interval (+ stagger) a ping to b goes out.
    h.run_for(2s);
    auto pings = h.find_sent<wire::Ping>();
    ASSERT_FALSE(pings.empty());
    EXPECT_EQ(pings[0].second.node, "b");
    EXPECT_EQ(pings[0].first.to, addr(2));
    // b speaks protocol 5 >= 3: a TCP fallback ping was requested too; it fails.
    bool saw_stream = false;
    for (const auto& t : h.sent) {
        if (t.kind == Transmit::Kind::Stream) {
            saw_stream = true;
            EXPECT_EQ(t.to, addr(2));
            EXPECT_LE(t.timeout, 1s);
            h.ep.stream_failed(t.stream_id, h.now, "refused");
        }
    }
    EXPECT_TRUE(saw_stream);
    h.run_for(1s);
    ASSERT_EQ(h.ep.find("b")->state, State::Suspect);
    EXPECT_GE(h.ep.stats().probe_failures, 1u);
    // No nack-capable peers: a failed probe costs one awareness point.
    EXPECT_GE(h.ep.health_score(), 1);
    // 2 nodes: k = 0, so the suspicion lasts the minimum, 4 x 1 s.
    h.run_for(4s);
    EXPECT_EQ(h.ep.find("b")->state, State::Dead);
    ASSERT_FALSE(h.rec.leave_states.empty());
    EXPECT_EQ(h.rec.leave_states.back(), State::Dead);
    EXPECT_FALSE(h.find_sent<wire::Dead>().empty() && h.ep.queued_broadcasts() == 0);
}

// A crashed agent on a live host (kill -9): its TCP port refuses the fallback ping. The probe
// ends as failed right then, half a probe interval before its end; no awareness point is taken
// for nacks that had no time to come. A fallback that fails otherwise (timeout, reset) and the
// setting switched off keep memberlist's timing.
TEST(Endpoint, RefusedFallbackPingEndsTheProbeAtOnce) {
    auto run = [](bool enabled, swim::StreamFailure kind) {
        Config c = config_for("a", 1);
        c.end_probe_on_refused = enabled;
        Harness h(c);
        h.packet(alive("b", 2, 1));
        const Transmit* fallback = nullptr;
        for (int i = 0; i < 100 && fallback == nullptr; ++i) {
            h.step();
            for (const auto& t : h.sent)
                if (t.kind == Transmit::Kind::Stream)
                    fallback = &t;
        }
        EXPECT_NE(fallback, nullptr);
        if (fallback == nullptr)
            return std::make_pair(State::Alive, -1);
        h.ep.stream_failed(fallback->stream_id, h.now, "connect to 127.0.0.2:7946: Connection refused", kind);
        h.drain();
        return std::make_pair(h.ep.find("b")->state, h.ep.health_score());
    };
    auto [state, health] = run(true, swim::StreamFailure::Refused);
    EXPECT_EQ(state, State::Suspect);
    EXPECT_EQ(health, 0);
    EXPECT_EQ(run(true, swim::StreamFailure::Other).first, State::Alive);
    EXPECT_EQ(run(false, swim::StreamFailure::Refused).first, State::Alive);

    // After the early end the prober goes on with its schedule: the next probe starts on time
    // and the suspicion runs its full Lifeguard timeout (2 nodes: 4 x 1 s).
    Harness h;
    h.packet(alive("b", 2, 1));
    while (std::none_of(h.sent.begin(), h.sent.end(),
                        [](const Transmit& t) { return t.kind == Transmit::Kind::Stream; }))
        h.step();
    for (const auto& t : h.sent)
        if (t.kind == Transmit::Kind::Stream)
            h.ep.stream_failed(t.stream_id, h.now, "refused", swim::StreamFailure::Refused);
    EXPECT_EQ(h.ep.find("b")->state, State::Suspect);
    EXPECT_EQ(h.ep.stats().probes_refused, 1u);
    h.run_for(3900ms);
    EXPECT_EQ(h.ep.find("b")->state, State::Suspect);
    h.run_for(200ms);
    EXPECT_EQ(h.ep.find("b")->state, State::Dead);
}

TEST(Endpoint, AckCompletesProbeAndReportsRtt) {
    Harness h;
    h.packet(alive("b", 2, 1));
    while (h.find_sent<wire::Ping>().empty())
        h.step();
    const auto ping = h.find_sent<wire::Ping>()[0].second;
    EXPECT_EQ(ping.source_node, "a");
    h.now += 30ms;
    h.packet(wire::Ack{ping.seq_no, base::to_bytes("p")});
    EXPECT_EQ(h.rec.pings_completed, 1);
    EXPECT_EQ(h.rec.last_rtt, 30ms);
    // The probe is over: its timeout does not start an indirect round or suspicion.
    h.run_for(900ms);
    EXPECT_TRUE(h.find_sent<wire::IndirectPing>().empty());
    EXPECT_EQ(h.ep.stats().probe_failures, 0u);
    EXPECT_EQ(h.ep.find("b")->state, State::Alive);
    EXPECT_EQ(h.ep.health_score(), 0);
}

TEST(Endpoint, AnswersPingsWithAckPayloadAndIgnoresPingsForOthers) {
    Harness h;
    wire::Ping p;
    p.seq_no = 77;
    p.node = "a";
    p.source_addr = addr(9).ip;
    p.source_port = 7946;
    p.source_node = "z";
    h.packet(p, 3);
    auto acks = h.find_sent<wire::Ack>();
    ASSERT_EQ(acks.size(), 1u);
    EXPECT_EQ(acks[0].second.seq_no, 77u);
    EXPECT_EQ(acks[0].second.payload, base::to_bytes("ackpayload"));
    EXPECT_EQ(acks[0].first.to, addr(9)); // source address wins over the packet source
    p.node = "someone-else";
    h.packet(p, 3);
    EXPECT_EQ(h.find_sent<wire::Ack>().size(), 1u);
    EXPECT_EQ(h.ep.stats().pings_wrong_node, 1u);
}

// Bound to exactly its advertised address, a node leaves SourceAddr/SourcePort out of its pings
// and indirect pings (30 bytes each for IPv4); the receiver answers to the packet's source.
TEST(Endpoint, ImpliedSourceLeavesTheAddressOutOfPingsAndIsAnsweredToThePacketSource) {
    for (bool implied : {false, true}) {
        Config c = config_for("a", 1);
        c.ping_source_implied = implied;
        Harness h(c);
        h.packet(alive("b", 2, 1));
        h.packet(alive("c", 3, 1));
        while (h.find_sent<wire::Ping>().empty())
            h.run_for(50ms);
        const auto [t, ping] = h.find_sent<wire::Ping>()[0];
        EXPECT_EQ(ping.source_node, "a");
        EXPECT_EQ(ping.source_addr.empty(), implied);
        EXPECT_EQ(ping.source_port, implied ? 0 : 7946);
        if (implied) {
            wire::Ping full = ping;
            full.source_addr = addr(1).ip;
            full.source_port = 7946;
            EXPECT_EQ(wire::encode(full).size() - t.msg.size(),
                      30u); // "SourceAddr" + 4-byte str, "SourcePort" + uint16
        }
        h.run_for(510ms); // past the probe timeout: one indirect ping through the other member
        auto ind = h.find_sent<wire::IndirectPing>();
        ASSERT_EQ(ind.size(), 1u);
        EXPECT_EQ(ind[0].second.source_node, "a");
        EXPECT_EQ(ind[0].second.source_addr.empty(), implied);
        EXPECT_EQ(ind[0].second.source_port, implied ? 0 : 7946);

        // The target answers such a ping to where the packet came from.
        const std::uint8_t target_last = ping.node == "b" ? 2 : 3;
        Harness target(ping.node, target_last);
        target.packet(ping, 1);
        auto acks = target.find_sent<wire::Ack>();
        ASSERT_EQ(acks.size(), 1u);
        EXPECT_EQ(acks[0].second.seq_no, ping.seq_no);
        EXPECT_EQ(acks[0].first.to, addr(1));
        // A relay answers an indirect request to where it came from too.
        Harness relay(ind[0].first.node, ping.node == "b" ? 3 : 2);
        relay.packet(ind[0].second, 1);
        auto relayed = relay.find_sent<wire::Ping>();
        ASSERT_EQ(relayed.size(), 1u);
        EXPECT_EQ(relayed[0].first.to, addr(target_last));
        relay.packet(wire::Ack{relayed[0].second.seq_no, {}}, target_last);
        auto back = relay.find_sent<wire::Ack>();
        ASSERT_EQ(back.size(), 1u);
        EXPECT_EQ(back[0].first.to, addr(1));
    }
}

// Config::park_idle_gossip: with nothing queued the 200 ms gossip tick is not scheduled (an idle
// node wakes for its probes only); a broadcast queued later goes out at the same instant as with
// a tick every interval, on the same grid.
TEST(Endpoint, IdleGossipTickIsParkedAndResumesOnTheSameGrid) {
    base::Instant sent_at[2];
    int wakeups[2] = {0, 0};
    for (bool park : {false, true}) {
        Config c = config_for("a", 1);
        c.park_idle_gossip = park;
        Harness h(c);
        h.packet(alive("b", 2, 1));
        // b answers every ping; after 5 s nothing is left to gossip.
        auto run_acking = [&](base::Duration d, int* steps) {
            const base::Instant until = h.now + d;
            while (h.ep.next_deadline() <= until) {
                const std::size_t before = h.sent.size();
                h.step();
                if (steps)
                    ++*steps;
                for (std::size_t i = before; i < h.sent.size(); ++i)
                    for (const auto& m : messages(h.sent[i]))
                        if (const auto* p = std::get_if<wire::Ping>(&m))
                            h.packet(wire::Ack{p->seq_no, {}}, 2);
            }
            h.now = until;
        };
        run_acking(5s, nullptr);
        run_acking(10s, &wakeups[park]);
        EXPECT_EQ(h.ep.find("b")->state, State::Alive);
        // A new member's alive is queued for gossip at an instant off the grid.
        h.now += 37ms;
        const std::size_t before = h.sent.size();
        h.packet(alive("c", 3, 1), 3);
        run_acking(1s, nullptr);
        bool found = false;
        for (std::size_t i = before; i < h.sent.size() && !found; ++i)
            if (h.sent[i].to == addr(2))
                for (const auto& m : messages(h.sent[i]))
                    if (const auto* a = std::get_if<wire::Alive>(&m); a && a->node == "c") {
                        found = true;
                        sent_at[park] = h.sent_times[i];
                    }
        ASSERT_TRUE(found) << "park=" << park;
    }
    // Off: the probe tick and 5 gossip ticks a second; on: the gossip ticks are gone.
    EXPECT_GE(wakeups[0] - wakeups[1], 45) << wakeups[0] << " vs " << wakeups[1];
    // Parked, an answered probe is all there is: one wake-up a second (the direct ack removed
    // the probe's timeout and end timers), plus a push-pull now and then.
    EXPECT_LE(wakeups[1], 12) << wakeups[1];
    EXPECT_EQ(sent_at[0], sent_at[1]);
}

TEST(Endpoint, IndirectProbeNacksFeedAwareness) {
    for (bool send_nack : {true, false}) {
        Harness h;
        h.packet(alive("b", 2, 1));
        h.packet(alive("c", 3, 1));
        // Find the first probe target and keep the other as the helper.
        while (h.find_sent<wire::Ping>().empty())
            h.run_for(50ms);
        const auto ping = h.find_sent<wire::Ping>()[0].second;
        const std::string helper = ping.node == "b" ? "c" : "b";
        h.run_for(510ms); // past the probe timeout
        auto ind = h.find_sent<wire::IndirectPing>();
        ASSERT_EQ(ind.size(), 1u);
        EXPECT_EQ(ind[0].second.node, ping.node);
        EXPECT_EQ(ind[0].second.seq_no, ping.seq_no);
        EXPECT_TRUE(ind[0].second.nack); // helper speaks protocol 5
        EXPECT_EQ(ind[0].first.node, helper);
        for (const auto& t : h.sent)
            if (t.kind == Transmit::Kind::Stream)
                h.ep.stream_failed(t.stream_id, h.now);
        if (send_nack)
            h.packet(wire::Nack{ping.seq_no});
        const int before = h.ep.health_score();
        h.run_for(500ms);
        EXPECT_EQ(h.ep.find(ping.node)->state, State::Suspect);
        // One expected nack: received -> no penalty; missing -> +1.
        EXPECT_EQ(h.ep.health_score() - before, send_nack ? 0 : 1) << "send_nack=" << send_nack;
    }
}

TEST(Endpoint, RelaysIndirectPingsAndNacksOnTimeout) {
    Harness h;
    wire::IndirectPing ind;
    ind.seq_no = 5;
    ind.target = addr(4).ip;
    ind.port = 7946;
    ind.node = "d";
    ind.nack = true;
    ind.source_addr = addr(2).ip;
    ind.source_port = 7946;
    ind.source_node = "b";
    h.packet(ind);
    auto pings = h.find_sent<wire::Ping>();
    ASSERT_EQ(pings.size(), 1u);
    EXPECT_EQ(pings[0].first.to, addr(4));
    // Ack from d is relayed to b with b's sequence number.
    h.packet(wire::Ack{pings[0].second.seq_no, {}}, 4);
    auto acks = h.find_sent<wire::Ack>();
    ASSERT_EQ(acks.size(), 1u);
    EXPECT_EQ(acks[0].second.seq_no, 5u);
    EXPECT_EQ(acks[0].first.to, addr(2));
    // A second relay that gets no answer produces a nack after the probe timeout.
    ind.seq_no = 6;
    h.packet(ind);
    h.run_for(600ms);
    auto nacks = h.find_sent<wire::Nack>();
    ASSERT_EQ(nacks.size(), 1u);
    EXPECT_EQ(nacks[0].second.seq_no, 6u);
}

TEST(Endpoint, IncarnationOrdering) {
    Harness h;
    h.packet(alive("b", 2, 5, "m1"));
    h.packet(alive("b", 2, 4, "m2")); // older: ignored
    EXPECT_EQ(h.ep.find("b")->meta, base::to_bytes("m1"));
    h.packet(wire::Suspect{4, "b", "c"}); // older suspect: ignored
    EXPECT_EQ(h.ep.find("b")->state, State::Alive);
    h.packet(wire::Suspect{5, "b", "c"});
    EXPECT_EQ(h.ep.find("b")->state, State::Suspect);
    h.packet(alive("b", 2, 5, "m1")); // same incarnation does not clear suspicion
    EXPECT_EQ(h.ep.find("b")->state, State::Suspect);
    h.packet(alive("b", 2, 6, "m3"));
    EXPECT_EQ(h.ep.find("b")->state, State::Alive);
    EXPECT_EQ(h.ep.find("b")->meta, base::to_bytes("m3"));
    EXPECT_EQ(h.rec.events.back(), (std::pair<std::string, std::string>{"update", "b"}));
    h.packet(wire::Dead{5, "b", "c"}); // older death: ignored
    EXPECT_EQ(h.ep.find("b")->state, State::Alive);
    h.packet(wire::Dead{6, "b", "c"});
    EXPECT_EQ(h.ep.find("b")->state, State::Dead);
    h.packet(alive("b", 2, 6)); // no resurrection at the same incarnation
    EXPECT_EQ(h.ep.find("b")->state, State::Dead);
    h.packet(alive("b", 2, 7));
    EXPECT_EQ(h.ep.find("b")->state, State::Alive);
    EXPECT_EQ(h.rec.events.back(), (std::pair<std::string, std::string>{"join", "b"}));
}

TEST(Endpoint, RefutesSuspicionAndDeathOfItself) {
    Harness h;
    h.packet(wire::Suspect{1, "a", "b"});
    EXPECT_EQ(h.ep.local_node().state, State::Alive);
    EXPECT_EQ(h.ep.local_node().incarnation, 2u);
    h.packet(wire::Dead{9, "a", "b"});
    EXPECT_EQ(h.ep.local_node().state, State::Alive);
    EXPECT_EQ(h.ep.local_node().incarnation, 10u);
    EXPECT_EQ(h.ep.stats().refutes, 2u);
    // An alive about us with a newer incarnation (someone impersonating an old us) is refuted.
    h.packet(alive("a", 1, 20));
    EXPECT_EQ(h.ep.local_node().incarnation, 21u);
    // Implausible incarnations are dropped instead of wrapping ours around.
    h.packet(wire::Dead{0xFFFFFFFFu, "a", "b"});
    EXPECT_EQ(h.ep.local_node().incarnation, 21u);
    EXPECT_GE(h.ep.stats().malformed, 1u);
}

TEST(Endpoint, GracefulLeaveAndLeftPeers) {
    Harness h;
    h.packet(alive("b", 2, 1));
    h.packet(wire::Dead{1, "b", "b"}); // b left gracefully
    EXPECT_EQ(h.ep.find("b")->state, State::Left);
    EXPECT_EQ(h.rec.leave_states.back(), State::Left);
    h.ep.leave(h.now);
    EXPECT_TRUE(h.ep.has_left());
    EXPECT_EQ(h.ep.local_node().state, State::Left);
    EXPECT_TRUE(h.ep.leave_done()); // nobody alive to tell
    // After leaving we no longer refute.
    h.packet(wire::Suspect{5, "a", "c"});
    EXPECT_EQ(h.ep.local_node().state, State::Left);
}

TEST(Endpoint, LeaveWaitsForBroadcast) {
    Harness h;
    h.packet(alive("b", 2, 1));
    h.ep.leave(h.now);
    EXPECT_FALSE(h.ep.leave_done());
    h.run_for(10s); // gossip sends the dead message out up to the retransmit limit
    EXPECT_TRUE(h.ep.leave_done());
    bool found = false;
    for (const auto& [t, d] : h.find_sent<wire::Dead>())
        if (d.node == "a" && d.from == "a")
            found = true;
    EXPECT_TRUE(found);
}

// Leave announcement: the intent (a user message) and then, from leave(), our dead message go
// straight to every live member (dead and left ones skipped, capped by leave_announce_peers),
// once each, as separate packets (a memberlist peer handles queued gossip last-in first-out).
TEST(Endpoint, LeaveAnnouncementGoesToEveryLiveMemberOnce) {
    Harness h;
    for (std::uint8_t i = 2; i <= 6; ++i)
        h.packet(alive(std::string(1, static_cast<char>('a' + i - 1)), i, 1));
    h.packet(wire::Dead{1, "f", "b"}); // f failed: not told
    h.sent.clear();
    const base::Bytes intent = base::to_bytes("intent");
    h.ep.announce_leave_intent(h.now, intent);
    h.drain();
    std::multiset<std::string> told;
    for (const auto& t : h.sent) {
        ASSERT_EQ(t.kind, Transmit::Kind::Packet);
        ASSERT_EQ(t.msg[0], static_cast<std::uint8_t>(wire::MsgType::User));
        EXPECT_EQ(base::Bytes(t.msg.begin() + 1, t.msg.end()), intent);
        told.insert(t.node);
    }
    EXPECT_EQ(told, (std::multiset<std::string>{"b", "c", "d", "e"}));
    EXPECT_EQ(h.ep.stats().announcements, 4u);
    EXPECT_EQ(h.ep.local_node().state, State::Alive);

    h.sent.clear();
    const std::uint32_t inc = h.ep.local_node().incarnation;
    h.ep.leave(h.now);
    h.drain();
    told.clear();
    for (const auto& t : h.sent) {
        ASSERT_EQ(t.kind, Transmit::Kind::Packet);
        auto m = wire::decode(t.msg); // a bare dead message, not a gossip compound
        ASSERT_TRUE(m && std::holds_alternative<wire::Dead>(*m));
        EXPECT_EQ(std::get<wire::Dead>(*m), (wire::Dead{inc, "a", "a"}));
        told.insert(t.node);
    }
    EXPECT_EQ(told, (std::multiset<std::string>{"b", "c", "d", "e"}));
    EXPECT_EQ(h.ep.stats().announcements, 8u);
    EXPECT_EQ(h.ep.local_node().state, State::Left);
    h.ep.leave(h.now); // once only
    h.drain();
    EXPECT_EQ(h.ep.stats().announcements, 8u);
    h.run_for(10s); // and gossiped as before
    EXPECT_TRUE(h.ep.leave_done());
}

TEST(Endpoint, LeaveAnnouncementIsCappedAndCanBeTurnedOff) {
    for (const std::size_t cap : {std::size_t{0}, std::size_t{2}}) {
        Recorder rec;
        Config c = config_for("a", 1);
        c.leave_announce_peers = cap;
        Endpoint ep(c, &rec, 99, base::Instant::zero() + 1000s);
        const base::Instant now = base::Instant::zero() + 1000s;
        ep.handle_timeout(now);
        for (std::uint8_t i = 2; i <= 9; ++i)
            ep.handle_packet(addr(i), wire::encode(alive("n" + std::to_string(i), i, 1)), now);
        while (ep.poll_transmit()) {
        }
        ep.announce_leave_intent(now, base::to_bytes("intent"));
        std::size_t packets = 0;
        while (ep.poll_transmit())
            packets++;
        EXPECT_EQ(packets, cap);
        ep.leave(now);
        packets = 0;
        while (auto t = ep.poll_transmit())
            packets += t->msg[0] == static_cast<std::uint8_t>(wire::MsgType::Dead);
        EXPECT_EQ(packets, cap); // the expedited gossip round sends compounds
    }
}

// Recheck before death: in the last second of a suspicion the suspect gets [suspect, ping]
// packets; if it answers one, it is not declared dead at the deadline (the suspicion starts
// again); if it does not, it is declared dead at the deadline, as without the recheck.
TEST(Endpoint, SuspectThatAnswersTheRecheckIsNotDeclaredDead) {
    for (const bool answer : {false, true}) {
        Harness h;
        h.packet(alive("b", 2, 1));
        h.packet(alive("c", 3, 1));
        h.packet(alive("d", 4, 1));
        h.packet(wire::Suspect{1, "b", "c"}, 3);
        ASSERT_EQ(h.ep.find("b")->state, State::Suspect);
        std::optional<std::uint32_t> seq;
        for (int i = 0; i < 100000 && !seq; ++i) {
            h.sent.clear();
            h.step();
            for (const auto& t : h.sent) {
                const auto msgs = messages(t);
                if (t.node == "b" && msgs.size() == 2 && std::holds_alternative<wire::Suspect>(msgs[0]) &&
                    std::holds_alternative<wire::Ping>(msgs[1]))
                    seq = std::get<wire::Ping>(msgs[1]).seq_no;
            }
        }
        ASSERT_TRUE(seq) << "no recheck sent";
        EXPECT_EQ(h.ep.stats().suspect_rechecks, 1u);
        EXPECT_EQ(h.ep.find("b")->state, State::Suspect);
        if (answer)
            h.packet(wire::Ack{*seq, {}}, 2);
        h.run_for(1s + 1ms); // rechecks start 2 x probe_timeout before the deadline
        EXPECT_EQ(h.ep.find("b")->state, answer ? State::Suspect : State::Dead) << "answer " << answer;
        EXPECT_EQ(h.ep.stats().suspicions_renewed, answer ? 1u : 0u);
        EXPECT_EQ(h.ep.stats().suspect_rechecks, 2u);
    }
}

// kill -9 seen by all (issue 19): when our suspicion timer declares a member dead, the dead
// message also goes straight to every live member (one bare packet each), at most once per
// probe_interval; with dead_announce_peers = 0 it is only gossiped (memberlist).
TEST(Endpoint, DeathWeDeclareIsSentStraightToTheMembers) {
    for (const std::size_t peers : {std::size_t{128}, std::size_t{0}}) {
        auto cfg = config_for("a", 1);
        cfg.dead_announce_peers = peers;
        Recorder rec;
        Endpoint ep(cfg, &rec, 1234, base::Instant::zero() + 1000s);
        base::Instant now = base::Instant::zero() + 1000s;
        std::vector<Transmit> sent;
        auto drain = [&] {
            while (auto t = ep.poll_transmit())
                sent.push_back(std::move(*t));
        };
        ep.handle_timeout(now);
        for (std::uint8_t i = 2; i <= 6; ++i) {
            wire::Alive al = alive(std::string(1, static_cast<char>('a' + i - 1)), i, 1);
            ep.handle_packet(addr(i), wire::encode(wire::Message{al}), now);
        }
        drain();
        ep.handle_packet(addr(3), wire::encode(wire::Message{wire::Suspect{1, "b", "c"}}), now);
        ep.handle_packet(addr(3), wire::encode(wire::Message{wire::Suspect{1, "f", "c"}}), now);
        drain();
        sent.clear();
        // Step until both are dead, noting the time of each death.
        std::map<std::string, base::Instant> died;
        for (int i = 0; i < 100000 && died.size() < 2; ++i) {
            now = std::max(now, ep.next_deadline());
            ep.handle_timeout(now);
            drain();
            for (const char* n : {"b", "f"})
                if (ep.find(n)->state == State::Dead && !died.count(n))
                    died[n] = now;
        }
        ASSERT_EQ(died.size(), 2u);
        std::multiset<std::string> bare; // packets holding only a dead message
        for (const auto& t : sent) {
            auto m = wire::decode(t.msg);
            if (m && std::holds_alternative<wire::Dead>(*m))
                bare.insert(t.node + ":" + std::get<wire::Dead>(*m).node);
        }
        if (peers == 0) {
            EXPECT_EQ(ep.stats().announcements, 0u);
            EXPECT_TRUE(bare.empty() || bare.size() <= 3u); // at most one gossip round's worth
            continue;
        }
        const bool same_window =
            died["b"] - died["f"] < cfg.probe_interval && died["f"] - died["b"] < cfg.probe_interval;
        const std::string first = died["b"] <= died["f"] ? "b" : "f";
        // The first death goes to every member still alive at that moment (c, d, e and the other
        // suspect); the second only if it came a probe_interval later, then to c, d, e.
        EXPECT_EQ(ep.stats().announcements, same_window ? 4u : 7u);
        for (const char* to : {"c", "d", "e"})
            EXPECT_GE(bare.count(std::string(to) + ":" + first), 1u) << to;
    }
}

// A refutation also goes straight to the live members (one bare alive each), at most once per
// probe_timeout.
TEST(Endpoint, RefutationIsSentStraightToTheMembers) {
    Harness h;
    for (std::uint8_t i = 2; i <= 5; ++i)
        h.packet(alive(std::string(1, static_cast<char>('a' + i - 1)), i, 1));
    auto direct_alives = [&h] {
        std::set<std::string> to;
        for (const auto& t : h.sent) {
            auto m = wire::decode(t.msg);
            if (m && std::holds_alternative<wire::Alive>(*m) && std::get<wire::Alive>(*m).node == "a")
                to.insert(t.node);
        }
        return to;
    };
    h.sent.clear();
    h.packet(wire::Suspect{1, "a", "b"});
    EXPECT_EQ(h.ep.stats().refutes, 1u);
    EXPECT_EQ(direct_alives(), (std::set<std::string>{"b", "c", "d", "e"}));
    h.sent.clear();
    h.packet(wire::Suspect{h.ep.local_node().incarnation, "a", "c"});
    EXPECT_EQ(h.ep.stats().refutes, 2u);
    EXPECT_TRUE(direct_alives().empty()); // within probe_timeout of the last one
    h.now += 500ms;
    h.packet(wire::Suspect{h.ep.local_node().incarnation, "a", "d"});
    EXPECT_EQ(h.ep.stats().refutes, 3u);
    EXPECT_EQ(direct_alives().size(), 4u);
}

// The fast path for stale copies (decoded in place, no allocation) takes exactly the alives that
// could change nothing: an older or equal incarnation from the same address. A stale one from
// another address still reports the conflict, as memberlist does.
TEST(Endpoint, StaleAliveIsDroppedWithoutEffectButAConflictStillCounts) {
    Harness h;
    h.packet(alive("b", 2, 3, "m1"));
    const auto before = h.ep.stats().stale_alives;
    h.packet(alive("b", 2, 3, "m1"));
    h.packet(alive("b", 2, 2, "m0"));
    EXPECT_EQ(h.ep.stats().stale_alives, before + 1); // the byte-identical copy is a dedup hit
    EXPECT_EQ(h.ep.find("b")->incarnation, 3u);
    EXPECT_EQ(h.ep.find("b")->meta, base::to_bytes("m1"));
    h.packet(alive("b", 9, 2));
    EXPECT_EQ(h.rec.conflicts, 1);
    EXPECT_EQ(h.ep.stats().stale_alives, before + 1);
    h.packet(alive("b", 2, 4, "m2")); // newer: the full path
    EXPECT_EQ(h.ep.find("b")->meta, base::to_bytes("m2"));
    EXPECT_EQ(h.ep.stats().stale_alives, before + 1);
}

TEST(Endpoint, ConflictingAddressIsReported) {
    Harness h;
    h.packet(alive("b", 2, 1));
    h.packet(alive("b", 9, 2));
    EXPECT_EQ(h.rec.conflicts, 1);
    EXPECT_EQ(h.ep.find("b")->addr, addr(2));
}

TEST(Endpoint, PushPullJoinBetweenTwoEndpoints) {
    Harness a("a", 1), b("b", 2);
    a.ep.join({addr(2)}, a.now);
    a.drain();
    const Transmit* req = nullptr;
    for (const auto& t : a.sent)
        if (t.kind == Transmit::Kind::Stream)
            req = &t;
    ASSERT_NE(req, nullptr);
    EXPECT_EQ(req->msg[0], static_cast<std::uint8_t>(wire::MsgType::PushPull));
    auto reply = b.ep.handle_stream_request(addr(1), req->msg, b.now);
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    a.ep.handle_stream_reply(req->stream_id, *reply, a.now);
    ASSERT_TRUE(a.ep.find("b").has_value());
    ASSERT_TRUE(b.ep.find("a").has_value());
    EXPECT_EQ(a.ep.num_alive(), 2u);
    EXPECT_EQ(b.ep.num_alive(), 2u);
    auto r = a.ep.poll_join_result();
    ASSERT_TRUE(r.has_value());
    EXPECT_TRUE(r->ok);
    EXPECT_EQ(r->remaining, 0u);
    // A failed seed is reported with its error.
    auto id = a.ep.join({addr(7)}, a.now);
    a.drain();
    a.ep.stream_failed(a.sent.back().stream_id, a.now, "connection refused");
    r = a.ep.poll_join_result();
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->join_id, id);
    EXPECT_FALSE(r->ok);
    EXPECT_EQ(r->error, "connection refused");
}

TEST(Endpoint, StreamPingIsAnswered) {
    Harness h;
    wire::Ping p;
    p.seq_no = 3;
    p.node = "a";
    auto reply = h.ep.handle_stream_request(addr(2), wire::encode(p), h.now);
    ASSERT_TRUE(reply.ok());
    auto ack = wire::decode(*reply);
    ASSERT_TRUE(ack.ok());
    EXPECT_EQ(std::get<wire::Ack>(*ack).seq_no, 3u);
    p.node = "x";
    EXPECT_FALSE(h.ep.handle_stream_request(addr(2), wire::encode(p), h.now).ok());
}

TEST(Endpoint, BadInputIsDroppedAndCounted) {
    Harness h;
    const auto before = h.ep.stats().malformed;
    h.ep.handle_packet(addr(2), base::Bytes{}, h.now);
    h.ep.handle_packet(addr(2), base::Bytes{4, 0xc1, 0xff}, h.now);
    h.ep.handle_packet(addr(2), base::Bytes{7, 0x80}, h.now); // compound claiming 128 parts
    h.ep.handle_packet(addr(2), base::Bytes{0xEE}, h.now);
    EXPECT_GE(h.ep.stats().malformed, before + 3);
    EXPECT_FALSE(h.ep.handle_stream_request(addr(2), base::Bytes{6, 0x01}, h.now).ok());
    EXPECT_FALSE(h.ep.handle_stream_request(addr(2), base::Bytes{}, h.now).ok());
    EXPECT_EQ(h.ep.num_alive(), 1u);
}

TEST(Endpoint, UserMessagesReachDelegateAndPiggybackBroadcasts) {
    struct UserRec : Recorder {
        std::vector<std::string> got;
        std::vector<base::Bytes> outgoing;
        void notify_msg(base::ByteView m) override { got.push_back(base::to_string(m)); }
        std::vector<base::Bytes> get_broadcasts(std::size_t, std::size_t) override {
            auto o = std::move(outgoing);
            outgoing.clear();
            return o;
        }
    } rec;
    Endpoint ep(config_for("a", 1), &rec, 1, base::Instant::zero());
    ep.handle_timeout(base::Instant::zero());
    base::Bytes user{8, 'h', 'i'};
    ep.handle_packet(addr(2), user, base::Instant::zero());
    ASSERT_EQ(rec.got.size(), 1u);
    EXPECT_EQ(rec.got[0], "hi");
    // A user broadcast rides along with the next ping reply.
    while (ep.poll_transmit()) {
    }
    rec.outgoing.push_back(base::to_bytes("serf!"));
    wire::Ping p;
    p.seq_no = 1;
    p.node = "a";
    ep.handle_packet(addr(2), wire::encode(p), base::Instant::zero());
    auto t = ep.poll_transmit();
    ASSERT_TRUE(t.has_value());
    ASSERT_EQ(t->msg[0], static_cast<std::uint8_t>(wire::MsgType::Compound));
    auto parts = wire::split_compound(t->msg);
    ASSERT_TRUE(parts.ok());
    bool found = false;
    for (const auto& part : parts->parts)
        if (base::Bytes(part.begin(), part.end()) == base::Bytes{8, 's', 'e', 'r', 'f', '!'})
            found = true;
    EXPECT_TRUE(found);
}

TEST(Endpoint, IdenticalGossipIsDroppedBeforeDecoding) {
    Harness h;
    h.packet(alive("b", 2, 3));
    h.packet(alive("b", 2, 3));
    EXPECT_EQ(h.ep.stats().duplicates, 1u);
    h.packet(wire::Suspect{3, "b", "c"});
    h.packet(wire::Suspect{3, "b", "c"});
    EXPECT_EQ(h.ep.stats().duplicates, 2u);
    // Suspect/dead copies expire with the window; a later copy is handled (and ignored by the
    // suspicion's duplicate check) rather than dropped.
    h.now += 6s;
    h.packet(wire::Suspect{3, "b", "c"});
    EXPECT_EQ(h.ep.stats().duplicates, 2u);

    Config c = config_for("x", 5);
    c.dedup_window = base::Duration{0};
    Recorder rec;
    Endpoint ep(c, &rec, 1, base::Instant::zero());
    ep.handle_packet(addr(2), wire::encode(alive("b", 2, 3)), base::Instant::zero());
    ep.handle_packet(addr(2), wire::encode(alive("b", 2, 3)), base::Instant::zero());
    EXPECT_EQ(ep.stats().duplicates, 0u);
}
