// Issue 7 interop: the clusterd agent as a service, with the real binary in a mixed cluster of
// 2 serf + 2 clusterd agents. SIGHUP reloads the YAML config (log level, and a new handler runs on
// the next event), SIGINT leaves gracefully (`left` on serf), SIGTERM does not (`failed`), sd_notify
// READY=1 / STOPPING=1 reach a notify socket, and `-config-check` prints the effective config or
// names the bad key.
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "interop_records.hpp"
#include "support/cluster.hpp"
#include "support/notify_stub.hpp"

using namespace clusterd::testing;
using namespace std::chrono_literals;
using clusterd::testsupport::NotifyStub;

namespace {

std::string source_dir() {
    if (const char* s = std::getenv("CLUSTERD_SOURCE_DIR"); s != nullptr && *s != '\0')
        return s;
    std::string f = __FILE__;
    return f.substr(0, f.rfind("/tests/interop/"));
}

/// Starts a clusterd agent like Cluster::start does, but with extra environment variables and
/// (when `debug_flag` is false) no -log-level flag, so the config file's log_level applies.
AgentProc& start_with_env(Cluster& c, const std::string& name, const std::vector<std::string>& extra,
                          const AgentProc& join_to, const std::vector<std::string>& env,
                          bool debug_flag = true) {
    AgentProc a;
    a.kind = Kind::Clusterd;
    a.name = name;
    a.port = free_port();
    a.rpc = free_port();
    a.argv = {clusterd_bin(), "agent", "-node=" + name, "-bind=" + a.bind_addr(),
              "-rpc-addr=" + a.rpc_addr()};
    if (debug_flag)
        a.argv.push_back("-log-level=debug");
    for (const auto& e : extra)
        a.argv.push_back(e);
    a.argv.push_back("-join=" + join_to.bind_addr());
    a.child = Process(a.argv, c.dir() + "/" + name + ".log", env);
    c.agents().push_back(std::move(a));
    auto& ref = c.agents().back();
    wait_until(
        [&] {
            return run({"serf", "members", "-rpc-addr=" + ref.rpc_addr()}, 3s).exit_code == 0;
        },
        15s);
    return ref;
}

bool exited_zero(int status) {
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

} // namespace

TEST(AgentService, SighupReloadSignalsAndNotify) {
    Cluster c("service");
    const auto a_log = c.dir() + "/a.log", b_log = c.dir() + "/b.log";
    const auto ha =
        write_script(c.dir(), "a.sh", "echo \"a $SERF_USER_EVENT $(cat)\" >> \"" + a_log + "\"\n");
    const auto hb =
        write_script(c.dir(), "b.sh", "echo \"b $SERF_USER_EVENT $(cat)\" >> \"" + b_log + "\"\n");
    const auto yml = c.dir() + "/d1.yml";
    std::ofstream(yml) << "log_level: info\nevent_handlers:\n  - \"user:deploy=" << ha << "\"\n";

    auto& s1 = c.start(Kind::Serf, "s1", {});
    auto& s2 = c.start(Kind::Serf, "s2", {}, &s1);
    auto& d1 = start_with_env(c, "d1", {"-c", yml}, s1, {}, /*debug_flag=*/false);
    NotifyStub notify(c.dir() + "/notify.sock");
    ASSERT_TRUE(notify.ok());
    auto& d2 = start_with_env(c, "d2", {}, s2, {"NOTIFY_SOCKET=" + c.dir() + "/notify.sock"});
    ASSERT_TRUE(c.wait_all_alive({"s1", "s2", "d1", "d2"}, 30s)) << c.dump();
    EXPECT_TRUE(notify.wait_for("READY=1", 10s)) << notify.received();

    // The YAML handler runs.
    ASSERT_EQ(c.serf_cli(s1, {"event", "deploy", "v1"}).exit_code, 0);
    ASSERT_TRUE(wait_until([&] { return count_lines(a_log, "a deploy v1") == 1; }, 15s)) << c.dump();
    std::this_thread::sleep_for(300ms); // an absence over a window: no debug line gets logged
    EXPECT_EQ(d1.child.log().find("[DEBUG]"), std::string::npos) << d1.child.log(); // log_level: info

    // SIGHUP with another handler in the file: the next event runs the new one only.
    std::ofstream(yml) << "log_level: debug\nevent_handlers:\n  - \"user:deploy=" << hb << "\"\n";
    ASSERT_EQ(::kill(d1.child.pid(), SIGHUP), 0);
    ASSERT_TRUE(
        wait_until([&] { return d1.child.log().find("reloading configuration") != std::string::npos; }, 10s))
        << d1.child.log();
    // No sleep needed: reload() runs to its end on the agent's io thread once it has logged that
    // line, and the event below reaches d1 through a later handler on the same thread.
    ASSERT_EQ(c.serf_cli(s2, {"event", "deploy", "v2"}).exit_code, 0);
    EXPECT_TRUE(wait_until([&] { return count_lines(b_log, "b deploy v2") == 1; }, 15s)) << c.dump();
    // log_level: debug took effect: the handler's output is logged at debug, as Serf logs it.
    EXPECT_TRUE(wait_until(
        [&] { return d1.child.log().find("[DEBUG] agent: Event 'user' script output") != std::string::npos; },
        5s))
        << d1.child.log();
    EXPECT_EQ(d1.child.log().find("agent: agent:"), std::string::npos) << d1.child.log();
    // An absence over a window: the old handler (a) does not run for v2, not even late.
    std::this_thread::sleep_for(1500ms);
    EXPECT_EQ(count_lines(a_log, "v2"), 0) << read_file(a_log);
    EXPECT_TRUE(d1.child.running());
    // A broken config on SIGHUP keeps the running one.
    std::ofstream(yml) << "event_handlers: [\n";
    ASSERT_EQ(::kill(d1.child.pid(), SIGHUP), 0);
    EXPECT_TRUE(wait_until([&] { return d1.child.log().find("reload failed") != std::string::npos; }, 10s))
        << d1.child.log();
    ASSERT_EQ(c.serf_cli(s1, {"event", "deploy", "v3"}).exit_code, 0);
    EXPECT_TRUE(wait_until([&] { return count_lines(b_log, "b deploy v3") == 1; }, 15s)) << c.dump();

    // SIGINT: graceful leave, seen `left` by the Serf agents, exit 0.
    int st = d1.child.stop(SIGINT, 15s);
    EXPECT_TRUE(exited_zero(st)) << st << d1.child.log();
    EXPECT_TRUE(c.wait_status(s1, "d1", "left", 20s)) << c.dump();
    EXPECT_TRUE(c.wait_status(s2, "d1", "left", 20s)) << c.dump();

    // SIGTERM: no leave by default (seen `failed`), exit 0, STOPPING=1 on the notify socket.
    st = d2.child.stop(SIGTERM, 15s);
    EXPECT_TRUE(exited_zero(st)) << st << d2.child.log();
    EXPECT_TRUE(notify.wait_for("STOPPING=1", 5s)) << notify.received();
    EXPECT_TRUE(c.wait_status(s1, "d2", "failed", 30s)) << c.dump();
    EXPECT_NE(c.statuses(s2)["d2"], "left");
    auto rec = notify.received();
    EXPECT_LT(rec.find("READY=1"), rec.find("STOPPING=1")) << rec;
}

TEST(AgentService, ConfigCheck) {
    const auto conf = source_dir() + "/conf/clusterd.yml";
    auto r = run({clusterd_bin(), "agent", "-config-check", "-c", conf}, 10s);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("effective configuration"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(conf), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("rpc_addr = "), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("127.0.0.1:7373"), std::string::npos) << r.out;

    const auto dir = temp_dir("configcheck");
    const auto bad = dir + "/bad.yml";
    std::ofstream(bad) << "cluster_listen: \"127.0.0.1:7946\"\nbogus_setting: 1\n";
    r = run({clusterd_bin(), "agent", "-config-check", "-c", bad}, 10s);
    EXPECT_NE(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE((r.out + r.err).find("bogus_setting"), std::string::npos) << r.out << r.err;

    const auto bad2 = dir + "/bad2.yml";
    std::ofstream(bad2) << "handler_timeout: banana\n";
    r = run({clusterd_bin(), "agent", "-config-check", "-c", bad2}, 10s);
    EXPECT_NE(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE((r.out + r.err).find("handler_timeout"), std::string::npos) << r.out << r.err;
}

TEST(AgentService, JoinsByHostNameFromTheStaticBinary) {
    // The release binary is static: `localhost` must still resolve (glibc's built-in files
    // lookup), for -join as for retry_join.
    Cluster c("hostname");
    auto& s1 = c.start(Kind::Serf, "s1", {});
    AgentProc a;
    a.kind = Kind::Clusterd;
    a.name = "d1";
    a.port = free_port();
    a.rpc = free_port();
    a.argv = {clusterd_bin(),
              "agent",
              "-node=d1",
              "-bind=" + a.bind_addr(),
              "-rpc-addr=" + a.rpc_addr(),
              "-join=localhost:" + std::to_string(s1.port)};
    a.child = Process(a.argv, c.dir() + "/d1.log", {});
    c.agents().push_back(std::move(a));
    ASSERT_TRUE(c.wait_all_alive({"s1", "d1"}, 20s)) << c.dump();
}

TEST(AgentService, WatchdogPingsFromTheEventLoop) {
    // WatchdogSec= in the unit: systemd exports WATCHDOG_USEC (and WATCHDOG_PID); the agent sends
    // WATCHDOG=1 every half interval. With WATCHDOG_PID naming another process it stays silent.
    const auto dir = temp_dir("watchdog");
    auto count_pings = [&](const std::string& name, const std::vector<std::string>& env) {
        NotifyStub notify(dir + "/" + name + ".sock");
        EXPECT_TRUE(notify.ok());
        std::vector<std::string> full_env = env;
        full_env.push_back("NOTIFY_SOCKET=" + dir + "/" + name + ".sock");
        const int port = free_port(), rpc = free_port();
        Process p({clusterd_bin(), "agent", "-node=" + name, "-bind=127.0.0.1:" + std::to_string(port),
                   "-rpc-addr=127.0.0.1:" + std::to_string(rpc)},
                  dir + "/" + name + ".log", full_env);
        EXPECT_TRUE(notify.wait_for("READY=1", 10s))
            << notify.received() << read_file(dir + "/" + name + ".log");
        notify.wait_for("never sent", 1200ms); // collects every datagram of a 1.2 s window
        const std::string rec = notify.received();
        EXPECT_TRUE(p.running()) << read_file(dir + "/" + name + ".log");
        p.stop(SIGTERM, 5s);
        std::size_t n = 0;
        for (std::size_t at = rec.find("WATCHDOG=1"); at != std::string::npos;
             at = rec.find("WATCHDOG=1", at + 1))
            ++n;
        return n;
    };
    // 400 ms interval: a ping every 200 ms, about 6 in the window (and one at start).
    EXPECT_GE(count_pings("wd-on", {"WATCHDOG_USEC=400000"}), 4u);
    EXPECT_EQ(count_pings("wd-other-pid", {"WATCHDOG_USEC=400000", "WATCHDOG_PID=1"}), 0u);
    EXPECT_EQ(count_pings("wd-off", {}), 0u);
}

TEST(AgentService, AllocatorSettingKeepsThePidAndTheHandlersEnvironment) {
    // The agent re-executes itself once with glibc's per-thread free-chunk cache off (issue 19,
    // private bytes per agent): the same PID (systemd, pid files and tests stop it by PID), the
    // setting added to the operator's GLIBC_TUNABLES for the agent's own process, and handlers
    // run with the operator's environment as it was.
    Cluster c("allocator");
    const auto env_dump = c.dir() + "/env.txt";
    const auto h = write_script(c.dir(), "env.sh",
                                "cat >/dev/null; env > \"" + env_dump + ".tmp\" && mv \"" + env_dump +
                                    ".tmp\" \"" + env_dump + "\"\n");
    auto& s1 = c.start(Kind::Serf, "s1", {});
    auto& d1 = start_with_env(c, "d1", {"-event-handler=user=" + h}, s1,
                              {"GLIBC_TUNABLES=glibc.malloc.arena_max=2", "CLUSTERD_TEST_MARK=kept"});
    ASSERT_TRUE(c.wait_all_alive({"s1", "d1"}, 20s)) << c.dump();
    ASSERT_TRUE(d1.child.running());
    // The process the test started is the agent (exec in place), and the image it runs was
    // started with the setting after the operator's own.
    const std::string initial_env = read_file("/proc/" + std::to_string(d1.child.pid()) + "/environ");
    EXPECT_NE(initial_env.find(std::string("CLUSTERD_ALLOCATOR_REEXEC==glibc.malloc.arena_max=2") + '\0'),
              std::string::npos);
    const std::string exe = std::filesystem::read_symlink("/proc/" + std::to_string(d1.child.pid()) + "/exe");
    EXPECT_EQ(std::filesystem::canonical(exe), std::filesystem::canonical(clusterd_bin()));
    // ps, pgrep, ss and top show the name it was started as, not "exe" (CI's avahi lab test
    // looks the agent up by name in `ss -p`).
    std::string comm = read_file("/proc/" + std::to_string(d1.child.pid()) + "/comm");
    if (!comm.empty() && comm.back() == '\n')
        comm.pop_back();
    EXPECT_EQ(comm, std::filesystem::path(clusterd_bin()).filename().string().substr(0, 15));

    ASSERT_EQ(c.serf_cli(s1, {"event", "envcheck", "x"}).exit_code, 0);
    ASSERT_TRUE(wait_until([&] { return !read_file(env_dump).empty(); }, 15s)) << c.dump();
    const std::string env = "\n" + read_file(env_dump);
    EXPECT_NE(env.find("\nGLIBC_TUNABLES=glibc.malloc.arena_max=2\n"), std::string::npos) << env;
    EXPECT_EQ(env.find("tcache_count"), std::string::npos) << env;
    EXPECT_EQ(env.find("CLUSTERD_ALLOCATOR_REEXEC"), std::string::npos) << env;
    EXPECT_NE(env.find("\nCLUSTERD_TEST_MARK=kept\n"), std::string::npos) << env;
    EXPECT_NE(env.find("\nSERF_USER_EVENT=envcheck\n"), std::string::npos) << env;
}
