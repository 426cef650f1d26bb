// Serf's -discover state machine: what it answers, what it sends when, whom it joins.
#include <gtest/gtest.h>

#include "clusterd/mdns/discovery.hpp"

using namespace clusterd;
using namespace clusterd::mdns;
using namespace std::chrono_literals;

namespace {

Options opts(const std::string& node, std::uint8_t last, std::uint16_t port = 7946) {
    Options o;
    o.cluster = "lab";
    o.instance = node;
    o.host = "box";
    o.port = port;
    o.addr = {10, 201, 0, last};
    return o;
}

base::Instant at(base::Duration d) {
    return base::Instant::zero() + d;
}

std::vector<Datagram> drain(Discovery& d) {
    std::vector<Datagram> out;
    while (auto x = d.poll_transmit())
        out.push_back(std::move(*x));
    return out;
}

const Endpoint kSerfClient{{10, 201, 0, 9}, 40000};

void feed(Discovery& d, const Datagram& g, const Endpoint& from, base::Instant now) {
    d.on_packet(std::span<const std::uint8_t>(g.data.data(), g.data.size()), from, now);
}

} // namespace

TEST(MdnsDiscovery, AnswersAServiceQueryAsHashicorpMdns) {
    Discovery d(opts("s1", 3));
    ASSERT_EQ(d.announce_error(), "");
    auto recs = d.answer(Question{name_from_text("_serf_lab._tcp.local."), kTypePtr, kClassIn, false});
    ASSERT_EQ(recs.size(), 4u);
    EXPECT_EQ(recs[0].type, kTypePtr);
    EXPECT_EQ(name_text(recs[0].target), "s1._serf_lab._tcp.local.");
    EXPECT_EQ(recs[1].type, kTypeSrv);
    EXPECT_EQ(recs[1].port, 7946);
    EXPECT_EQ(recs[1].priority, 10);
    EXPECT_EQ(recs[1].weight, 1);
    EXPECT_EQ(name_text(recs[1].target), "box.");
    EXPECT_EQ(recs[2].type, kTypeA);
    EXPECT_EQ(name_text(recs[2].name), "box.");
    EXPECT_EQ(recs[3].type, kTypeTxt);
    EXPECT_EQ(recs[3].txt, std::vector<std::string>{"Serf 'lab' cluster"});
    for (const auto& r : recs)
        EXPECT_EQ(r.ttl, 120u);
    // Other clusters, other types and other classes get nothing.
    EXPECT_TRUE(
        d.answer(Question{name_from_text("_serf_other._tcp.local"), kTypePtr, kClassIn, false}).empty());
    EXPECT_TRUE(d.answer(Question{name_from_text("_serf_lab._tcp.local"), kTypeA, kClassIn, false}).empty());
    EXPECT_TRUE(d.answer(Question{name_from_text("_serf_lab._tcp.local"), kTypePtr, 3, false}).empty());
    // The instance, the host and the DNS-SD enumeration.
    EXPECT_EQ(d.answer(Question{name_from_text("s1._serf_lab._tcp.local"), kTypeSrv, kClassIn, false}).size(),
              2u);
    EXPECT_EQ(d.answer(Question{name_from_text("s1._serf_lab._tcp.local"), kTypeTxt, kClassIn, false}).size(),
              1u);
    EXPECT_EQ(d.answer(Question{name_from_text("BOX"), kTypeA, kClassIn, false}).size(), 1u);
    EXPECT_TRUE(d.answer(Question{name_from_text("box"), kTypeAaaa, kClassIn, false}).empty());
    auto en = d.answer(Question{name_from_text("_services._dns-sd._udp.local"), kTypePtr, kClassIn, false});
    ASSERT_EQ(en.size(), 1u);
    EXPECT_EQ(name_text(en[0].target), "_serf_lab._tcp.local.");
}

TEST(MdnsDiscovery, QueriesAtStartAndEveryPollInterval) {
    Discovery d(opts("s1", 3));
    EXPECT_EQ(d.next_deadline(), base::Instant::max());
    d.start(at(0s));
    auto out = drain(d);
    // A query to each group, and the first announcement to each group.
    ASSERT_EQ(out.size(), 4u);
    EXPECT_EQ(out[0].kind, Datagram::Kind::Query);
    EXPECT_EQ(out[0].to, (Endpoint{{224, 0, 0, 251}, 5353}));
    EXPECT_EQ(out[1].kind, Datagram::Kind::Query);
    EXPECT_EQ(out[1].to.ip.size(), 16u);
    auto q = decode(out[0].data);
    ASSERT_TRUE(q.ok());
    ASSERT_EQ(q->questions.size(), 1u);
    EXPECT_EQ(name_text(q->questions[0].name), "_serf_lab._tcp.local.");
    EXPECT_EQ(q->questions[0].type, kTypePtr);
    EXPECT_FALSE(q->questions[0].unicast_response); // QM, as Serf asks
    EXPECT_EQ(out[2].kind, Datagram::Kind::Response);
    auto ann = decode(out[2].data);
    ASSERT_TRUE(ann.ok());
    EXPECT_TRUE(ann->is_response());
    EXPECT_EQ(ann->answers.size(), 4u);
    // The second announcement a second later, then nothing until the poll interval.
    EXPECT_EQ(d.next_deadline(), at(1s));
    d.tick(at(1s));
    EXPECT_EQ(drain(d).size(), 2u);
    EXPECT_EQ(d.next_deadline(), at(60s));
    d.tick(at(59s));
    EXPECT_TRUE(drain(d).empty());
    d.tick(at(60s));
    out = drain(d);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[0].kind, Datagram::Kind::Query);
    EXPECT_EQ(d.stats().queries_sent, 2u);
    EXPECT_EQ(d.next_deadline(), at(120s));
}

