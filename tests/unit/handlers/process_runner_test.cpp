// ProcessRunner + HandlerDispatcher against real /bin/sh children: exact env/stdin through the
// recording script, ordering under a 1,000-event burst, timeout kills, 1 MiB output, non-zero
// exits, query responses, spawn failures, and an io_context that keeps ticking meanwhile.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <algorithm>
#include <asio/steady_timer.hpp>
#include <cstdlib>
#include <sstream>

#include "clusterd/agent/handlers.hpp"
#include "clusterd/agent/process_runner.hpp"
#include "test_util.hpp"

using namespace clusterd::agent;
using clusterd::testutil::read_file;
using clusterd::testutil::record_script;
using clusterd::testutil::run_until;
using clusterd::testutil::TempDir;
using namespace std::chrono_literals;
using clusterd::testutil::expected_record_env;

namespace {

struct LogCapture {
    std::vector<std::pair<LogLevel, std::string>> lines;
    LogSink sink() {
        return [this](LogLevel l, const std::string& m) { lines.emplace_back(l, m); };
    }
    bool has(LogLevel l, const std::string& needle) const {
        return std::any_of(lines.begin(), lines.end(), [&](const auto& p) {
            return p.first == l && p.second.find(needle) != std::string::npos;
        });
    }
};

HandlerResult run_one(const std::string& script, RunnerOptions opts = {}, LogCapture* log = nullptr,
                      std::chrono::milliseconds limit = 20s) {
    asio::io_context io;
    LogCapture local;
    ProcessRunner runner(io, opts, (log ? log : &local)->sink());
    std::optional<HandlerResult> result;
    runner.submit(HandlerJob{script, current_environment(), "", "test"},
                  [&](const HandlerResult& r) { result = r; });
    EXPECT_TRUE(run_until(
        io, [&] { return result.has_value(); }, limit))
        << script;
    return result.value_or(HandlerResult{});
}

class ScopedEnv {
  public:
    ScopedEnv(const char* k, const std::string& v) : key_(k) { ::setenv(k, v.c_str(), 1); }
    ~ScopedEnv() { ::unsetenv(key_); }

  private:
    const char* key_;
};

} // namespace

TEST(ProcessRunner, RecordingScriptSeesExactEnvAndStdinForEachEventType) {
    TempDir dir("rec");
    ScopedEnv rd("RECORD_DIR", dir.path());
    ScopedEnv inh("CLUSTERD_RECORD_INHERIT", "yes");
    asio::io_context io;
    LogCapture log;
    ProcessRunner runner(io, RunnerOptions{}, log.sink());
    const HandlerSelf self{"node-a", {{"role", "lb"}, {"dc-zone", "z1"}}};
    std::vector<std::tuple<std::uint64_t, std::string, std::string>> responses;
    auto specs = parse_handler_specs({record_script()});
    ASSERT_TRUE(specs.ok());
    HandlerDispatcher d(
        runner, *specs, [&] { return self; },
        [&](std::uint64_t id, const std::string& name, const std::string& resp) {
            responses.emplace_back(id, name, resp);
        },
        log.sink());

    std::vector<HandlerEvent> events;
    for (auto kind :
         {HandlerEventKind::MemberJoin, HandlerEventKind::MemberLeave, HandlerEventKind::MemberFailed,
          HandlerEventKind::MemberUpdate, HandlerEventKind::MemberReap}) {
        HandlerEvent e;
        e.kind = kind;
        e.members = {{"node-b", "127.0.0.2", {{"role", "web"}, {"dc", "east"}}}, {"tab\tname", "::1", {}}};
        events.push_back(e);
    }
    HandlerEvent u;
    u.kind = HandlerEventKind::User;
    u.name = "deploy";
    u.ltime = 12;
    u.payload = "v1.2";
    events.push_back(u);
    HandlerEvent q;
    q.kind = HandlerEventKind::Query;
    q.name = "load";
    q.ltime = 7;
    q.payload = "what\n";
    q.query_id = 99;
    events.push_back(q);

    for (const auto& e : events)
        EXPECT_EQ(d.dispatch(e), 1u);
    ASSERT_TRUE(run_until(
        io, [&] { return runner.completed() == events.size(); }, 30s));
    run_until(
        io, [&] { return !responses.empty(); }, 2s);
    for (std::size_t i = 0; i < events.size(); ++i) {
        const auto env = build_handler_env(events[i], self, current_environment());
        EXPECT_EQ(read_file(dir.file(std::to_string(i) + ".env")), expected_record_env(env)) << "event " << i;
        EXPECT_EQ(read_file(dir.file(std::to_string(i) + ".stdin")), build_handler_stdin(events[i]))
            << "event " << i;
    }
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(std::get<0>(responses[0]), 99u);
    EXPECT_EQ(std::get<1>(responses[0]), "load");
    EXPECT_EQ(std::get<2>(responses[0]), "response from node-a");
}

