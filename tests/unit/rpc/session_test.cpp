// rpc::Session scripts: every command and every error string, driven through a FakeAgent.
#include <gtest/gtest.h>

#include "clusterd/rpc/session.hpp"
#include "unit/rpc/fake_agent.hpp"
#include "unit/rpc/wire_helpers.hpp"

using namespace clusterd;
using namespace clusterd::rpc;
using namespace clusterd::rpc::testing;

namespace {

struct Harness {
    FakeAgent agent;
    Session s;
    explicit Harness(SessionConfig cfg = {}) : s(agent, std::move(cfg)) {}
    std::vector<Frame> run(const base::Bytes& b) {
        s.feed(b);
        return frames(s.take_output());
    }
    void ready() {
        auto f = run(handshake(1));
        ASSERT_EQ(f.size(), 1u);
        ASSERT_EQ(f[0].header.error, "");
    }
};

template <typename T> T body_as(const Frame& f) {
    T out{};
    EXPECT_TRUE(f.body.has_value());
    if (f.body) {
        EXPECT_TRUE(decode(*f.body, out).ok());
    }
    return out;
}

Member member(const std::string& name, const std::string& status, Tags tags = {}) {
    Member m;
    m.name = name;
    m.addr = {127, 0, 0, 1};
    m.port = 7946;
    m.status = status;
    m.tags = std::move(tags);
    m.protocol_min = 1;
    m.protocol_max = 5;
    m.protocol_cur = 2;
    m.delegate_min = 2;
    m.delegate_max = 5;
    m.delegate_cur = 4;
    return m;
}

} // namespace

TEST(RpcSession, CommandBeforeHandshakeIsRefusedAndCloses) {
    Harness h;
    auto f = h.run(req("members", 7));
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].header.seq, 7u);
    EXPECT_EQ(f[0].header.error, "Handshake required");
    EXPECT_TRUE(h.s.closing());
    EXPECT_TRUE(h.run(handshake(8)).empty()); // nothing more is processed
}

TEST(RpcSession, HandshakeVersionAndDuplicate) {
    Harness h;
    auto f = h.run(req("handshake", 1, HandshakeRequest{2}));
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].header.error, "Unsupported IPC version");
    EXPECT_FALSE(h.s.handshake_done());
    f = h.run(req("handshake", 2, HandshakeRequest{0}));
    EXPECT_EQ(f.at(0).header.error, "Unsupported IPC version");
    f = h.run(handshake(3));
    EXPECT_EQ(f.at(0).header.error, "");
    f = h.run(handshake(4));
    EXPECT_EQ(f.at(0).header.error, "Handshake already performed");
    EXPECT_EQ(f.at(0).header.seq, 4u);
    EXPECT_FALSE(h.s.closing());
}

TEST(RpcSession, UnknownCommandIsUnsupportedAndCloses) {
    Harness h;
    h.ready();
    auto f = h.run(req("frobnicate", 9));
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].header.error, "Unsupported command");
    EXPECT_TRUE(h.s.closing());
}

TEST(RpcSession, AuthGate) {
    SessionConfig cfg;
    cfg.auth_key = "s3cr3t-token-0123";
    Harness h(cfg);
    h.ready();
    auto f = h.run(req("members", 2));
    EXPECT_EQ(f.at(0).header.error, "Authentication required");
    // A command with a body: the body is consumed, the next request still parses.
    f = h.run(cat({req("event", 3, EventRequest{"x", {}, false}), req("stats", 4)}));
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[0].header.error, "Authentication required");
    EXPECT_EQ(f[1].header.error, "Authentication required");
    EXPECT_TRUE(h.agent.calls.empty());
    f = h.run(req("auth", 5, AuthRequest{"wrong"}));
    EXPECT_EQ(f.at(0).header.error, "Invalid authentication token");
    f = h.run(req("auth", 6, AuthRequest{"s3cr3t-token-0123"}));
    EXPECT_EQ(f.at(0).header.error, "");
    h.agent.member_list = {member("a", "alive")};
    f = h.run(req("members", 7));
    EXPECT_EQ(f.at(0).header.error, "");
    EXPECT_EQ(body_as<MembersResponse>(f[0]).members.size(), 1u);
}

