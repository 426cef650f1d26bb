// Issue 17: the HTTP listener on real agents. A mixed cluster (one real serf agent, two clusterd
// agents with -http-addr, one of them with -http-token) on loopback with the local timing
// profile; checks Kong's /cluster, Serf's member records, the probes, the event stream (a user
// event sent through serf), a kill -9 seen through /cluster, and the token rules.
#include <gtest/gtest.h>

#include <signal.h>

#include <nlohmann/json.hpp>

#include "support/cluster.hpp"
#include "support/http_client.hpp"
#include "support/ports.hpp"
#include "support/wait.hpp"

using namespace clusterd::testing;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

json body_json(const HttpReply& r) {
    auto j = json::parse(r.body, nullptr, false);
    return j.is_discarded() ? json::object() : j;
}

std::string port_arg(std::uint16_t p) {
    return "-http-addr=127.0.0.1:" + std::to_string(p);
}

} // namespace

TEST(HttpInterop, EndpointsOnAMixedCluster) {
    Cluster c("http-interop");
    const auto h1 = free_port();
    const auto h2 = free_port();
    auto& s1 = c.start(Kind::Serf, "s1", {"-profile=local"});
    auto& d1 = c.start(Kind::Clusterd, "d1", {"-profile=local", port_arg(h1), "-tag=role=<img src=x>"}, &s1);
    auto& d2 = c.start(Kind::Clusterd, "d2", {"-profile=local", port_arg(h2), "-http-token=s3cret"}, &s1);
    ASSERT_TRUE(c.wait_all_alive({"s1", "d1", "d2"}, 20s)) << c.dump();

    // Probes.
    auto health = http_get(h1, "/v1/health");
    ASSERT_EQ(health.status, 200) << health.head << c.dump();
    EXPECT_NE(health.head.find("Content-Type: application/json"), std::string::npos);
    EXPECT_EQ(body_json(health).value("status", ""), "ok");
    EXPECT_EQ(body_json(health).value("members_alive", 0), 3);
    EXPECT_TRUE(body_json(health).contains("loop_lag_max_us")) << health.body;
    auto ready = http_get(h1, "/v1/ready");
    EXPECT_EQ(ready.status, 200) << ready.body;
    EXPECT_EQ(body_json(ready).value("status", ""), "ready");

    // Kong's /cluster: every member, "ip:port" addresses, the ?status= filter.
    auto cl = body_json(http_get(h1, "/cluster"));
    ASSERT_TRUE(cl.contains("data")) << cl.dump();
    EXPECT_EQ(cl["total"], 3);
    std::map<std::string, std::string> addr;
    for (const auto& m : cl["data"]) {
        EXPECT_EQ(m["status"], "alive");
        addr[m["name"]] = m["address"];
    }
    EXPECT_EQ(addr["s1"], s1.bind_addr());
    EXPECT_EQ(addr["d2"], d2.bind_addr());
    EXPECT_EQ(body_json(http_get(h1, "/cluster?status=failed"))["total"], 0);

    // /v1/members: the records `serf members -format json` prints through the same agent, and
    // the same members with the same statuses and addresses as the serf agent sees them.
    auto mine = body_json(http_get(h1, "/v1/members"));
    auto via_cli = c.members_json(d1);
    ASSERT_TRUE(via_cli.contains("members")) << c.dump();
    auto by_name = [](const json& j) {
        std::map<std::string, json> out;
        for (const auto& m : j["members"])
            out[m["name"]] = m;
        return out;
    };
    EXPECT_EQ(by_name(mine), by_name(via_cli)) << mine.dump() << "\n" << via_cli.dump();
    auto from_serf = by_name(c.members_json(s1));
    ASSERT_EQ(from_serf.size(), 3u);
    for (const auto& [name, m] : by_name(mine)) {
        EXPECT_EQ(m["addr"], from_serf[name]["addr"]) << name;
        EXPECT_EQ(m["status"], from_serf[name]["status"]) << name;
        EXPECT_EQ(m["tags"], from_serf[name]["tags"]) << name;
    }

    // /metrics before the event, the query and the kill -9 below: the counters must move by
    // exactly what happens (the scrape is checked again at the end).
    auto scrape = [&](int port) {
        auto r = http_get(port, "/metrics");
        EXPECT_EQ(r.status, 200);
        EXPECT_NE(r.head.find("text/plain; version=0.0.4"), std::string::npos) << r.head;
        return r.body;
    };
    // The value of one series ("name{labels}"), 0 when it is absent.
    auto value = [](const std::string& text, const std::string& series) {
        const auto at = text.find("\n" + series + " ");
        return at == std::string::npos ? 0.0 : std::atof(text.c_str() + at + series.size() + 2);
    };
    const std::string before = scrape(h1);
    EXPECT_NE(before.find("\nmemberlist_msg_alive_total "), std::string::npos) << before;
    auto om = http_get(h1, "/metrics", {"Accept: application/openmetrics-text; version=1.0.0"});
    EXPECT_NE(om.head.find("application/openmetrics-text"), std::string::npos) << om.head;
    EXPECT_EQ(om.body.substr(om.body.size() - 6), "# EOF\n");

    // The event stream carries a user event sent through the serf agent.
    SseStream sse(h1, "/v1/events");
    ASSERT_TRUE(sse.ok());
    EXPECT_NE(sse.read_until("retry:", 5s).find("text/event-stream"), std::string::npos);
    auto ev = c.serf_cli(s1, {"event", "deploy", "v42"});
    ASSERT_EQ(ev.exit_code, 0) << ev.err;
    const auto& got = sse.read_until("\"Name\":\"deploy\"", 10s);
    EXPECT_NE(got.find("event: user\ndata: {\"Event\":\"user\""), std::string::npos) << got;
    EXPECT_NE(got.find("\"Payload\":\"djQy\""), std::string::npos) << got; // base64("v42")

    // The token: refused without it or with a wrong one, served with it.
    auto anon = http_get(h2, "/v1/health");
    EXPECT_EQ(anon.status, 401);
    EXPECT_NE(anon.head.find("WWW-Authenticate: Bearer"), std::string::npos);
    EXPECT_EQ(http_get(h2, "/cluster", {"Authorization: Bearer s3cres"}).status, 401);
    EXPECT_EQ(http_get(h2, "/cluster", {"Authorization: Bearer s3cret"}).status, 200);
    EXPECT_EQ(http_get(h2, "/v1/events", {"Authorization: Basic czNjcmV0"}, 2s).status, 401);
    auto login = http_get(h2, "/?token=s3cret");
    EXPECT_EQ(login.status, 303);
    EXPECT_NE(login.head.find("Set-Cookie: clusterd_token=s3cret; Path=/; HttpOnly; SameSite=Strict"),
              std::string::npos);
    EXPECT_EQ(http_get(h2, "/", {"Cookie: clusterd_token=s3cret"}).status, 200);

    // Bad requests get 4xx, and the agent keeps serving.
    EXPECT_EQ(http_get(h1, "/v1/health", {}, 5s, "POST").status, 405);
    EXPECT_EQ(http_get(h1, "/nope").status, 404);
    EXPECT_EQ(http_get(h1, "/", {"X-Big: " + std::string(20000, 'a')}).status, 431);
    auto page = http_get(h1, "/");
    EXPECT_EQ(page.status, 200);
    EXPECT_NE(page.body.find("role=&lt;img src=x&gt;"), std::string::npos); // escaped on the server
    EXPECT_EQ(page.body.find("<img src=x>"), std::string::npos);
    // One user event and one query went through the cluster since `before`.
    auto q = c.serf_cli(s1, {"query", "-timeout=2s", "ping-all", "x"});
    EXPECT_EQ(q.exit_code, 0) << q.err;
    EXPECT_TRUE(wait_until([&] { return value(scrape(h1), "serf_queries_total{name=\"ping-all\"}") == 1; },
                           5s, 100ms));
    const std::string mid = scrape(h1);
    EXPECT_EQ(value(mid, "serf_events_total{name=\"deploy\"}") -
                  value(before, "serf_events_total{name=\"deploy\"}"),
              1)
        << mid;
    // The listener's counters in `info` (the stats RPC): the 431 above was counted.
    auto info = c.clusterd_cli(d1, {"info", "-format=json"});
    ASSERT_EQ(info.exit_code, 0) << info.err;
    auto nw = json::parse(info.out, nullptr, false)["network"];
    EXPECT_EQ(nw.value("http_rejected", ""), "1") << info.out;
    EXPECT_NE(nw.value("http_requests", "0"), "0") << info.out;
    EXPECT_EQ(body_json(http_get(h2, "/cluster")).size(), 0u); // 401 body is not JSON
    auto info2 = c.clusterd_cli(d2, {"info", "-format=json"});
    EXPECT_NE(json::parse(info2.out, nullptr, false)["network"].value("http_unauthorized", "0"), "0")
        << info2.out;

    // kill -9 of a member: /cluster shows it failed, readiness holds (d1 still has company).
    c.agents()[0].child.kill9(); // s1
    EXPECT_TRUE(wait_until(
        [&] {
            auto j = body_json(http_get(h1, "/cluster?status=failed"));
            return j.value("total", 0) == 1 && j["data"][0]["name"] == "s1";
        },
        15s, 200ms))
        << c.dump();
    EXPECT_EQ(http_get(h1, "/v1/ready").status, 200);
    EXPECT_TRUE(d1.child.running());
    // The kill -9: exactly one member-failed at d1, and members by status moved with it.
    const std::string after = scrape(h1);
    EXPECT_EQ(value(after, "serf_member_failed_total") - value(mid, "serf_member_failed_total"), 1) << after;
    EXPECT_GE(value(after, "memberlist_msg_suspect_total") + value(after, "memberlist_msg_dead_total"),
              value(mid, "memberlist_msg_suspect_total") + value(mid, "memberlist_msg_dead_total") + 1)
        << after;
}

