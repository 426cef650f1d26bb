// Pins the handler contract to the real Serf: record.sh runs as the event handler of a real
// `serf agent` (127.x loopback only) that sees member join/update/failed/reap/leave, a user event
// and a query. Each recording (SERF_* env + stdin) must equal what build_handler_env/build_handler_stdin
// produce for the same event, and what the same script records when clusterd's ProcessRunner runs it.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "clusterd/agent/handlers.hpp"
#include "clusterd/agent/process_runner.hpp"
#include "support/serf_agent.hpp"
#include "unit/handlers/test_util.hpp"

using namespace clusterd::agent;
using namespace std::chrono_literals;
using clusterd::testing::run;
using clusterd::testing::SerfAgent;
using clusterd::testing::SerfAgentOptions;
using clusterd::testing::wait_until;
using clusterd::testutil::expected_record_env;
using clusterd::testutil::read_file;
using clusterd::testutil::record_script;
using clusterd::testutil::run_until;
using clusterd::testutil::TempDir;

namespace {

constexpr const char* kSerf = "/usr/bin/serf";

/// A serf CLI command against an agent's RPC: stdout and stderr together (bounded).
std::string serf_cli(std::vector<std::string> args) {
    args.insert(args.begin(), kSerf);
    const auto r = run(args, std::chrono::seconds(20));
    return r.out + r.err;
}

std::size_t count_records(const std::string& dir) {
    std::size_t n = 0;
    for (const auto& e : std::filesystem::directory_iterator(dir))
        if (e.path().extension() == ".env")
            ++n;
    return n;
}

bool wait_for(const std::function<bool()>& pred, std::chrono::milliseconds limit) {
    return wait_until(pred, limit, std::chrono::milliseconds(50));
}

std::map<std::string, std::string> parse_env(const std::string& text);

/// True once some record has SERF_EVENT == event and (for member events) `member` on stdin.
bool has_record(const std::string& dir, const std::string& event, const std::string& member) {
    const std::size_t n = count_records(dir);
    for (std::size_t i = 0; i < n; ++i) {
        const std::string base = dir + "/" + std::to_string(i);
        if (parse_env(read_file(base + ".env"))["SERF_EVENT"] != event)
            continue;
        if (member.empty() || read_file(base + ".stdin").rfind(member + "\t", 0) == 0)
            return true;
    }
    return false;
}

std::map<std::string, std::string> parse_env(const std::string& text) {
    std::map<std::string, std::string> out;
    std::istringstream in(text);
    std::string line;
    while (std::getline(in, line)) {
        const auto eq = line.find('=');
        if (eq != std::string::npos)
            out[line.substr(0, eq)] = line.substr(eq + 1);
    }
    return out;
}

/// Sorts the comma-separated tags field of each member line (Go iterates maps randomly).
std::string normalize_stdin(const std::string& text, bool member_event) {
    if (!member_event)
        return text;
    std::istringstream in(text);
    std::string line, out;
    while (std::getline(in, line)) {
        const auto last_tab = line.rfind('\t');
        if (last_tab == std::string::npos) {
            out += line + "\n";
            continue;
        }
        std::vector<std::string> tags;
        std::stringstream ts(line.substr(last_tab + 1));
        std::string t;
        while (std::getline(ts, t, ','))
            tags.push_back(t);
        std::sort(tags.begin(), tags.end());
        std::string joined;
        for (const auto& x : tags)
            joined += (joined.empty() ? "" : ",") + x;
        out += line.substr(0, last_tab + 1) + joined + "\n";
    }
    return out;
}

class SerfInterop : public ::testing::Test {
  protected:
    void SetUp() override {
        if (::access(kSerf, X_OK) != 0)
            GTEST_FAIL() << kSerf << " is required for this test";
        const int octet = 1 + static_cast<int>(::getpid() % 200);
        ip_a_ = "127.61." + std::to_string(octet) + ".1";
        ip_b_ = "127.61." + std::to_string(octet) + ".2";
        ip_c_ = "127.61." + std::to_string(octet) + ".3";
    }

    /// A real serf agent (support/serf_agent.hpp: ports from the allocator, stopped by PID).
    SerfAgent& start_serf(const std::string& node, const std::string& ip,
                          std::map<std::string, std::string> tags, std::vector<std::string> args,
                          const std::vector<std::string>& env) {
        SerfAgentOptions o;
        o.node = node;
        o.ip = ip;
        o.tags = std::move(tags);
        o.extra_args = std::move(args);
        o.extra_env = env;
        agents_.push_back(std::make_unique<SerfAgent>(o));
        return *agents_.back();
    }
    std::string logs_text() const {
        std::string out;
        for (const auto& a : agents_)
            out += "---- " + a->node() + "\n" + a->log();
        return out;
    }