TEST(ProcessRunner, BurstOfThousandEventsRunsInOrderWithoutLoss) {
    TempDir dir("burst");
    const std::string out = dir.file("order.txt");
    asio::io_context io;
    ProcessRunner runner(io, RunnerOptions{}, nullptr);
    auto specs = parse_handler_specs({"user=echo \"$SERF_USER_LTIME\" >> '" + out + "'"});
    ASSERT_TRUE(specs.ok());
    HandlerDispatcher d(
        runner, *specs,
        [] {
            return HandlerSelf{"n", {}};
        },
        nullptr, nullptr);
    constexpr int kEvents = 1000;
    for (int i = 1; i <= kEvents; ++i) {
        HandlerEvent e;
        e.kind = HandlerEventKind::User;
        e.name = "burst";
        e.ltime = static_cast<std::uint64_t>(i);
        ASSERT_EQ(d.dispatch(e), 1u);
    }
    EXPECT_EQ(runner.pending(), static_cast<std::size_t>(kEvents));
    ASSERT_TRUE(run_until(
        io, [&] { return runner.completed() == kEvents; }, 60s))
        << runner.completed();
    std::istringstream lines(read_file(out));
    std::string line;
    int expect = 1;
    while (std::getline(lines, line)) {
        ASSERT_EQ(line, std::to_string(expect)) << "out of order or lost";
        ++expect;
    }
    EXPECT_EQ(expect, kEvents + 1);
    EXPECT_EQ(runner.pending(), 0u);
}

TEST(ProcessRunner, HungHandlerIsKilledByTimeoutAndRunnerContinues) {
    RunnerOptions opts;
    opts.timeout = 300ms;
    opts.kill_grace = 300ms;
    LogCapture log;
    auto r = run_one("echo started; sleep 30", opts, &log, 10s);
    EXPECT_TRUE(r.timed_out);
    EXPECT_FALSE(r.exited);
    EXPECT_EQ(r.term_signal, SIGTERM);
    EXPECT_LT(r.elapsed, 5s);
    EXPECT_EQ(r.output, "started\n");
    EXPECT_TRUE(log.has(LogLevel::Error, "timed out after 300ms"));

    // A script that ignores SIGTERM gets SIGKILL after the grace period.
    LogCapture log2;
    r = run_one("trap '' TERM; sleep 30", opts, &log2, 10s);
    EXPECT_TRUE(r.timed_out);
    EXPECT_EQ(r.term_signal, SIGKILL);
    EXPECT_LT(r.elapsed, 5s);
    EXPECT_TRUE(log2.has(LogLevel::Error, "sending SIGKILL"));
}

TEST(ProcessRunner, TimeoutThenNextJobRuns) {
    asio::io_context io;
    RunnerOptions opts;
    opts.timeout = 200ms;
    ProcessRunner runner(io, opts, nullptr);
    std::vector<HandlerResult> results;
    runner.submit({"sleep 30", {}, "", "a"}, [&](const HandlerResult& r) { results.push_back(r); });
    runner.submit({"echo next", {}, "", "b"}, [&](const HandlerResult& r) { results.push_back(r); });
    ASSERT_TRUE(run_until(
        io, [&] { return results.size() == 2; }, 10s));
    EXPECT_TRUE(results[0].timed_out);
    EXPECT_TRUE(results[1].success());
    EXPECT_EQ(results[1].output, "next\n");
}

