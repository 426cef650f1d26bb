// Interop (label interop): every clusterd client subcommand against a real 3-agent serf cluster on
// 127.0.0.x, compared with what serf's own CLI prints for the same state (member order and tag
// order are random in Serf, so lines/keys are compared as sets; volatile fields are excepted).
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <thread>

#include "clusterd/regex/regex.hpp"
#include "support/serf_agent.hpp"

using namespace clusterd::testing;
using namespace std::chrono_literals;

namespace {

/// The whole text matches `expr` (Go's regexp syntax, RE2).
bool full_match(const std::string& text, const std::string& expr) {
    auto re = clusterd::regex::Regex::compile("\\A(?:" + expr + ")\\z");
    return re.ok() && re->search(text);
}

const char* kKey1 = "cg8StVXbQJ0gPvMd9o7yrg==";
const char* kKey2 = "HvY8ubRZMgafUOWvrOadwQ==";

std::vector<std::string> lines(const std::string& s) {
    std::vector<std::string> out;
    std::stringstream ss(s);
    std::string l;
    while (std::getline(ss, l))
        out.push_back(l);
    return out;
}

std::multiset<std::string> line_set(const std::string& s) {
    auto v = lines(s);
    return {v.begin(), v.end()};
}

/// Members text with each line's tag list sorted (Serf prints tags in random map order).
std::multiset<std::string> members_lines(const std::string& s) {
    std::multiset<std::string> out;
    for (const auto& l : lines(s)) {
        std::stringstream ss(l);
        std::vector<std::string> tok;
        std::string t;
        while (ss >> t)
            tok.push_back(t);
        if (tok.size() >= 4 && tok[3].find('=') != std::string::npos) {
            std::vector<std::string> parts;
            std::stringstream ts(tok[3]);
            std::string p;
            while (std::getline(ts, p, ','))
                parts.push_back(p);
            std::sort(parts.begin(), parts.end());
            tok[3].clear();
            for (const auto& x : parts)
                tok[3] += (tok[3].empty() ? "" : ",") + x;
        }
        std::string joined = std::to_string(l.size()) + ":"; // padding width must match too
        for (const auto& x : tok)
            joined += x + " ";
        out.insert(joined);
    }
    return out;
}

nlohmann::json members_json(const std::string& s) {
    auto j = nlohmann::json::parse(s);
    if (j["members"].is_array()) {
        std::sort(j["members"].begin(), j["members"].end(),
                  [](const auto& a, const auto& b) { return a["name"] < b["name"]; });
    }
    return j;
}

class RpcCliInterop : public ::testing::Test {
  protected:
    static inline std::unique_ptr<SerfAgent> a, b, c;

    static void SetUpTestSuite() {
        a = std::make_unique<SerfAgent>(
            SerfAgentOptions{"node-a", "127.0.0.31", {{"role", "web"}, {"dc", "east"}}, kKey1, "", {}});
        b = std::make_unique<SerfAgent>(
            SerfAgentOptions{"node-b", "127.0.0.32", {{"role", "db"}}, kKey1, "", {}});
        c = std::make_unique<SerfAgent>(
            SerfAgentOptions{"node-c", "127.0.0.33", {{"role", "web"}}, kKey1, "", {}});
    }
    static void TearDownTestSuite() {
        a.reset();
        b.reset();
        c.reset();
    }

    static RunResult cl(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
        args.insert(args.begin(), clusterd_bin());
        return run(args, 30s, "", env);
    }
    static RunResult sf(std::vector<std::string> args, const std::vector<std::string>& env = {}) {
        args.insert(args.begin(), "/usr/bin/serf");
        return run(args, 30s, "", env);
    }
    static std::string at(const SerfAgent& x) { return "-rpc-addr=" + x.rpc_addr(); }