TEST(HttpInterop, RefusesANonLoopbackAddressWithoutAToken) {
    const auto dir = temp_dir("http-refuse");
    const auto port = free_port();
    auto r = run({clusterd_bin(), "agent", "-node=x", "-bind=127.0.0.1:" + std::to_string(free_port()),
                  "-rpc-addr=127.0.0.1:" + std::to_string(free_port()),
                  "-http-addr=0.0.0.0:" + std::to_string(port)},
                 10s);
    EXPECT_EQ(r.exit_code, 1);
    EXPECT_NE(r.err.find("refusing to serve HTTP on non-loopback address 0.0.0.0"), std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("http_token"), std::string::npos);
    // The same address with a token starts (and serves, with the token).
    Process p({clusterd_bin(), "agent", "-node=y", "-bind=127.0.0.1:" + std::to_string(free_port()),
               "-rpc-addr=127.0.0.1:" + std::to_string(free_port()),
               "-http-addr=0.0.0.0:" + std::to_string(port), "-http-token=t0k"},
              dir + "/y.log");
    ASSERT_TRUE(p.wait_ready(
        [&] { return http_get(port, "/v1/health", {"Authorization: Bearer t0k"}).status == 200; }, 10s))
        << p.log();
    EXPECT_EQ(http_get(port, "/v1/health").status, 401);
}