TEST(ProcessRunner, OneMegabyteOfOutputIsCutAndLogged) {
    LogCapture log;
    auto r = run_one("head -c 1048576 /dev/zero | tr '\\000' x; echo END", {}, &log);
    EXPECT_TRUE(r.success());
    EXPECT_EQ(r.output_total, 1048576u + 4u);
    EXPECT_TRUE(r.truncated);
    ASSERT_EQ(r.output.size(), 8192u);
    EXPECT_EQ(r.output.substr(r.output.size() - 4), "END\n"); // the tail is kept, as Serf's circbuf
    EXPECT_EQ(r.output.find_first_not_of('x'), 8192u - 4u);
    EXPECT_TRUE(log.has(LogLevel::Warn, "generated 1048580 bytes of output, truncated to 8192"));
    // and the runner keeps going
    auto next = run_one("echo fine");
    EXPECT_TRUE(next.success());
}

TEST(ProcessRunner, NonZeroExitIsReportedAndLogged) {
    auto r = run_one("echo oops >&2; exit 3");
    EXPECT_TRUE(r.exited);
    EXPECT_EQ(r.exit_code, 3);
    EXPECT_FALSE(r.success());
    EXPECT_EQ(r.output, "oops\n");

    asio::io_context io;
    LogCapture log;
    ProcessRunner runner(io, {}, log.sink());
    auto specs = parse_handler_specs({"exit 4", "echo second"});
    ASSERT_TRUE(specs.ok());
    HandlerDispatcher d(
        runner, *specs, [] { return HandlerSelf{}; }, nullptr, log.sink());
    HandlerEvent e;
    e.kind = HandlerEventKind::MemberJoin;
    EXPECT_EQ(d.dispatch(e), 2u);
    ASSERT_TRUE(run_until(
        io, [&] { return runner.completed() == 2; }, 10s));
    run_until(
        io, [] { return false; }, 50ms); // let the callbacks run
    EXPECT_TRUE(log.has(LogLevel::Error, "Error invoking script 'exit 4': exit status 4"));
    EXPECT_TRUE(log.has(LogLevel::Debug, "script output: second"));
}

TEST(ProcessRunner, IoContextKeepsTickingWhileAHandlerSleeps) {
    asio::io_context io;
    LogCapture log;
    RunnerOptions opts;
    opts.slow_warning = 300ms;
    ProcessRunner runner(io, opts, log.sink());
    std::optional<HandlerResult> result;
    runner.submit({"sleep 1; echo done", {}, "", "slow"}, [&](const HandlerResult& r) { result = r; });

    asio::steady_timer timer(io);
    int ticks = 0;
    auto last = std::chrono::steady_clock::now();
    std::chrono::steady_clock::duration max_gap{0};
    std::function<void()> tick = [&] {
        timer.expires_after(10ms);
        timer.async_wait([&](const std::error_code& ec) {
            if (ec)
                return;
            const auto now = std::chrono::steady_clock::now();
            max_gap = std::max(max_gap, now - last);
            last = now;
            ++ticks;
            if (!result)
                tick();
        });
    };
    tick();
    ASSERT_TRUE(run_until(
        io, [&] { return result.has_value(); }, 10s));
    EXPECT_TRUE(result->success());
    EXPECT_EQ(result->output, "done\n");
    EXPECT_GE(ticks, 50);
    EXPECT_LT(max_gap, 200ms);
    EXPECT_TRUE(log.has(LogLevel::Warn, "slow, execution exceeding 300ms"));
}