    std::string ip_a_, ip_b_, ip_c_;
    std::vector<std::unique_ptr<SerfAgent>> agents_;
};

} // namespace

TEST_F(SerfInterop, RealSerfHandlerSeesWhatOurBuilderProduces) {
    TempDir serf_dir("serf-rec");
    TempDir ours_dir("ours-rec");
    TempDir logs("serf-conf");
    const std::vector<std::string> env{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "RECORD_DIR=" + serf_dir.path(),
                                       "CLUSTERD_RECORD_INHERIT=from-agent"};

    { std::ofstream(logs.file("a.json")) << R"({"reconnect_timeout": "1s"})"; }
    auto& agent_a =
        start_serf("agent-a", ip_a_, {{"role", "web"}, {"dc-zone", "z1"}},
                   {"-event-handler=" + record_script(), "-config-file=" + logs.file("a.json")}, env);
    ASSERT_TRUE(agent_a.ready()) << logs_text();
    const std::string rpc_a = "-rpc-addr=" + agent_a.rpc_addr();
    const std::string dir = serf_dir.path();
    const std::vector<std::string> inherited_for_check{"CLUSTERD_RECORD_INHERIT=from-agent"};
    const HandlerMember a{"agent-a", ip_a_, {{"role", "web"}, {"dc-zone", "z1"}}};
    const HandlerMember b{"agent-b", ip_b_, {{"role", "db"}}};
    const HandlerMember b2{"agent-b", ip_b_, {{"role", "db"}, {"zone", "b1"}}};
    const HandlerMember c{"agent-c", ip_c_, {{"role", "cache"}}};
    // Members as a sees them, per phase; phase k covers records from phase_start[k] on.
    std::vector<std::size_t> phase_start{0};
    std::vector<std::map<std::string, HandlerMember>> phase_members{
        {{"agent-a", a}, {"agent-b", b}, {"agent-c", c}}};

    ASSERT_TRUE(wait_for([&] { return has_record(dir, "member-join", "agent-a"); }, 15s))
        << "agent a never ran its handler for its own join:\n"
        << logs_text();

    auto& agent_b = start_serf("agent-b", ip_b_, {{"role", "db"}}, {"-join=" + agent_a.bind_addr()}, env);
    ASSERT_TRUE(agent_b.ready()) << logs_text();
    const std::string rpc_b = "-rpc-addr=" + agent_b.rpc_addr();
    ASSERT_TRUE(wait_for([&] { return has_record(dir, "member-join", "agent-b"); }, 15s)) << logs_text();

    const std::string ev = serf_cli({"event", rpc_a, "-coalesce=false", "deploy", "v1 payload"});
    ASSERT_NE(ev.find("dispatched"), std::string::npos) << ev;
    ASSERT_TRUE(wait_for([&] { return has_record(dir, "user", ""); }, 15s)) << logs_text();

    const std::string q = serf_cli({"query", rpc_a, "-node=agent-a", "-timeout=3s", "load", "q?"});
    EXPECT_NE(q.find("Response from 'agent-a': response from agent-a"), std::string::npos) << q;
    ASSERT_TRUE(wait_for([&] { return has_record(dir, "query", ""); }, 15s)) << logs_text();

    phase_start.push_back(count_records(dir));
    phase_members.push_back({{"agent-a", a}, {"agent-b", b2}, {"agent-c", c}});
    const std::string tg = serf_cli({"tags", rpc_b, "-set", "zone=b1"});
    EXPECT_NE(tg.find("Successfully updated agent tags"), std::string::npos) << tg;
    ASSERT_TRUE(wait_for([&] { return has_record(dir, "member-update", "agent-b"); }, 15s)) << logs_text();

    auto& agent_c = start_serf("agent-c", ip_c_, {{"role", "cache"}}, {"-join=" + agent_a.bind_addr()}, env);
    ASSERT_TRUE(agent_c.ready()) << logs_text();
    ASSERT_TRUE(wait_for([&] { return has_record(dir, "member-join", "agent-c"); }, 15s)) << logs_text();
    agent_c.process()
        .kill9(); // no leave: a must see it fail, then reap it (reconnect_timeout 1s, reaper every 15s)
    ASSERT_TRUE(wait_for([&] { return has_record(dir, "member-failed", "agent-c"); }, 45s)) << logs_text();
    ASSERT_TRUE(wait_for([&] { return has_record(dir, "member-reap", "agent-c"); }, 45s)) << logs_text();

    const std::string lv = serf_cli({"leave", rpc_b});
    EXPECT_NE(lv.find("Graceful leave complete"), std::string::npos) << lv;
    ASSERT_TRUE(wait_for([&] { return has_record(dir, "member-leave", "agent-b"); }, 20s)) << logs_text();

    // Rebuild every recorded event as a HandlerEvent (type and member names from the recording,
    // member details from what the test set up) and compare with what our builders produce.
    const HandlerSelf self{"agent-a", {{"role", "web"}, {"dc-zone", "z1"}}};
    const std::size_t total = count_records(dir);
    std::vector<HandlerEvent> events;
    for (std::size_t i = 0; i < total; ++i) {
        const auto renv = parse_env(read_file(dir + "/" + std::to_string(i) + ".env"));
        const std::string type = renv.at("SERF_EVENT");
        std::size_t phase = 0;
        while (phase + 1 < phase_start.size() && i >= phase_start[phase + 1])
            ++phase;
        HandlerEvent e;
        if (type == "user") {
            e.kind = HandlerEventKind::User;
            e.name = "deploy";
            e.payload = "v1 payload";
            e.ltime = std::stoull(renv.at("SERF_USER_LTIME")); // cluster state, not format
        } else if (type == "query") {
            e.kind = HandlerEventKind::Query;
            e.name = "load";
            e.payload = "q?";
            e.ltime = std::stoull(renv.at("SERF_QUERY_LTIME"));
        } else {
            const std::map<std::string, HandlerEventKind> kinds{
                {"member-join", HandlerEventKind::MemberJoin},
                {"member-leave", HandlerEventKind::MemberLeave},
                {"member-failed", HandlerEventKind::MemberFailed},
                {"member-update", HandlerEventKind::MemberUpdate},
                {"member-reap", HandlerEventKind::MemberReap}};
            ASSERT_TRUE(kinds.count(type)) << type;
            e.kind = kinds.at(type);
            std::istringstream lines(read_file(dir + "/" + std::to_string(i) + ".stdin"));
            std::string line;
            while (std::getline(lines, line)) {
                const std::string name = line.substr(0, line.find('\t'));
                ASSERT_TRUE(phase_members[phase].count(name)) << name;
                e.members.push_back(phase_members[phase].at(name));
            }
        }
        events.push_back(e);
    }
    for (std::size_t i = 0; i < events.size(); ++i) {
        const bool member =
            events[i].kind != HandlerEventKind::User && events[i].kind != HandlerEventKind::Query;
        const std::string n = dir + "/" + std::to_string(i);
        EXPECT_EQ(read_file(n + ".env"),
                  expected_record_env(build_handler_env(events[i], self, inherited_for_check)))
            << "event " << i;
        EXPECT_EQ(normalize_stdin(read_file(n + ".stdin"), member),
                  normalize_stdin(build_handler_stdin(events[i]), member))
            << "event " << i;
    }

    std::vector<std::string> inherited{"CLUSTERD_RECORD_INHERIT=from-agent", "RECORD_DIR=" + ours_dir.path()};

    // The same script run by clusterd's runner records the same files.
    asio::io_context io;
    ProcessRunner runner(io, {}, nullptr);
    for (const auto& e : events) {
        std::vector<std::string> job_env = build_handler_env(e, self, inherited);
        job_env.push_back("PATH=/usr/sbin:/usr/bin:/sbin:/bin");
        runner.submit(HandlerJob{record_script(), job_env, build_handler_stdin(e), "x"}, nullptr);
    }
    ASSERT_TRUE(run_until(
        io, [&] { return runner.completed() == events.size(); }, 30s));
    for (std::size_t i = 0; i < events.size(); ++i) {
        const bool member =
            events[i].kind != HandlerEventKind::User && events[i].kind != HandlerEventKind::Query;
        const std::string n = std::to_string(i);
        EXPECT_EQ(read_file(ours_dir.file(n + ".env")), read_file(serf_dir.file(n + ".env")))
            << "event " << i;
        EXPECT_EQ(normalize_stdin(read_file(ours_dir.file(n + ".stdin")), member),
                  normalize_stdin(read_file(serf_dir.file(n + ".stdin")), member))
            << "event " << i;
    }
}