TEST(MdnsDiscovery, AnswersAOneShotQuerierByUnicastAndA5353QuerierByMulticast) {
    Discovery d(opts("s1", 3));
    d.start(at(0s));
    drain(d);
    Discovery asker(opts("s2", 4));
    asker.start(at(0s));
    auto query = drain(asker)[0];
    // From an ephemeral port (hashicorp/mdns's client): unicast back, id and question echoed.
    feed(d, query, kSerfClient, at(1ms));
    auto out = drain(d);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].kind, Datagram::Kind::Response);
    EXPECT_EQ(out[0].to, kSerfClient);
    auto r = decode(out[0].data);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->flags, Message::kResponse | Message::kAuthoritative);
    EXPECT_EQ(r->questions.size(), 1u);
    EXPECT_EQ(r->answers.size(), 4u);
    // From port 5353 (a full mDNS querier such as avahi): to the group.
    feed(d, query, Endpoint{{10, 201, 0, 9}, 5353}, at(2ms));
    out = drain(d);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].to, (Endpoint{{224, 0, 0, 251}, 5353}));
    EXPECT_TRUE(decode(out[0].data)->questions.empty());
    EXPECT_EQ(d.stats().queries_answered, 2u);
    // A question about something else: silence.
    Message other;
    other.questions.push_back(Question{name_from_text("_http._tcp.local"), kTypePtr, kClassIn, false});
    auto bytes = encode(other);
    d.on_packet(std::span<const std::uint8_t>(bytes->data(), bytes->size()), kSerfClient, at(3ms));
    EXPECT_TRUE(drain(d).empty());
}

TEST(MdnsDiscovery, DoesNotAnswerItsOwnQueryLoopedBack) {
    auto o = opts("s1", 3);
    o.query_id = 0x4d2;
    Discovery d(o);
    d.set_own_ports({40000});
    d.start(at(0s));
    auto out = drain(d);
    auto q = decode(out[0].data);
    ASSERT_TRUE(q.ok());
    EXPECT_EQ(q->id, 0x4d2);
    feed(d, out[0], Endpoint{{10, 201, 0, 3}, 40000}, at(1ms));
    EXPECT_TRUE(drain(d).empty());
    EXPECT_EQ(d.stats().ignored, 1u);
    EXPECT_EQ(d.stats().queries_answered, 0u);
    // The same ID from another port is somebody else's query: answered.
    feed(d, out[0], Endpoint{{10, 201, 0, 4}, 40001}, at(2ms));
    EXPECT_EQ(drain(d).size(), 1u);
    EXPECT_EQ(d.stats().queries_answered, 1u);
}

TEST(MdnsDiscovery, JoinsPeersFoundAfterTheQuietInterval) {
    Discovery a(opts("a", 1));
    Discovery b(opts("b", 2, 7000));
    Discovery c(opts("c", 3));
    a.start(at(0s));
    b.start(at(0s));
    c.start(at(0s));
    drain(b);
    drain(c);
    auto q = drain(a)[0];
    // b and c answer a's query; a sees both, and its own announcement (ignored).
    feed(b, q, kSerfClient, at(10ms));
    feed(c, q, kSerfClient, at(10ms));
    auto rb = drain(b)[0];
    auto rc = drain(c)[0];
    feed(a, rb, Endpoint{{10, 201, 0, 2}, 5353}, at(20ms));
    EXPECT_EQ(a.next_deadline(), at(120ms));
    feed(a, rc, Endpoint{{10, 201, 0, 3}, 5353}, at(50ms));
    EXPECT_EQ(a.next_deadline(), at(150ms)); // each new peer restarts the quiet interval
    a.tick(at(149ms));
    EXPECT_FALSE(a.poll_join());
    a.tick(at(150ms));
    auto j = a.poll_join();
    ASSERT_TRUE(j);
    EXPECT_EQ(j->addresses, (std::vector<std::string>{"10.201.0.2:7000", "10.201.0.3:7946"}));
    EXPECT_EQ(j->names, (std::vector<std::string>{"b", "c"}));
    EXPECT_EQ(a.stats().peers_found, 2u);
    a.on_join_result(j->id, 2);
    // Seen again later (the next poll): not joined again.
    feed(a, rb, Endpoint{{10, 201, 0, 2}, 5353}, at(60s));
    a.tick(at(61s));
    EXPECT_FALSE(a.poll_join());
}