TEST(ProcessRunner, QueryResponsesOnlyOnSuccessAndWithinLimit) {
    asio::io_context io;
    LogCapture log;
    ProcessRunner runner(io, {}, log.sink());
    std::vector<std::string> responses;
    auto specs = parse_handler_specs({"query:ok=printf pong", "query:fail=printf nope; exit 1",
                                      "query:big=head -c 2000 /dev/zero", "query:quiet=true"});
    ASSERT_TRUE(specs.ok());
    HandlerDispatcher d(
        runner, *specs,
        [] {
            return HandlerSelf{"n", {}};
        },
        [&](std::uint64_t, const std::string& name, const std::string& r) {
            responses.push_back(name + ":" + r);
        },
        log.sink());
    d.set_query_response_limit(1024);
    for (const char* name : {"ok", "fail", "big", "quiet", "unmatched"}) {
        HandlerEvent q;
        q.kind = HandlerEventKind::Query;
        q.name = name;
        d.dispatch(q);
    }
    ASSERT_TRUE(run_until(
        io, [&] { return runner.completed() == 4; }, 10s));
    run_until(
        io, [] { return false; }, 50ms);
    EXPECT_EQ(responses, (std::vector<std::string>{"ok:pong"}));
    EXPECT_TRUE(
        log.has(LogLevel::Warn, "Failed to respond to query 'big': response exceeds limit of 1024 bytes"));
}

TEST(ProcessRunner, SpawnFailureIsReportedAndDoesNotStall) {
    asio::io_context io;
    RunnerOptions opts;
    opts.shell = "/nonexistent/sh";
    ProcessRunner runner(io, opts, nullptr);
    int done = 0;
    std::string err;
    for (int i = 0; i < 3; ++i)
        runner.submit({"true", {}, "", "x"}, [&](const HandlerResult& r) {
            ++done;
            err = r.spawn_error;
        });
    ASSERT_TRUE(run_until(
        io, [&] { return done == 3; }, 5s));
    EXPECT_NE(err.find("posix_spawn"), std::string::npos) << err;
}

TEST(ProcessRunner, BackgroundChildHoldingThePipeDoesNotBlockCompletion) {
    const auto start = std::chrono::steady_clock::now();
    auto r = run_one("(sleep 3) & echo fg");
    EXPECT_TRUE(r.success());
    EXPECT_EQ(r.output, "fg\n");
    EXPECT_LT(std::chrono::steady_clock::now() - start, 2s);
}

TEST(ProcessRunner, LargeStdinIsDelivered) {
    TempDir dir("stdin");
    asio::io_context io;
    ProcessRunner runner(io, {}, nullptr);
    std::string input(300000, 'a');
    input += "\n";
    std::optional<HandlerResult> result;
    runner.submit({"wc -c", {}, input, "x"}, [&](const HandlerResult& r) { result = r; });
    ASSERT_TRUE(run_until(
        io, [&] { return result.has_value(); }, 10s));
    EXPECT_EQ(std::stoul(result->output), input.size());
}

TEST(ProcessRunner, DestructorKillsAndReapsTheRunningChild) {
    TempDir dir("kill");
    const std::string pidfile = dir.file("pid");
    asio::io_context io;
    std::chrono::steady_clock::duration took{};
    {
        std::optional<ProcessRunner> runner;
        runner.emplace(io, RunnerOptions{}, nullptr);
        runner->submit(
            {"echo $$ > '" + pidfile + ".tmp'; mv '" + pidfile + ".tmp' '" + pidfile + "'; sleep 30",
             {},
             "",
             "x"},
            nullptr);
        ASSERT_TRUE(run_until(
            io, [&] { return std::filesystem::exists(pidfile); }, 5s));
        const auto start = std::chrono::steady_clock::now();
        runner.reset();
        took = std::chrono::steady_clock::now() - start;
    }
    EXPECT_LT(took, 2s);
    const pid_t pid = static_cast<pid_t>(std::stol(read_file(pidfile)));
    ASSERT_GT(pid, 0);
    EXPECT_EQ(::kill(pid, 0), -1); // killed and reaped: the pid is gone
    EXPECT_EQ(errno, ESRCH);
    io.restart();
    io.run_for(50ms); // stale handlers find nothing to do
}