TEST(RpcSession, RepeatedBadTokensClose) {
    SessionConfig cfg;
    cfg.auth_key = "s3cr3t-token-0123";
    cfg.max_auth_failures = 3;
    Harness h(cfg);
    h.ready();
    for (int i = 0; i < 3; ++i) {
        auto f = h.run(req("auth", 10 + i, AuthRequest{"nope"}));
        EXPECT_EQ(f.at(0).header.error, "Invalid authentication token");
    }
    EXPECT_TRUE(h.s.closing());
    EXPECT_EQ(h.s.counters().auth_failures, 3u);
}

TEST(RpcSession, AuthWithoutServerKeyMatchesOnlyEmpty) {
    Harness h;
    h.ready();
    EXPECT_EQ(h.run(req("auth", 2, AuthRequest{"x"})).at(0).header.error, "Invalid authentication token");
    EXPECT_EQ(h.run(req("auth", 3, AuthRequest{""})).at(0).header.error, "");
}

// `members` answers are kept encoded under the agent's members version: asked again under the
// same version the agent's list is not built again; a new version (or none) builds it anew.
TEST(RpcSession, MembersAnswerIsKeptUnderTheMembersVersion) {
    Harness h;
    h.ready();
    h.agent.member_list = {member("a", "alive"), member("b", "alive")};
    h.agent.version = 1000001; // versions are never reused, whatever the session
    auto first = h.run(req("members", 2)).at(0);
    auto second = h.run(req("members", 3)).at(0);
    EXPECT_EQ(h.agent.members_calls, 1);
    EXPECT_EQ(body_as<MembersResponse>(second).members.size(), 2u);
    EXPECT_EQ(second.header.seq, 3u);
    EXPECT_EQ(body_as<MembersResponse>(first).members, body_as<MembersResponse>(second).members);
    h.agent.member_list.push_back(member("c", "failed"));
    h.agent.version = 1000002;
    auto third = body_as<MembersResponse>(h.run(req("members", 4)).at(0)).members;
    EXPECT_EQ(h.agent.members_calls, 2);
    ASSERT_EQ(third.size(), 3u);
    EXPECT_EQ(third[2].status, "failed");
    h.agent.version = 0; // unknown: never kept
    h.run(req("members", 5));
    h.run(req("members", 6));
    EXPECT_EQ(h.agent.members_calls, 4);
}

TEST(RpcSession, MembersAndFilters) {
    Harness h;
    h.ready();
    h.agent.member_list = {member("web-1", "alive", {{"role", "web"}}),
                           member("db-1", "failed", {{"role", "db"}}),
                           member("web-2", "left", {{"role", "web"}, {"dc", "x"}})};
    auto all = body_as<MembersResponse>(h.run(req("members", 2)).at(0)).members;
    EXPECT_EQ(all, h.agent.member_list);

    auto f = h.run(req("members-filtered", 3, MembersFilteredRequest{{{"role", "web"}}, "", ""}));
    auto got = body_as<MembersResponse>(f.at(0)).members;
    ASSERT_EQ(got.size(), 2u);
    EXPECT_EQ(got[0].name, "web-1");
    EXPECT_EQ(got[1].name, "web-2");

    got = body_as<MembersResponse>(
              h.run(req("members-filtered", 4, MembersFilteredRequest{{}, "alive|failed", ""})).at(0))
              .members;
    EXPECT_EQ(got.size(), 2u);
    got = body_as<MembersResponse>(
              h.run(req("members-filtered", 5, MembersFilteredRequest{{}, "", "web-."})).at(0))
              .members;
    EXPECT_EQ(got.size(), 2u);
    // Anchored: "web" alone matches no name.
    got = body_as<MembersResponse>(
              h.run(req("members-filtered", 6, MembersFilteredRequest{{}, "", "web"})).at(0))
              .members;
    EXPECT_TRUE(got.empty());
    // A tag filter on a missing tag matches the empty value.
    got = body_as<MembersResponse>(
              h.run(req("members-filtered", 7, MembersFilteredRequest{{{"dc", ""}}, "", ""})).at(0))
              .members;
    EXPECT_EQ(got.size(), 2u);
    // A bad regex is an error reply with the text Serf's agent logs (the connection stays usable).
    f = h.run(req("members-filtered", 8, MembersFilteredRequest{{}, "(", ""}));
    EXPECT_EQ(f.at(0).header.error,
              "Failed to compile regex: error parsing regexp: missing closing ): `^($`");
    EXPECT_TRUE(body_as<MembersResponse>(f.at(0)).members.empty());
    EXPECT_FALSE(h.s.closing());
    f = h.run(req("members-filtered", 9, MembersFilteredRequest{{{"role", "\\C"}}, "", ""}));
    EXPECT_EQ(f.at(0).header.error,
              "Failed to compile regex: error parsing regexp: invalid escape sequence: `\\C`");
    // RE2 (Go) syntax that ECMAScript lacks: Perl classes, (?i), \pL.
    got = body_as<MembersResponse>(
              h.run(req("members-filtered", 10, MembersFilteredRequest{{}, "", "(?i)WEB-\\d"})).at(0))
              .members;
    EXPECT_EQ(got.size(), 2u);
    got = body_as<MembersResponse>(
              h.run(req("members-filtered", 11, MembersFilteredRequest{{{"role", "\\pL+"}}, "", ""})).at(0))
              .members;
    EXPECT_EQ(got.size(), 3u);
}

