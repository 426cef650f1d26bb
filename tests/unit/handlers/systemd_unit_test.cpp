// conf/clusterd.service passes `systemd-analyze verify` (ExecStart pointed at the built binary),
// and carries the settings the agent relies on (Type=notify, SIGINT = graceful leave, restart).
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <regex>

#include "test_util.hpp"

using clusterd::testutil::read_file;
using clusterd::testutil::TempDir;

namespace {

struct CmdResult {
    int status = -1;
    std::string output;
};

CmdResult run(const std::string& cmd) {
    CmdResult r;
    FILE* p = ::popen((cmd + " 2>&1").c_str(), "r");
    if (p == nullptr)
        return r;
    char buf[1024];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
        r.output.append(buf, n);
    r.status = ::pclose(p);
    return r;
}

std::string unit_text() {
    return read_file(std::string(CLUSTERD_TEST_SOURCE_DIR) + "/conf/clusterd.service");
}

std::string binary() {
    const char* b = std::getenv("CLUSTERD_BIN");
    return b != nullptr && *b != '\0' ? b : "/bin/true";
}

CmdResult verify(const std::string& text) {
    TempDir dir("unit");
    const std::string path = dir.file("clusterd.service");
    std::ofstream(path) << text;
    // The unit's Documentation= names man pages; verify runs man(1) on them, so point it at the
    // tree's pages (the installed package is verified against the installed ones).
    return run("MANPATH='" + std::string(CLUSTERD_TEST_SOURCE_DIR) +
               "/docs/man' timeout 60 systemd-analyze verify '" + path + "'");
}

} // namespace

TEST(SystemdUnit, HasTheSettingsTheAgentRelieson) {
    const std::string u = unit_text();
    ASSERT_FALSE(u.empty());
    for (const char* line :
         {"Type=notify", "KillSignal=SIGINT", "Restart=always", "ExecReload=/bin/kill -HUP $MAINPID",
          "ExecStart=/usr/bin/clusterd agent", "WantedBy=multi-user.target"})
        EXPECT_NE(u.find(std::string("\n") + line), std::string::npos) << line;
}

TEST(SystemdUnit, RunsSandboxedAsTheClusterdUserWithAWatchdog) {
    // The package's unit: its own user (debian/clusterd.sysusers), the watchdog the agent pings,
    // and the sandbox of a network daemon with no privileges.
    const std::string u = unit_text();
    for (const char* line :
         {"User=clusterd", "WatchdogSec=", "StateDirectory=clusterd", "NoNewPrivileges=yes",
          "CapabilityBoundingSet=\n", "ProtectSystem=strict", "ProtectHome=yes", "PrivateTmp=yes",
          "RestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX AF_NETLINK", "SystemCallFilter=@system-service"})
        EXPECT_NE(u.find(std::string("\n") + line), std::string::npos) << line;
    EXPECT_EQ(u.find("\nDynamicUser="), std::string::npos);
}

TEST(SystemdUnit, DebianPackageInstallsThisUnit) { // one unit file: debian/ links to conf/
    char target[256] = {};
    const std::string link = std::string(CLUSTERD_TEST_SOURCE_DIR) + "/debian/clusterd.service";
    const ssize_t n = ::readlink(link.c_str(), target, sizeof target - 1);
    ASSERT_GT(n, 0) << link;
    EXPECT_EQ(std::string(target, static_cast<std::size_t>(n)), "../conf/clusterd.service");
}

TEST(SystemdUnit, PassesSystemdAnalyzeVerify) {
    const std::string u = std::regex_replace(unit_text(), std::regex("/usr/bin/clusterd"), binary());
    const CmdResult r = verify(u);
    EXPECT_EQ(r.status, 0) << r.output;
    EXPECT_EQ(r.output, "") << "systemd-analyze verify complained";
}

TEST(SystemdUnit, VerifyCatchesABrokenUnit) { // proves the check above can fail
    std::string u = std::regex_replace(unit_text(), std::regex("/usr/bin/clusterd"), binary());
    u = std::regex_replace(u, std::regex("Type=notify"), "Type=notifyy");
    const CmdResult r = verify(u);
    EXPECT_NE(r.output.find("notifyy"), std::string::npos) << r.output;
}
