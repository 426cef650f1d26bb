// conf/clusterd.service passes `systemd-analyze verify` (ExecStart pointed at the built binary),
// and carries the settings the agent relies on (Type=notify, SIGINT = graceful leave, restart).
#include <gtest/gtest.h>
#include <sys/wait.h>

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
    return run("timeout 60 systemd-analyze verify '" + path + "'");
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