TEST(RpcSession, EventJoinForceLeaveTagsLeave) {
    Harness h;
    h.ready();
    auto f = h.run(req("event", 2, EventRequest{"deploy", base::to_bytes("v1"), true}));
    EXPECT_EQ(f.at(0).header.error, "");
    h.agent.next_error = "user event exceeds limit of 512 bytes";
    f = h.run(req("event", 3, EventRequest{"big", base::to_bytes("x"), false}));
    EXPECT_EQ(f.at(0).header.error, "user event exceeds limit of 512 bytes");

    f = h.run(req("join", 4, JoinRequest{{"10.0.0.1:7946", "10.0.0.2"}, true}));
    EXPECT_EQ(f.at(0).header.error, "");
    EXPECT_EQ(body_as<JoinResponse>(f[0]).num, 2);
    h.agent.next_error = "1 error occurred";
    h.agent.join_count = 0;
    f = h.run(req("join", 5, JoinRequest{{"x"}, false}));
    EXPECT_EQ(f.at(0).header.error, "1 error occurred");
    EXPECT_EQ(body_as<JoinResponse>(f[0]).num, 0); // body is sent even on error, as Serf

    f = h.run(req("force-leave", 6, ForceLeaveRequest{"db-1", true}));
    EXPECT_EQ(f.at(0).header.error, "");
    f = h.run(req("tags", 7, TagsRequest{{{"role", "web"}}, {"old"}}));
    EXPECT_EQ(f.at(0).header.error, "");
    EXPECT_EQ(h.agent.tags, (Tags{{"role", "web"}}));

    EXPECT_EQ(h.agent.calls,
              (std::vector<std::string>{"event deploy v1 coalesce=1", "event big x coalesce=0",
                                        "join 10.0.0.1:7946 10.0.0.2 replay=1", "join x replay=0",
                                        "force-leave db-1 prune=1", "tags -old role=web"}));
    f = h.run(req("leave", 8));
    EXPECT_EQ(f.at(0).header.error, "");
    EXPECT_TRUE(h.s.leave_replied());
    EXPECT_FALSE(h.s.closing()); // the agent's shutdown closes it, not the session
}

TEST(RpcSession, AsyncRepliesKeepRequestOrder) {
    Harness h;
    h.ready();
    h.agent.defer = true;
    auto f = h.run(cat({req("join", 2, JoinRequest{{"a"}, false}), req("stats", 3)}));
    EXPECT_TRUE(f.empty());
    EXPECT_TRUE(h.s.busy());
    h.agent.run_deferred();
    f = frames(h.s.take_output());
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[0].header.seq, 2u);
    EXPECT_EQ(f[1].header.seq, 3u);
}

TEST(RpcSession, PipelinedInputBehindABusyRequestIsBounded) {
    SessionConfig cfg;
    cfg.max_request_bytes = 1024;
    Harness h(cfg);
    h.ready();
    h.agent.defer = true;
    h.run(req("join", 2, JoinRequest{{"a"}, false}));
    EXPECT_TRUE(h.s.busy());
    for (int i = 0; i < 1000 && !h.s.closing(); ++i)
        h.run(req("stats", 10 + i));
    EXPECT_TRUE(h.s.closing());
    EXPECT_LE(h.s.buffered(), 4u * 1024u + 64u);
}