    void SetUp() override {
        ASSERT_TRUE(a->ready() && b->ready() && c->ready()) << "serf agents did not start";
        static bool joined = false;
        if (!joined) {
            joined = true;
            auto j1 = cl({"join", at(*b), a->bind_addr()});
            auto j2 = sf({"join", at(*c), a->bind_addr()});
            EXPECT_EQ(j1.exit_code, 0) << j1.err;
            EXPECT_EQ(j1.out, j2.out);
            EXPECT_EQ(j1.out, "Successfully joined cluster by contacting 1 nodes.\n");
        }
        // Wait (bounded) until node-a sees three alive members.
        wait_until(
            [&] {
                return lines(sf({"members", at(*a), "-status=alive"}).out).size() == 3;
            },
            15s, 200ms);
    }
};

} // namespace

TEST_F(RpcCliInterop, MembersTextDetailedAndFilters) {
    for (std::vector<std::string> extra : {std::vector<std::string>{},
                                           {"-detailed"},
                                           {"-status=alive"},
                                           {"-tag", "role=web"},
                                           {"-name=node-[ab]"},
                                           {"-tag", "role=w.*", "-detailed"},
                                           {"-status=failed"}}) {
        std::vector<std::string> args = {"members", at(*a)};
        args.insert(args.end(), extra.begin(), extra.end());
        auto ours = cl(args);
        auto theirs = sf(args);
        ASSERT_EQ(ours.exit_code, 0) << ours.err;
        EXPECT_EQ(ours.exit_code, theirs.exit_code);
        EXPECT_EQ(members_lines(ours.out), members_lines(theirs.out)) << ours.out << "\nvs\n" << theirs.out;
    }
    auto three = cl({"members", at(*a)});
    EXPECT_EQ(lines(three.out).size(), 3u);
}

TEST_F(RpcCliInterop, MembersJsonAndKong) {
    for (std::vector<std::string> extra : {std::vector<std::string>{"-format=json"},
                                           {"-format", "json", "-tag", "role=db"},
                                           {"-format=json", "-name=nobody"}}) {
        std::vector<std::string> args = {"members", at(*a)};
        args.insert(args.end(), extra.begin(), extra.end());
        auto ours = cl(args);
        auto theirs = sf(args);
        ASSERT_EQ(ours.exit_code, 0) << ours.err;
        EXPECT_EQ(members_json(ours.out), members_json(theirs.out)) << ours.out << "\nvs\n" << theirs.out;
    }
    auto kong = cl({"members", at(*a), "-format=kong"});
    ASSERT_EQ(kong.exit_code, 0);
    auto gl = lines(kong.out);
    std::set<std::string> want = {"node-a\t" + a->bind_addr() + "\talive",
                                  "node-b\t" + b->bind_addr() + "\talive",
                                  "node-c\t" + c->bind_addr() + "\talive"};
    EXPECT_EQ(std::set<std::string>(gl.begin(), gl.end()), want);
}

TEST_F(RpcCliInterop, InfoTextAndJson) {
    auto ours = cl({"info", at(*a), "-format=json"});
    auto theirs = sf({"info", at(*a), "-format=json"});
    ASSERT_EQ(ours.exit_code, 0) << ours.err;
    auto jo = nlohmann::json::parse(ours.out);
    auto jt = nlohmann::json::parse(theirs.out);
    ASSERT_EQ(jo.size(), jt.size());
    for (auto it = jt.begin(); it != jt.end(); ++it) {
        ASSERT_TRUE(jo.contains(it.key())) << it.key();
        for (auto kv = it.value().begin(); kv != it.value().end(); ++kv) {
            ASSERT_TRUE(jo[it.key()].contains(kv.key())) << it.key() << "." << kv.key();
        }
    }
    EXPECT_EQ(jo["agent"], jt["agent"]);
    EXPECT_EQ(jo["tags"], jt["tags"]);
    EXPECT_EQ(jo["serf"]["members"], jt["serf"]["members"]);
    EXPECT_EQ(jo["serf"]["encrypted"], "true");
    auto to = cl({"info", at(*a)});
    auto tt = sf({"info", at(*a)});
    ASSERT_EQ(to.exit_code, 0);
    // Same sections and keys in the same order; values may move (goroutines, queue depths).
    auto strip = [](const std::string& s) {
        std::vector<std::string> keys;
        for (const auto& l : lines(s))
            keys.push_back(l.substr(0, l.find(" = ")));
        return keys;
    };
    EXPECT_EQ(strip(to.out), strip(tt.out));
}

