// Interop (label interop): the stock `serf` CLI against clusterd's RPC server backed by a
// FakeAgent. Proves the server speaks IPC v1 as Serf's Go client expects, independent of the
// real agent: members, join, event, tags, query, keys, info, monitor (+stream), rtt, leave, auth.
#include <gtest/gtest.h>

#include <asio/executor_work_guard.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <future>
#include <thread>

#include "clusterd/rpc/server.hpp"
#include "support/process.hpp"
#include "unit/rpc/fake_agent.hpp"

using namespace clusterd;
using namespace clusterd::rpc;
using namespace clusterd::testing;
using namespace std::chrono_literals;

namespace {

Member make_member(const std::string& name, std::uint8_t last, Tags tags) {
    Member m;
    m.name = name;
    m.addr = {127, 0, 0, last};
    m.port = 7946;
    m.status = "alive";
    m.tags = std::move(tags);
    m.protocol_min = 1;
    m.protocol_max = 5;
    m.protocol_cur = 2;
    m.delegate_min = 2;
    m.delegate_max = 5;
    m.delegate_cur = 4;
    return m;
}

class SerfCliAgainstOurServer : public ::testing::Test {
  protected:
    rpc::testing::FakeAgent agent; // declared first: outlives the io_context and the server
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
    std::unique_ptr<Server> server;
    std::thread th;

    void start(const std::string& auth = "") {
        agent.member_list = {make_member("n1", 5, {{"role", "web"}}), make_member("n2", 6, {})};
        ServerConfig cfg;
        cfg.bind = "127.0.0.41:0";
        cfg.auth_key = auth;
        auto s = Server::start(io, agent, cfg);
        ASSERT_TRUE(s.ok()) << s.error().message;
        server = std::move(*s);
        th = std::thread([this] { io.run(); });
    }
    template <typename F> auto on_io(F f) -> decltype(f()) {
        std::packaged_task<decltype(f())()> task(std::move(f));
        auto fut = task.get_future();
        asio::post(io, [&task] { task(); });
        return fut.get();
    }
    void TearDown() override {
        if (!th.joinable())
            return;
        on_io([this] {
            server.reset();
            return 0;
        });
        work.reset();
        io.stop();
        th.join();
    }
    std::string addr() { return "-rpc-addr=127.0.0.41:" + std::to_string(server->local_endpoint().port()); }
    RunResult serf(std::vector<std::string> args, std::chrono::milliseconds limit = 20s) {
        args.insert(args.begin(), "/usr/bin/serf");
        args.insert(args.begin() + 2, addr());
        return run(args, limit);
    }
};

} // namespace