TEST(RpcSession, CallbackAfterSessionDiesIsIgnored) {
    FakeAgent agent;
    agent.defer = true;
    {
        Session s(agent, {});
        s.feed(cat({handshake(1), req("event", 2, EventRequest{"e", {}, false})}));
        EXPECT_EQ(agent.deferred.size(), 1u);
    }
    agent.run_deferred(); // must not touch the dead session (ASan would catch it)
    SUCCEED();
}

TEST(RpcSession, KeyCommands) {
    Harness h;
    h.ready();
    h.agent.key_response.num_nodes = 3;
    h.agent.key_response.num_resp = 3;
    h.agent.key_response.keys = {{"k1", 3}, {"k2", 1}};
    auto f = h.run(req("list-keys", 2));
    auto kr = body_as<KeyResponse>(f.at(0));
    EXPECT_EQ(kr.keys.size(), 2u);
    EXPECT_EQ(kr.num_nodes, 3);
    f = h.run(req("install-key", 3, KeyRequest{"k3"}));
    EXPECT_TRUE(body_as<KeyResponse>(f.at(0)).keys.empty()); // Keys only in list-keys
    const auto* keys = f[0].body->find("Keys");
    ASSERT_NE(keys, nullptr);
    EXPECT_TRUE(keys->is_nil());
    h.agent.key_response.error = "1/3 nodes reported failure";
    h.agent.key_response.messages = {{"n2", "Key not found"}};
    f = h.run(req("use-key", 4, KeyRequest{"k3"}));
    EXPECT_EQ(f.at(0).header.error, "1/3 nodes reported failure");
    EXPECT_EQ(body_as<KeyResponse>(f[0]).messages.at("n2"), "Key not found");
    f = h.run(req("remove-key", 5, KeyRequest{"k1"}));
    EXPECT_EQ(f.at(0).header.error, "1/3 nodes reported failure");
    EXPECT_EQ(h.agent.calls,
              (std::vector<std::string>{"list-keys", "install-key k3", "use-key k3", "remove-key k1"}));
}

TEST(RpcSession, StatsAndCoordinate) {
    Harness h;
    h.ready();
    h.agent.stats_map = {{"agent", {{"name", "a"}}}, {"serf", {{"members", "3"}}}};
    auto f = h.run(req("stats", 2));
    EXPECT_EQ(body_as<StatsResponse>(f.at(0)), h.agent.stats_map);
    Coordinate c;
    c.vec = {0.001, 0, 0, 0, 0, 0, 0, 0};
    c.error = 1.5;
    c.height = 1e-5;
    h.agent.coords["a"] = c;
    f = h.run(req("get-coordinate", 3, CoordinateRequest{"a"}));
    auto cr = body_as<CoordinateResponse>(f.at(0));
    EXPECT_TRUE(cr.ok);
    EXPECT_EQ(cr.coord, c);
    f = h.run(req("get-coordinate", 4, CoordinateRequest{"nope"}));
    EXPECT_FALSE(body_as<CoordinateResponse>(f.at(0)).ok);
}

TEST(RpcSession, StoreListAnswersTheRegistryOrAnErrorWithoutADatastore) {
    Harness h;
    h.ready();
    auto f = h.run(req("store-list", 2));
    ASSERT_EQ(f.size(), 1u);
    EXPECT_NE(f[0].header.error.find("no datastore configured"), std::string::npos);
    EXPECT_TRUE(f[0].body.has_value()); // the body follows errors too: one reply shape
    StoreListing l;
    l.store = "sqlite:/tmp/x.db";
    l.state = "up";
    l.now_ms = 1'700'000'000'000;
    l.rows = {StoreRow{"a", "10.0.0.1:7946", 1, 2, 3, ""},
              StoreRow{"bad", "x", 0, 0, 0, "address: not ip:port"}};
    h.agent.store = l;
    h.agent.defer = true; // answered later, like the store's worker thread
    EXPECT_TRUE(h.run(req("store-list", 3)).empty());
    ASSERT_EQ(h.agent.deferred.size(), 1u);
    h.agent.deferred[0]();
    f = frames(h.s.take_output());
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].header.seq, 3u);
    EXPECT_EQ(f[0].header.error, "");
    EXPECT_EQ(body_as<StoreListResponse>(f[0]), l);
}