TEST_F(RpcCliInterop, EventAndTags) {
    auto ours = cl({"event", at(*a), "-coalesce=false", "deploy", "v1"});
    auto theirs = sf({"event", at(*a), "-coalesce=false", "deploy", "v1"});
    EXPECT_EQ(ours.exit_code, 0) << ours.err;
    EXPECT_EQ(ours.out, theirs.out);
    EXPECT_EQ(ours.out, "Event 'deploy' dispatched! Coalescing enabled: false\n");
    EXPECT_EQ(cl({"event", at(*a), "x"}).out, sf({"event", at(*a), "x"}).out);

    auto t1 = cl({"tags", at(*c), "-set", "zone=z1", "-set", "rack=r9", "-delete", "role"});
    EXPECT_EQ(t1.exit_code, 0) << t1.err;
    EXPECT_EQ(t1.out, "Successfully updated agent tags\n");
    auto m = sf({"members", at(*c), "-name=node-c"});
    EXPECT_NE(m.out.find("rack=r9"), std::string::npos);
    EXPECT_EQ(m.out.find("role="), std::string::npos);
    auto t2 = sf({"tags", at(*c), "-set", "role=web", "-delete", "zone", "-delete", "rack"});
    EXPECT_EQ(t2.out, t1.out);
    EXPECT_EQ(cl({"tags", at(*c)}).exit_code, sf({"tags", at(*c)}).exit_code);
}

TEST_F(RpcCliInterop, QueryTextAndJson) {
    auto ours = cl({"query", at(*a), "-timeout=1s", "ping", "data"});
    auto theirs = sf({"query", at(*a), "-timeout=1s", "ping", "data"});
    ASSERT_EQ(ours.exit_code, 0) << ours.err;
    EXPECT_EQ(line_set(ours.out), line_set(theirs.out)) << ours.out << "\nvs\n" << theirs.out;
    EXPECT_EQ(lines(ours.out).front(), "Query 'ping' dispatched");
    EXPECT_EQ(lines(ours.out).back(), "Total Responses: 0");

    ours = cl({"query", at(*a), "-timeout=1s", "-no-ack", "-node=node-b", "ping"});
    theirs = sf({"query", at(*a), "-timeout=1s", "-no-ack", "-node=node-b", "ping"});
    EXPECT_EQ(ours.out, theirs.out);

    ours = cl({"query", at(*a), "-timeout=1s", "-format=json", "-tag", "role=web", "ping"});
    theirs = sf({"query", at(*a), "-timeout=1s", "-format=json", "-tag", "role=web", "ping"});
    auto jo = nlohmann::json::parse(ours.out);
    auto jt = nlohmann::json::parse(theirs.out);
    std::sort(jo["Acks"].begin(), jo["Acks"].end());
    std::sort(jt["Acks"].begin(), jt["Acks"].end());
    EXPECT_EQ(jo, jt);
    EXPECT_EQ(jo["Acks"].size(), 2u);
    auto bad = cl({"query", at(*a), "_serf_x"});
    EXPECT_EQ(bad.exit_code, sf({"query", at(*a), "_serf_x"}).exit_code);
    EXPECT_NE(bad.err.find("Error sending query: Queries cannot contain the '_serf_' prefix"),
              std::string::npos);
}