TEST(MdnsDiscovery, IgnoresItselfOtherClustersAndGoodbyes) {
    Discovery a(opts("a", 1));
    a.start(at(0s));
    auto own = drain(a)[2]; // its announcement, looped back
    feed(a, own, Endpoint{{10, 201, 0, 1}, 5353}, at(1ms));
    Discovery other_cluster([] {
        auto o = opts("x", 5);
        o.cluster = "prod";
        return o;
    }());
    other_cluster.start(at(0s));
    feed(a, drain(other_cluster)[2], Endpoint{{10, 201, 0, 5}, 5353}, at(2ms));
    auto gone = opts("g", 6);
    gone.ttl = 0;
    Discovery goodbye(gone);
    goodbye.start(at(0s));
    feed(a, drain(goodbye)[2], Endpoint{{10, 201, 0, 6}, 5353}, at(3ms));
    a.tick(at(1s));
    EXPECT_FALSE(a.poll_join());
    EXPECT_TRUE(a.peers().empty());
}

TEST(MdnsDiscovery, RetriesAFailedJoinAfterTheNextResponse) {
    Discovery a(opts("a", 1));
    Discovery b(opts("b", 2));
    a.start(at(0s));
    b.start(at(0s));
    auto ann = drain(b)[2];
    drain(a);
    feed(a, ann, Endpoint{{10, 201, 0, 2}, 5353}, at(0s));
    a.tick(at(1s));
    auto j = a.poll_join();
    ASSERT_TRUE(j);
    a.on_join_result(j->id, 0);
    feed(a, ann, Endpoint{{10, 201, 0, 2}, 5353}, at(60s));
    a.tick(at(61s));
    auto again = a.poll_join();
    ASSERT_TRUE(again);
    EXPECT_EQ(again->addresses, j->addresses);
}

TEST(MdnsDiscovery, MalformedPacketsAreDroppedAndCounted) {
    Discovery a(opts("a", 1));
    a.start(at(0s));
    drain(a);
    const std::uint8_t junk[] = {0, 0, 0x84, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0xc0, 0x0c};
    a.on_packet(junk, kSerfClient, at(1ms));
    a.on_packet(std::span<const std::uint8_t>(junk, 5), kSerfClient, at(2ms));
    EXPECT_EQ(a.stats().packets, 2u);
    EXPECT_EQ(a.stats().malformed, 2u);
    EXPECT_NE(a.stats().last_error.find("mdns:"), std::string::npos);
    EXPECT_TRUE(drain(a).empty());
    bool logged = false;
    while (auto l = a.poll_log())
        logged = logged || l->find("dropped a malformed packet from 10.201.0.9:40000") != std::string::npos;
    EXPECT_TRUE(logged);
    // A well-formed message with a non-zero opcode is ignored, not malformed.
    Message m;
    m.flags = 0x2000; // opcode 4 (NOTIFY)
    m.questions.push_back(Question{name_from_text("_serf_lab._tcp.local"), kTypePtr, kClassIn, false});
    auto bytes = encode(m);
    a.on_packet(std::span<const std::uint8_t>(bytes->data(), bytes->size()), kSerfClient, at(3ms));
    EXPECT_EQ(a.stats().ignored, 1u);
    EXPECT_EQ(a.stats().malformed, 2u);
    EXPECT_TRUE(drain(a).empty());
}

TEST(MdnsDiscovery, AnUnencodableNodeNameOnlyBrowses) {
    Discovery d(opts(std::string(70, 'n'), 1));
    EXPECT_NE(d.announce_error(), "");
    d.start(at(0s));
    auto out = drain(d);
    ASSERT_EQ(out.size(), 2u); // the queries only
    EXPECT_EQ(out[0].kind, Datagram::Kind::Query);
}

TEST(MdnsDiscovery, IPv6PeersAreJoinedInBrackets) {
    auto o = opts("v6", 0);
    o.addr = base::Bytes{0xfd, 0, 0, 0xcd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 7};
    Discovery v6(o);
    ASSERT_EQ(v6.announce_error(), "");
    v6.start(at(0s));
    auto ann = drain(v6)[2];
    auto r = decode(ann.data);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->answers[2].type, kTypeAaaa);
    Discovery a(opts("a", 1));
    a.start(at(0s));
    feed(a, ann, Endpoint{o.addr, 5353}, at(0s));
    a.tick(at(1s));
    auto j = a.poll_join();
    ASSERT_TRUE(j);
    EXPECT_EQ(j->addresses, std::vector<std::string>{"[fd00:cd::7]:7946"});
}