TEST(RpcSession, StreamFiltersDuplicateAndStop) {
    Harness h;
    h.ready();
    EXPECT_EQ(h.run(req("stream", 2, StreamRequest{"member-join,bogus"})).at(0).header.error,
              "Invalid event filter");
    EXPECT_EQ(h.run(req("stream", 3, StreamRequest{"member-join,user:deploy"})).at(0).header.error, "");
    EXPECT_EQ(h.run(req("stream", 3, StreamRequest{"*"})).at(0).header.error,
              "Stream with given sequence exists");
    EXPECT_EQ(h.agent.event_subscribers(), 1u);
    h.agent.emit(MemberEvent{"member-join", {member("n1", "alive")}});
    h.agent.emit(MemberEvent{"member-leave", {member("n1", "left")}});
    h.agent.emit(UserEvent{5, "deploy", base::to_bytes("p"), true});
    h.agent.emit(UserEvent{6, "other", {}, false});
    auto f = frames(h.s.take_output());
    ASSERT_EQ(f.size(), 2u);
    EXPECT_EQ(f[0].header.seq, 3u);
    EXPECT_EQ(f[0].body->find("Event")->s, "member-join");
    EXPECT_EQ(f[1].body->find("Event")->s, "user");
    EXPECT_EQ(f[1].body->find("Name")->s, "deploy");
    EXPECT_EQ(h.run(req("stop", 4, StopRequest{3})).at(0).header.error, "");
    EXPECT_EQ(h.agent.event_subscribers(), 0u);
    EXPECT_EQ(h.run(req("stop", 5, StopRequest{99})).at(0).header.error, ""); // always succeeds
}

TEST(RpcSession, SlowStreamReaderDropsBeyond512) {
    Harness h;
    h.ready();
    h.run(req("stream", 2, StreamRequest{"user"}));
    for (int i = 0; i < 2000; ++i)
        h.agent.emit(UserEvent{static_cast<std::uint64_t>(i), "e", {}, false});
    EXPECT_EQ(h.s.counters().dropped_records, 2000u - 512u);
    auto f = frames(h.s.take_output());
    EXPECT_EQ(f.size(), 512u);
    // Taking the output frees the queue.
    h.agent.emit(UserEvent{1, "e", {}, false});
    EXPECT_EQ(frames(h.s.take_output()).size(), 1u);
}

// Replies that follow one another share one output buffer; stream records keep their own
// entries. Pipelined replies and records of a stream, interleaved, come out in the order they
// were produced, and the per-stream queue accounting still frees as the output is taken.
TEST(RpcSession, PipelinedRepliesAndStreamRecordsKeepTheirOrder) {
    Harness h;
    h.ready();
    h.agent.member_list = {member("a", "alive")};
    h.agent.version = 7;
    base::Bytes batch = req("stream", 2, StreamRequest{"user"});
    for (std::uint64_t seq = 3; seq < 7; ++seq) {
        const auto r = req("members", seq);
        batch.insert(batch.end(), r.begin(), r.end());
    }
    h.s.feed(batch);
    h.agent.emit(UserEvent{1, "e1", {}, false});
    const auto more = req("members", 7);
    h.s.feed(more);
    h.agent.emit(UserEvent{2, "e2", {}, false});
    h.agent.emit(UserEvent{3, "e3", {}, false});
    h.s.feed(req("members", 8));
    const auto f = frames(h.s.take_output());
    // stream ack, members 3-6, record, members 7, two records, members 8
    ASSERT_EQ(f.size(), 10u);
    const std::vector<std::uint64_t> seqs = {2, 3, 4, 5, 6, 2, 7, 2, 2, 8};
    for (std::size_t i = 0; i < f.size(); ++i)
        EXPECT_EQ(f[i].header.seq, seqs[i]) << "frame " << i;
    EXPECT_EQ(body_as<MembersResponse>(f[1]).members.size(), 1u);
    EXPECT_EQ(body_as<MembersResponse>(f[9]).members.size(), 1u);
    EXPECT_FALSE(h.s.has_output());
    // The three records were counted against the stream's queue and are free again.
    for (int i = 0; i < 512; ++i)
        h.agent.emit(UserEvent{static_cast<std::uint64_t>(10 + i), "e", {}, false});
    EXPECT_EQ(h.s.counters().dropped_records, 0u);
    EXPECT_EQ(frames(h.s.take_output()).size(), 512u);
}

