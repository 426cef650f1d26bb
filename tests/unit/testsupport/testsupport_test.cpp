// The test-support library does what every other test relies on: processes are stopped by PID
// within a bound (SIGKILL when SIGTERM is ignored), exits end readiness waits early, commands
// are killed at their timeout with whatever they started, ports are never handed out twice.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <set>

#include "support/process.hpp"

using namespace clusterd::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {
double since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}
} // namespace

TEST(TestSupport, FreePortNeverRepeatsInOneProcess) {
    std::set<std::uint16_t> seen;
    for (int i = 0; i < 2000; ++i) {
        const auto p = free_port();
        ASSERT_NE(p, 0) << "after " << i << " ports";
        EXPECT_TRUE(seen.insert(p).second) << "port " << p << " handed out twice";
    }
    EXPECT_NE(free_port("127.0.0.7"), 0);
}

TEST(TestSupport, WaitUntilIsBounded) {
    int calls = 0;
    EXPECT_TRUE(wait_until([&] { return ++calls == 3; }, 5s, 1ms));
    EXPECT_EQ(calls, 3);
    const auto t0 = Clock::now();
    EXPECT_FALSE(wait_until([] { return false; }, 300ms, 50ms));
    EXPECT_GE(since(t0), 0.29);
    EXPECT_LT(since(t0), 2.0);
}

TEST(TestSupport, ProcessLogsAndStopsWithSigterm) {
    const auto dir = temp_dir("proc");
    EXPECT_NE(dir.find("TestSupport.ProcessLogs"), std::string::npos) << dir;
    Process p({"sh", "-c", "echo \"hello $GREETING\"; exec sleep 30"}, dir + "/p.log", {"GREETING=world"});
    ASSERT_GT(p.pid(), 0);
    ASSERT_TRUE(p.wait_log("hello world", 10s)) << p.log();
    EXPECT_TRUE(p.running());
    const auto t0 = Clock::now();
    const int st = p.stop(SIGTERM, 5s);
    EXPECT_LT(since(t0), 3.0);
    ASSERT_TRUE(WIFSIGNALED(st));
    EXPECT_EQ(WTERMSIG(st), SIGTERM);
    EXPECT_FALSE(p.running());
    EXPECT_EQ(p.pid(), -1);
}

TEST(TestSupport, ProcessIgnoringSigtermIsKilledAfterTheGrace) {
    const auto dir = temp_dir("proc");
    Process p({"sh", "-c", "trap '' TERM; echo ready; while :; do sleep 1; done"}, dir + "/p.log");
    ASSERT_TRUE(p.wait_log("ready", 10s)) << p.log();
    const auto t0 = Clock::now();
    const int st = p.stop(SIGTERM, 300ms);
    EXPECT_GE(since(t0), 0.29);
    EXPECT_LT(since(t0), 5.0);
    ASSERT_TRUE(WIFSIGNALED(st));
    EXPECT_EQ(WTERMSIG(st), SIGKILL);
}

TEST(TestSupport, ExtraEnvironmentReplacesTheInheritedValue) {
    const auto dir = temp_dir("env");
    ::setenv("CLUSTERD_TS_VAR", "inherited", 1);
    Process p({"sh", "-c", "echo \"var=$CLUSTERD_TS_VAR\""}, dir + "/p.log", {"CLUSTERD_TS_VAR=given"});
    ASSERT_TRUE(wait_until([&] { return !p.running(); }, 10s));
    EXPECT_EQ(p.log(), "var=given\n");
    EXPECT_EQ(run({"sh", "-c", "echo $CLUSTERD_TS_VAR"}).out, "inherited\n");
    ::unsetenv("CLUSTERD_TS_VAR");
}

TEST(TestSupport, WaitReadyEndsWhenTheProcessExits) {
    const auto dir = temp_dir("exit");
    Process p({"sh", "-c", "exit 3"}, dir + "/p.log");
    const auto t0 = Clock::now();
    EXPECT_FALSE(p.wait_ready([] { return false; }, 20s));
    EXPECT_LT(since(t0), 5.0);
    ASSERT_TRUE(WIFEXITED(p.exit_status()));
    EXPECT_EQ(WEXITSTATUS(p.exit_status()), 3);
}

TEST(TestSupport, ProcessThatCannotStartHasNoPid) {
    Process p({"/nonexistent/clusterd-no-such-program"}, temp_dir("nostart") + "/p.log");
    EXPECT_EQ(p.pid(), -1);
    EXPECT_FALSE(p.running());
}

TEST(TestSupport, RunCapturesOutputExitCodeAndStdin) {
    auto r = run({"sh", "-c", "cat; echo err >&2; exit 7"}, 10s, "from stdin\n");
    EXPECT_EQ(r.exit_code, 7);
    EXPECT_EQ(r.out, "from stdin\n");
    EXPECT_EQ(r.err, "err\n");
    auto missing = run({"/nonexistent/clusterd-no-such-program"});
    EXPECT_EQ(missing.exit_code, -1);
    EXPECT_NE(missing.err.find("spawn failed"), std::string::npos) << missing.err;
}

TEST(TestSupport, RunKillsTheCommandAndWhatItStartedAtTheTimeout) {
    // The background sleep keeps stdout open: only killing the whole group ends the read.
    const auto t0 = Clock::now();
    auto r = run({"sh", "-c", "sleep 30 & echo started; sleep 30"}, 500ms);
    EXPECT_EQ(r.exit_code, -1);
    EXPECT_EQ(r.out, "started\n");
    EXPECT_LT(since(t0), 5.0);
}
