// Issue 17: the status page in a real headless Chromium. Five clusterd agents on loopback (local
// timing profile), the page loaded from one of them by status_page_cdp.py over the DevTools
// protocol; the DOM must list five alive members, then, after a kill -9 of one agent, show it
// failed without a reload. Screenshots land in the test's output folder.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdlib>

#include "support/cluster.hpp"
#include "support/ports.hpp"
#include "support/wait.hpp"

using namespace clusterd::testing;
using namespace std::chrono_literals;

TEST(StatusPage, ChromiumSeesAMemberFailWithoutReload) {
    const char* src = std::getenv("CLUSTERD_SOURCE_DIR");
    ASSERT_NE(src, nullptr);
    Cluster c("status-page");
    const auto http = free_port();
    auto& d1 =
        c.start(Kind::Clusterd, "d1",
                {"-profile=local", "-http-addr=127.0.0.1:" + std::to_string(http), "-tag=role=gateway"});
    for (const char* name : {"d2", "d3", "d4", "d5"})
        c.start(Kind::Clusterd, name, {"-profile=local", std::string("-tag=zone=") + name}, &d1);
    ASSERT_TRUE(c.wait_all_alive({"d1", "d2", "d3", "d4", "d5"}, 20s)) << c.dump();

    const std::string out = c.dir() + "/screenshots";
    Process cdp({"python3", std::string(src) + "/tests/e2e/status_page/status_page_cdp.py", "--url",
                 "http://127.0.0.1:" + std::to_string(http) + "/", "--out", out, "--expect", "5"},
                c.dir() + "/cdp.log");
    ASSERT_TRUE(cdp.wait_log("READY alive=5", 60s)) << cdp.log() << c.dump();
    c.agents()[3].child.kill9(); // d4
    ASSERT_TRUE(wait_until([&] { return !cdp.running(); }, 40s)) << cdp.log();
    EXPECT_TRUE(WIFEXITED(cdp.exit_status()) && WEXITSTATUS(cdp.exit_status()) == 0) << cdp.log() << c.dump();
    EXPECT_NE(cdp.log().find("FAILED name=d4 "), std::string::npos) << cdp.log();
    for (const char* png : {"status_page_alive.png", "status_page_failed.png", "status_page_phone.png"}) {
        const auto bytes = read_file(out + "/" + png);
        EXPECT_GT(bytes.size(), 1000u) << png;
        EXPECT_EQ(bytes.substr(0, 4), "\x89PNG") << png;
    }
    std::cout << "screenshots: " << out << "\n";
}