TEST_F(SerfCliAgainstOurServer, Members) {
    start();
    auto r = serf({"members"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    // Serf trims the whole output, so the last line loses its trailing padding.
    EXPECT_EQ(r.out, "n1  127.0.0.5:7946  alive  role=web\nn2  127.0.0.6:7946  alive\n");
    r = serf({"members", "-detailed", "-tag", "role=w.*"});
    EXPECT_EQ(r.out,
              "n1  127.0.0.5:7946  alive  role=web  Protocol Version: 4  Available Protocol Range: [2, 5]\n");
    r = serf({"members", "-format=json", "-name=n2"});
    EXPECT_EQ(
        r.out,
        "{\n  \"members\": [\n    {\n      \"name\": \"n2\",\n      \"addr\": \"127.0.0.6:7946\",\n"
        "      \"port\": 7946,\n      \"tags\": {},\n      \"status\": \"alive\",\n      \"protocol\": {\n"
        "        \"max\": 5,\n        \"min\": 2,\n        \"version\": 4\n      }\n    }\n  ]\n}\n");
}

TEST_F(SerfCliAgainstOurServer, JoinEventTagsForceLeave) {
    start();
    auto r = serf({"join", "-replay", "10.1.1.1", "10.1.1.2:7946"});
    EXPECT_EQ(r.out, "Successfully joined cluster by contacting 2 nodes.\n");
    r = serf({"event", "-coalesce=false", "deploy", "v2"});
    EXPECT_EQ(r.out, "Event 'deploy' dispatched! Coalescing enabled: false\n");
    r = serf({"tags", "-set", "zone=a", "-delete", "role"});
    EXPECT_EQ(r.out, "Successfully updated agent tags\n");
    r = serf({"force-leave", "-prune", "n2"});
    EXPECT_EQ(r.exit_code, 0) << r.out;
    auto calls = on_io([this] { return agent.calls; });
    EXPECT_EQ(calls,
              (std::vector<std::string>{"join 10.1.1.1 10.1.1.2:7946 replay=1", "event deploy v2 coalesce=0",
                                        "tags -role zone=a", "force-leave n2 prune=1"}));
    on_io([this] {
        agent.next_error = "user event exceeds limit";
        return 0;
    });
    r = serf({"event", "big"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.out, "Error sending event: user event exceeds limit\n");
}

TEST_F(SerfCliAgainstOurServer, QueryStreamsAcksResponsesDone) {
    agent.on_query_started = [this](SubscriptionId id) {
        auto t = std::make_shared<asio::steady_timer>(io, 100ms);
        t->async_wait([this, id, t](const asio::error_code&) {
            auto& q = agent.queries.at(id);
            q.cbs.on_ack("fake1");
            q.cbs.on_response("fake1", base::to_bytes("pong\n"));
            // "done" comes at the deadline, well after the records (Serf's Go client drops
            // records that race with an immediate done, so a real agent never sends them together).
            auto t2 = std::make_shared<asio::steady_timer>(io, 300ms);
            t2->async_wait([this, id, t2](const asio::error_code&) { agent.queries.at(id).cbs.on_done(); });
        });
    };
    start();
    auto r = serf({"query", "-timeout=2s", "-tag", "role=web", "ping", "x"});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.out, "Query 'ping' dispatched\nAck from 'fake1'\nResponse from 'fake1': pong\nTotal Acks: "
                     "1\nTotal Responses: 1\n");
    auto params = on_io([this] { return agent.queries.begin()->second.params; });
    EXPECT_EQ(params.timeout, 2s);
    EXPECT_EQ(params.filter_tags, (Tags{{"role", "web"}}));
    EXPECT_EQ(params.payload, base::to_bytes("x"));
    EXPECT_TRUE(params.request_ack);
}

TEST_F(SerfCliAgainstOurServer, KeysInfoRtt) {
    agent.key_response.keys = {{"cg8StVXbQJ0gPvMd9o7yrg==", 2}};
    agent.key_response.num_nodes = 2;
    agent.key_response.num_resp = 2;
    agent.stats_map = {{"agent", {{"name", "n1"}}}, {"serf", {{"members", "2"}, {"failed", "0"}}}};
    Coordinate a;
    a.vec = {0.001, 0, 0, 0, 0, 0, 0, 0};
    Coordinate b;
    b.vec.assign(8, 0.0);
    agent.coords = {{"n1", a}, {"n2", b}};
    start();
    auto r = serf({"keys", "-list"});
    EXPECT_EQ(r.exit_code, 0);
    EXPECT_EQ(r.out,
              "==> Asking all members for installed keys...\n==> Keys gathered, listing cluster keys...\n\n"
              "cg8StVXbQJ0gPvMd9o7yrg==  [2/2]\n");
    r = serf({"keys", "-install", "HvY8ubRZMgafUOWvrOadwQ=="});
    EXPECT_EQ(r.out, "==> Installing key on all members...\n==> Successfully installed key!\n");
    on_io([this] {
        agent.key_response.error = "1/2 nodes reported failure";
        agent.key_response.messages = {{"n2", "bad key"}};
        return 0;
    });
    r = serf({"keys", "-use", "HvY8ubRZMgafUOWvrOadwQ=="});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.out, "==> Changing primary key on all members...\nfailed:  n2  bad key\n\n"
                     "Error changing primary key: 1/2 nodes reported failure\n");
    r = serf({"info"});
    EXPECT_EQ(r.out, "agent:\n\tname = n1\nserf:\n\tfailed = 0\n\tmembers = 2\n");
    r = serf({"rtt", "n1", "n2"});
    EXPECT_EQ(r.out, "Estimated n1 <-> n2 rtt: 1.000 ms\n");
    r = serf({"rtt", "n1"}); // second node = agent name from stats
    EXPECT_EQ(r.out, "Estimated n1 <-> n1 rtt: 0.000 ms\n");
}

TEST_F(SerfCliAgainstOurServer, MonitorGetsLogsAndStreamEvents) {
    agent.on_logs_subscribed = [this] {
        asio::post(io, [this] {
            agent.log("2026/01/01 00:00:00 [DEBUG] agent: hidden at info");
            agent.log("2026/01/01 00:00:00 [INFO] agent: visible line");
        });
    };
    agent.on_events_subscribed = [this] {
        asio::post(io, [this] { agent.emit(UserEvent{7, "deploy", base::to_bytes("v"), true}); });
    };
    start();
    auto r = serf({"monitor", "-log-level=info"}, 2000ms); // runs until killed at the limit
    EXPECT_NE(r.out.find("[INFO] agent: visible line"), std::string::npos) << r.out;
    EXPECT_EQ(r.out.find("hidden at info"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("Event Info:"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("\"deploy\""), std::string::npos) << r.out;
}

TEST_F(SerfCliAgainstOurServer, AuthAndLeave) {
    start("tok-0123456789abcdef");
    auto r = serf({"members", "-rpc-auth=tok-0123456789abcdef"});
    EXPECT_EQ(r.exit_code, 0) << r.out;
    r = serf({"members", "-rpc-auth=wrong"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.out, "Error connecting to Serf agent: Invalid authentication token\n");
    r = serf({"members"});
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_EQ(r.out, "Error retrieving members: Authentication required\n");
    r = serf({"leave", "-rpc-auth=tok-0123456789abcdef"});
    EXPECT_EQ(r.out, "Graceful leave complete\n");
    // shutdown() follows the flushed reply, so poll (bounded)
    EXPECT_TRUE(wait_until([this] { return on_io([this] { return agent.shutdown_called; }); }, 1s, 10ms));
}