TEST_F(RpcCliInterop, KeysLifecycle) {
    auto l1 = cl({"keys", at(*a), "-list"});
    auto l2 = sf({"keys", at(*a), "-list"});
    ASSERT_EQ(l1.exit_code, 0) << l1.err;
    EXPECT_EQ(l1.out, l2.out);
    EXPECT_NE(l1.out.find(std::string(kKey1) + "  [3/3]"), std::string::npos);
    auto i1 = cl({"keys", at(*a), "-install", kKey2});
    EXPECT_EQ(i1.exit_code, 0) << i1.err;
    EXPECT_EQ(i1.out, "==> Installing key on all members...\n==> Successfully installed key!\n");
    auto u1 = cl({"keys", at(*a), "-use=" + std::string(kKey2)});
    EXPECT_EQ(u1.out, sf({"keys", at(*a), "-use=" + std::string(kKey2)}).out);
    l1 = cl({"keys", at(*b), "-list"});
    l2 = sf({"keys", at(*b), "-list"});
    EXPECT_EQ(line_set(l1.out), line_set(l2.out));
    // Removing the primary key fails on every node: same exit code as serf.
    auto r1 = cl({"keys", at(*a), "-remove", kKey2});
    auto r2 = sf({"keys", at(*a), "-remove", kKey2});
    EXPECT_EQ(r1.exit_code, 1);
    EXPECT_EQ(r1.exit_code, r2.exit_code);
    EXPECT_EQ(r1.out, "==> Removing key on all members...\n");
    EXPECT_EQ(lines(r2.out).at(0), "==> Removing key on all members...");
    EXPECT_NE(r1.err.find("Error removing key: "), std::string::npos) << r1.err;
    // Put things back.
    EXPECT_EQ(cl({"keys", at(*a), "-use", kKey1}).exit_code, 0);
    auto r3 = cl({"keys", at(*a), "-remove", kKey2});
    EXPECT_EQ(r3.exit_code, 0) << r3.err;
    EXPECT_EQ(r3.out, "==> Removing key on all members...\n==> Successfully removed key!\n");
    EXPECT_EQ(cl({"keys", at(*a)}).exit_code, sf({"keys", at(*a)}).exit_code);
    EXPECT_EQ(cl({"keys", at(*a), "-list", "-use=x"}).exit_code, 1);
}

TEST_F(RpcCliInterop, RttReachabilityKeygen) {
    auto ours = cl({"rtt", at(*a), "node-a", "node-b"});
    ASSERT_EQ(ours.exit_code, 0) << ours.err;
    EXPECT_TRUE(full_match(ours.out, "Estimated node-a <-> node-b rtt: [0-9]+\\.[0-9]{3} ms\n")) << ours.out;
    auto one = cl({"rtt", at(*a), "node-c"});
    EXPECT_TRUE(full_match(one.out, "Estimated node-c <-> node-a rtt: [0-9]+\\.[0-9]{3} ms\n")) << one.out;
    EXPECT_EQ(cl({"rtt", at(*a), "ghost"}).exit_code, sf({"rtt", at(*a), "ghost"}).exit_code);

    auto r1 = cl({"reachability", at(*a)});
    // serf's own agent may stream acks from '' when its query closes just before its IPC loop's
    // deadline (docs/protocol.md); serf's CLI prints them, ours drops them. Up to 3 tries for serf.
    auto r2 = sf({"reachability", at(*a)});
    for (int i = 0; i < 2 && r2.out.find("from ''") != std::string::npos; ++i)
        r2 = sf({"reachability", at(*a)});
    EXPECT_EQ(r1.exit_code, 0) << r1.out << r1.err;
    EXPECT_EQ(r1.out, r2.out);

    auto k = cl({"keygen"});
    EXPECT_EQ(k.exit_code, 0);
    EXPECT_TRUE(full_match(k.out, "[A-Za-z0-9+/]{43}=\n")) << k.out;
}

TEST_F(RpcCliInterop, MonitorStreamsLogsAndEvents) {
    std::thread poke([&] {
        // No signal tells when the monitor below has subscribed; the event goes out well after.
        std::this_thread::sleep_for(800ms);
        sf({"event", at(*a), "monitored"});
    });
    auto m = run({clusterd_bin(), "monitor", at(*a), "-log-level=debug"}, 2500ms);
    poke.join();
    EXPECT_NE(m.out.find("[INFO]"), std::string::npos) << m.out;
    EXPECT_NE(m.out.find("Event Info:"), std::string::npos) << m.out;
    EXPECT_NE(m.out.find("\"monitored\""), std::string::npos) << m.out;
}