TEST(RpcSession, QueryEventsAndRespond) {
    Harness h;
    h.ready();
    h.run(req("stream", 2, StreamRequest{"query:load"}));
    h.agent.emit(QueryEvent{777, 9, "load", base::to_bytes("?"), base::Instant{std::chrono::seconds(10)}});
    auto f = frames(h.s.take_output());
    ASSERT_EQ(f.size(), 1u);
    std::uint64_t id = 0;
    ASSERT_TRUE(f[0].body->find("ID")->as_uint(id));
    EXPECT_EQ(f[0].body->find("Event")->s, "query");
    EXPECT_EQ(h.run(req("respond", 3, RespondRequest{id, base::to_bytes("ok")})).at(0).header.error, "");
    EXPECT_EQ(h.agent.responses.at(777), base::to_bytes("ok"));
    EXPECT_EQ(h.run(req("respond", 4, RespondRequest{id + 100, {}})).at(0).header.error,
              "No pending queries matching ID");
    h.s.expire(base::Instant{std::chrono::seconds(11)});
    EXPECT_EQ(h.run(req("respond", 5, RespondRequest{id, {}})).at(0).header.error,
              "No pending queries matching ID");
}

TEST(RpcSession, QueryRecordsFollowTheReply) {
    Harness h;
    h.ready();
    QueryParams p;
    p.name = "q";
    p.request_ack = true;
    p.filter_tags = {{"role", "web"}};
    p.timeout = std::chrono::milliseconds(500);
    auto f = h.run(req("query", 2, QueryRequest{p}));
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].header.error, "");
    ASSERT_EQ(h.agent.queries.size(), 1u);
    auto& q = h.agent.queries.begin()->second;
    EXPECT_EQ(q.params.filter_tags, p.filter_tags);
    EXPECT_EQ(q.params.timeout, p.timeout);
    q.cbs.on_ack("n1");
    q.cbs.on_response("n1", base::to_bytes("pong"));
    q.cbs.on_done();
    f = frames(h.s.take_output());
    ASSERT_EQ(f.size(), 3u);
    EXPECT_EQ(f[0].body->find("Type")->s, "ack");
    EXPECT_EQ(f[1].body->find("Type")->s, "response");
    EXPECT_EQ(f[1].body->find("Payload")->s, "pong");
    EXPECT_EQ(f[2].body->find("Type")->s, "done");
    EXPECT_FALSE(h.s.has_subscriptions());
    h.agent.next_error = "Queries cannot contain the '_serf_' prefix";
    p.name = "_serf_x";
    EXPECT_EQ(h.run(req("query", 3, QueryRequest{p})).at(0).header.error,
              "Queries cannot contain the '_serf_' prefix");
}

TEST(RpcSession, MonitorLevelsAndDuplicate) {
    Harness h;
    h.ready();
    EXPECT_EQ(h.run(req("monitor", 2, MonitorRequest{"verbose"})).at(0).header.error,
              "Unknown log level: VERBOSE");
    EXPECT_EQ(h.run(req("monitor", 3, MonitorRequest{"warn"})).at(0).header.error, "");
    EXPECT_EQ(h.run(req("monitor", 4, MonitorRequest{"debug"})).at(0).header.error, "Monitor already exists");
    h.agent.log("2026/01/01 00:00:00 [INFO] agent: hello");
    h.agent.log("2026/01/01 00:00:00 [WARN] agent: careful");
    h.agent.log("2026/01/01 00:00:00 [ERR] agent: broken");
    h.agent.log("no level at all");
    auto f = frames(h.s.take_output());
    ASSERT_EQ(f.size(), 3u);
    EXPECT_EQ(f[0].header.seq, 3u);
    EXPECT_EQ(body_as<LogRecord>(f[0]).log, "2026/01/01 00:00:00 [WARN] agent: careful");
    EXPECT_EQ(body_as<LogRecord>(f[2]).log, "no level at all");
    h.run(req("stop", 5, StopRequest{3}));
    EXPECT_EQ(h.agent.log_subscribers(), 0u);
    EXPECT_EQ(h.run(req("monitor", 6, MonitorRequest{"info"})).at(0).header.error, "");
}