TEST(ProcessRunner, FullQueueDropsAndCounts) {
    asio::io_context io;
    LogCapture log;
    RunnerOptions opts;
    opts.max_queue = 3;
    ProcessRunner runner(io, opts, log.sink());
    int done = 0;
    int accepted = 0;
    for (int i = 0; i < 5; ++i)
        accepted += runner.submit({"true", {}, "", "user"}, [&](const HandlerResult&) { ++done; }) ? 1 : 0;
    EXPECT_EQ(accepted, 3);
    EXPECT_EQ(runner.dropped(), 2u);
    EXPECT_TRUE(log.has(LogLevel::Error, "handler queue full"));
    ASSERT_TRUE(run_until(
        io, [&] { return done == 3; }, 10s));
}

TEST(ProcessRunner, NoCallbackAfterDestruction) {
    asio::io_context io;
    bool called = false;
    {
        ProcessRunner runner(io, {}, nullptr);
        runner.submit({"true", {}, "", "x"}, [&](const HandlerResult&) { called = true; });
        // finish the job but do not run the posted callback yet
        const auto deadline = std::chrono::steady_clock::now() + 10s;
        while (runner.completed() == 0 && std::chrono::steady_clock::now() < deadline)
            io.run_one_for(10ms);
        ASSERT_EQ(runner.completed(), 1u);
    }
    io.restart();
    io.run_for(50ms);
    EXPECT_FALSE(called);
}

// A handler that is just the path of an executable runs without the `sh -c` in between (one
// process less per event: its parent is the agent itself), with the same argv[0], stdin and
// environment; a file exec refuses (no #! line, not executable) still runs or fails through
// the shell exactly as before, and anything with shell syntax always goes through the shell.
TEST(ProcessRunner, PlainScriptPathRunsWithoutTheShell) {
    EXPECT_TRUE(runs_without_shell("/etc/serf/handler.sh"));
    EXPECT_TRUE(runs_without_shell("./handlers/kong-1.0_x+y,z@a%b:c"));
    for (const char* s : {"handler.sh", "", "/a/b arg", "/a/b;x", "X=/a/b", "~/h.sh", "/a/$H", "/a/b*",
                          "/a/'b'", "/a/b\n", "/a/b|c", "/a/b>o", "/a/(b)"})
        EXPECT_FALSE(runs_without_shell(s)) << s;

    TempDir dir("direct");
    auto write = [&](const std::string& name, const std::string& body, bool exec) {
        const std::string path = dir.file(name);
        std::ofstream(path) << body;
        ::chmod(path.c_str(), exec ? 0755 : 0644);
        return path;
    };
    const std::string ok =
        write("ok.sh", "#!/bin/sh\nread line\necho \"$0 $PPID $line $CLUSTERD_T\"\n", true);
    const std::string noshebang = write("plain.sh", "echo plain $PPID\n", true);
    const std::string noexec = write("noexec.sh", "#!/bin/sh\necho never\n", false);
    ScopedEnv env("CLUSTERD_T", "envok");

    asio::io_context io;
    ProcessRunner runner(io, {}, nullptr);
    std::vector<HandlerResult> results;
    for (const auto& s : {ok, noshebang, noexec})
        runner.submit(HandlerJob{s, current_environment(), "stdin-line\n", "t"},
                      [&](const HandlerResult& r) { results.push_back(r); });
    ASSERT_TRUE(run_until(
        io, [&] { return results.size() == 3; }, 20s));
    const std::string me = std::to_string(::getpid());
    EXPECT_TRUE(results[0].success());
    EXPECT_EQ(results[0].output, ok + " " + me + " stdin-line envok\n");
    // Without a #! line only a shell can run it: the shell does, as before (so the parent of
    // the script's shell is not us).
    EXPECT_TRUE(results[1].success()) << results[1].output;
    EXPECT_EQ(results[1].output.rfind("plain ", 0), 0u) << results[1].output;
    EXPECT_NE(results[1].output, "plain " + me + "\n");
    // Not executable: the shell's own error and exit code 126, as before.
    EXPECT_TRUE(results[2].exited);
    EXPECT_EQ(results[2].exit_code, 126) << results[2].output;
    EXPECT_NE(results[2].output.find("ermission denied"), std::string::npos) << results[2].output;
    EXPECT_EQ(runner.stats().direct, 1u);
}