TEST_F(RpcCliInterop, ErrorsAndExitCodesMatch) {
    const std::string dead = "-rpc-addr=127.0.0.31:1";
    for (std::vector<std::string> args : {std::vector<std::string>{"members", dead},
                                          {"join", at(*a)},
                                          {"event", at(*a)},
                                          {"force-leave", at(*a)},
                                          {"query", at(*a)},
                                          {"info", dead},
                                          {"members", at(*a), "-format=xml"},
                                          {"join", at(*a), "127.0.0.31:1"}}) {
        auto ours = cl(args);
        auto theirs = sf(args);
        EXPECT_EQ(ours.exit_code, theirs.exit_code) << args[0];
        EXPECT_NE(ours.exit_code, 0) << args[0];
    }
    auto refused = cl({"members", dead});
    EXPECT_EQ(refused.err,
              "Error connecting to Serf agent: dial tcp 127.0.0.31:1: connect: connection refused\n");
    auto fl = cl({"force-leave", at(*a), "ghost-node"});
    EXPECT_EQ(fl.exit_code, sf({"force-leave", at(*a), "ghost-node"}).exit_code);
}

TEST_F(RpcCliInterop, AddressFromEnvAndConfig) {
    auto env = cl({"members"}, {"SERF_RPC_ADDR=" + a->rpc_addr()});
    EXPECT_EQ(env.exit_code, 0) << env.err;
    EXPECT_EQ(lines(env.out).size(), 3u);
    char tmpl[] = "/tmp/clusterd-cfg-XXXXXX";
    const std::string dir = ::mkdtemp(tmpl);
    const std::string file = dir + "/clusterd.yml";
    std::ofstream(file) << "cluster_listen_rpc: \"" << b->rpc_addr() << "\"\n";
    auto viaflag = cl({"members", "-c", file, "-format=json"});
    EXPECT_EQ(viaflag.exit_code, 0) << viaflag.err;
    EXPECT_NE(viaflag.err.find(file), std::string::npos);
    auto viaenv = cl({"info"}, {"CLUSTERD_CONFIG=" + file});
    EXPECT_EQ(viaenv.exit_code, 0) << viaenv.err;
    EXPECT_NE(viaenv.out.find("name = node-b"), std::string::npos);
    EXPECT_NE(viaenv.err.find(file), std::string::npos);
    // An explicit -rpc-addr wins over the config file and prints no notice.
    auto both = cl({"info", at(*c), "-c", file});
    EXPECT_NE(both.out.find("name = node-c"), std::string::npos);
    EXPECT_EQ(both.err, "");
}

TEST_F(RpcCliInterop, RpcAuth) {
    SerfAgent d(SerfAgentOptions{"node-d", "127.0.0.34", {}, "", "tok-0123456789abcdef", {}});
    ASSERT_TRUE(d.ready());
    auto ok = cl({"members", "-rpc-addr=" + d.rpc_addr(), "-rpc-auth=tok-0123456789abcdef"});
    EXPECT_EQ(ok.exit_code, 0) << ok.err;
    auto viaenv = cl({"members", "-rpc-addr=" + d.rpc_addr()}, {"SERF_RPC_AUTH=tok-0123456789abcdef"});
    EXPECT_EQ(viaenv.exit_code, 0) << viaenv.err;
    auto bad = cl({"members", "-rpc-addr=" + d.rpc_addr(), "-rpc-auth=nope"});
    auto sbad = sf({"members", "-rpc-addr=" + d.rpc_addr(), "-rpc-auth=nope"});
    EXPECT_EQ(bad.exit_code, 1);
    EXPECT_EQ(bad.exit_code, sbad.exit_code);
    EXPECT_EQ(bad.err, "Error connecting to Serf agent: Invalid authentication token\n");
    auto none = cl({"members", "-rpc-addr=" + d.rpc_addr()});
    EXPECT_EQ(none.exit_code, sf({"members", "-rpc-addr=" + d.rpc_addr()}).exit_code);
}

// Runs last (gtest keeps declaration order within a file): leaves change the cluster.
TEST_F(RpcCliInterop, ZzLeave) {
    auto ours = cl({"leave", at(*c)});
    auto theirs = sf({"leave", at(*b)});
    EXPECT_EQ(ours.exit_code, 0) << ours.err;
    EXPECT_EQ(ours.out, theirs.out);
    EXPECT_EQ(ours.out, "Graceful leave complete\n");
    EXPECT_TRUE(wait_until([&] { return !c->running(); }, 10s)) << "serf agent did not shut down after leave";
}