TEST(HttpInterop, ReadinessFollowsJoinAndDatastore) {
    const auto dir = temp_dir("http-ready");
    // -retry-join towards nobody: healthy, not ready, with the reason.
    const auto h1 = free_port();
    Process lonely({clusterd_bin(), "agent", "-node=lonely", "-profile=local",
                    "-bind=127.0.0.1:" + std::to_string(free_port()),
                    "-rpc-addr=127.0.0.1:" + std::to_string(free_port()), port_arg(h1),
                    "-retry-join=127.0.0.1:" + std::to_string(free_port()), "-retry-interval=1s"},
                   dir + "/lonely.log");
    ASSERT_TRUE(lonely.wait_ready([&] { return http_get(h1, "/v1/health").status == 200; }, 10s))
        << lonely.log();
    auto r = http_get(h1, "/v1/ready");
    EXPECT_EQ(r.status, 503) << r.body;
    EXPECT_NE(body_json(r).value("reason", "").find("not joined yet"), std::string::npos) << r.body;
    // A datastore-discovered node: ready once the store answers, and says so.
    const auto h2 = free_port();
    Process stored({clusterd_bin(), "agent", "-node=stored", "-profile=local",
                    "-bind=127.0.0.1:" + std::to_string(free_port()),
                    "-rpc-addr=127.0.0.1:" + std::to_string(free_port()), port_arg(h2),
                    "-datastore=sqlite:" + dir + "/nodes.db"},
                   dir + "/stored.log");
    ASSERT_TRUE(stored.wait_ready([&] { return http_get(h2, "/v1/ready").status == 200; }, 15s))
        << http_get(h2, "/v1/ready").body << stored.log();
    EXPECT_EQ(body_json(http_get(h2, "/v1/ready")).value("datastore", ""), "up");
}

TEST(HttpInterop, HealthIs503WhileLeaving) {
    Cluster c("http-leave");
    const auto h = free_port();
    auto& d1 = c.start(Kind::Clusterd, "d1", {"-profile=local", port_arg(h)});
    c.start(Kind::Clusterd, "d2", {"-profile=local"}, &d1);
    ASSERT_TRUE(c.wait_all_alive({"d1", "d2"}, 20s)) << c.dump();
    ASSERT_EQ(http_get(h, "/v1/health").status, 200);
    ::kill(d1.child.pid(), SIGINT); // graceful leave: the listener stays up while the leave is broadcast
    bool saw_503 = false;
    std::string body;
    wait_until(
        [&] {
            auto r = http_get(h, "/v1/health", {}, 1s);
            if (r.status == 503) {
                saw_503 = true;
                body = r.body;
            }
            return saw_503 || !d1.child.running();
        },
        10s, 5ms);
    EXPECT_TRUE(saw_503) << c.dump();
    EXPECT_NE(body.find("\"reason\":\"shutting down\""), std::string::npos) << body;
}