TEST(RpcSession, GarbageTruncationAndOversize) {
    {
        Harness h;
        h.run(base::Bytes{0xc1, 0x00});
        EXPECT_TRUE(h.s.closing());
    }
    {
        Harness h;
        h.run(base::Bytes{0x93, 0x01, 0x02, 0x03}); // an array, not a header map
        EXPECT_TRUE(h.s.closing());
    }
    {
        // A request split at every byte boundary still works.
        Harness h;
        auto all = cat({handshake(1), req("members", 2)});
        std::vector<Frame> got;
        for (auto b : all) {
            auto f = h.run(base::Bytes{b});
            got.insert(got.end(), f.begin(), f.end());
        }
        ASSERT_EQ(got.size(), 2u);
        EXPECT_EQ(got[1].header.seq, 2u);
    }
    {
        SessionConfig cfg;
        cfg.max_request_bytes = 1024;
        Harness h(cfg);
        h.ready();
        h.run(req("event", 2, EventRequest{"e", base::Bytes(4096, 'x'), false}));
        EXPECT_TRUE(h.s.closing());
        EXPECT_TRUE(h.agent.calls.empty());
    }
    {
        // The 16-byte header claiming a 4 GB string closes at once, buffering nothing big.
        Harness h;
        base::Bytes evil;
        ASSERT_TRUE(base::from_hex("81a7436f6d6d616e64dbf0000000", evil));
        h.run(evil);
        EXPECT_TRUE(h.s.closing());
    }
    {
        // A body that is not a map closes the connection (Serf: decode failure).
        Harness h;
        h.ready();
        base::Bytes b = req("join", 2);
        b.push_back(0x05);
        h.run(b);
        EXPECT_TRUE(h.s.closing());
    }
}

TEST(RpcSession, ConstantTimeEqual) {
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
    EXPECT_FALSE(constant_time_equal("", "a"));
    EXPECT_TRUE(constant_time_equal("", ""));
}

TEST(RpcEventFilter, ParseAndMatch) {
    auto f = parse_event_filter("");
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].event, "*");
    f = parse_event_filter("user:deploy,query:,member-reap");
    ASSERT_EQ(f.size(), 3u);
    EXPECT_EQ(f[0].name, "deploy");
    EXPECT_TRUE(f[1].valid());
    EXPECT_TRUE(f[1].matches(QueryEvent{1, 1, "anything", {}, {}}));
    EXPECT_FALSE(f[0].matches(UserEvent{1, "other", {}, false}));
    EXPECT_FALSE(parse_event_filter("member-joined")[0].valid());
    EXPECT_EQ(normalize_log_level("debug"), "DEBUG");
    EXPECT_EQ(normalize_log_level("warning"), "");
    EXPECT_TRUE(log_line_passes("[ERR] x", "WARN"));
    EXPECT_FALSE(log_line_passes("[DEBUG] x", "INFO"));
}

TEST(RpcSession, RepeatedMembersFollowEveryChange) {
    // The encoded answer is reused while the list is unchanged; any change must show at once,
    // also across sessions (the cache is shared) and for changes deep inside a member.
    Harness h;
    h.ready();
    h.agent.member_list = {member("a", "alive", {{"role", "web"}}), member("b", "alive")};
    auto first = body_as<MembersResponse>(h.run(req("members", 2)).at(0)).members;
    EXPECT_EQ(first, h.agent.member_list);
    EXPECT_EQ(body_as<MembersResponse>(h.run(req("members", 3)).at(0)).members, h.agent.member_list);

    h.agent.member_list[1].status = "failed";
    EXPECT_EQ(body_as<MembersResponse>(h.run(req("members", 4)).at(0)).members, h.agent.member_list);
    h.agent.member_list[0].tags["role"] = "db";
    EXPECT_EQ(body_as<MembersResponse>(h.run(req("members", 5)).at(0)).members, h.agent.member_list);
    h.agent.member_list[0].delegate_cur = 5;
    EXPECT_EQ(body_as<MembersResponse>(h.run(req("members", 6)).at(0)).members, h.agent.member_list);
    h.agent.member_list.push_back(member("c", "alive"));
    EXPECT_EQ(body_as<MembersResponse>(h.run(req("members", 7)).at(0)).members, h.agent.member_list);

    Harness other;
    other.ready();
    other.agent.member_list = {member("z", "left")};
    EXPECT_EQ(body_as<MembersResponse>(other.run(req("members", 2)).at(0)).members, other.agent.member_list);
    EXPECT_EQ(body_as<MembersResponse>(h.run(req("members", 8)).at(0)).members, h.agent.member_list);
    h.agent.member_list.clear();
    auto f = h.run(req("members", 9));
    ASSERT_EQ(f.size(), 1u);
    EXPECT_EQ(f[0].header.seq, 9u);
    EXPECT_TRUE(body_as<MembersResponse>(f[0]).members.empty());
}
