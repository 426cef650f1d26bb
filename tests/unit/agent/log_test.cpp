// LogHub: Serf-format lines, the 512-line recent ring replayed to `monitor` subscribers, and
// what the ring holds per line (issue 19: an agent's bytes per member; every member join logs
// a line, so the ring's fill between 128 and 512 members reads as a per-member cost).
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <vector>

#include "clusterd/agent/log.hpp"

namespace clusterd::agent {
namespace {

std::string join_message(int i) {
    return "EventMemberJoin: kong-node-" + std::to_string(i) + " 10.0.0." + std::to_string(i % 250);
}

TEST(LogHub, ReplaysTheRingInSerfsFormatAsTheLinesWereSent) {
    LogHub hub(LogLevel::Info, false);
    std::vector<std::string> live;
    const int id = hub.subscribe(LogLevel::Debug, [&](const std::string& l) { live.push_back(l); });
    hub.log(LogLevel::Info, "serf", join_message(1));
    hub.log(LogLevel::Debug, "memberlist", "Stream connection from=127.0.0.1:4000");
    hub.log(LogLevel::Warn, "agent", "something odd");
    hub.unsubscribe(id);
    ASSERT_EQ(live.size(), 3u);
    const std::regex serf_line(R"(\d{4}/\d{2}/\d{2} \d{2}:\d{2}:\d{2} \[(DEBUG|INFO|WARN)\] [a-z]+: .+)");
    for (const auto& l : live)
        EXPECT_TRUE(std::regex_match(l, serf_line)) << l;
    EXPECT_NE(live[0].find("[INFO] serf: EventMemberJoin: kong-node-1 10.0.0.1"), std::string::npos);

    // A later subscriber gets the ring replayed at its level, identical to the live lines
    // (the same second, unless the clock turned one between them).
    std::vector<std::string> replay;
    hub.subscribe(LogLevel::Info, [&](const std::string& l) { replay.push_back(l); });
    ASSERT_EQ(replay.size(), 2u);
    for (std::size_t i = 0; i < 2; ++i) {
        const std::string& want = live[i == 0 ? 0 : 2];
        EXPECT_EQ(replay[i].substr(19), want.substr(19));
        EXPECT_EQ(replay[i].size(), want.size());
    }
}

TEST(LogHub, RingKeepsTheNewest512LinesWithoutTheirPrefix) {
    LogHub hub(LogLevel::Info, false);
    std::size_t bodies = 0;
    const int total = 2000;
    for (int i = 0; i < total; ++i) {
        const std::string m = join_message(i);
        hub.info("serf", m);
        if (i >= total - static_cast<int>(LogHub::kRingLines))
            bodies += 6 + m.size(); // "serf: " + message
    }
    EXPECT_EQ(hub.recent_lines(), LogHub::kRingLines);
    // The ring holds "component: message" only; the 27-byte "YYYY/MM/DD HH:MM:SS [INFO] "
    // prefix is formatted again on replay (a ring of whole lines held 27 bytes more a line).
    EXPECT_EQ(hub.recent_text_bytes(), bodies);
    std::vector<std::string> replay;
    hub.subscribe(LogLevel::Trace, [&](const std::string& l) { replay.push_back(l); });
    ASSERT_EQ(replay.size(), LogHub::kRingLines);
    EXPECT_NE(replay.front().find(join_message(total - 512)), std::string::npos);
    EXPECT_NE(replay.back().find(join_message(total - 1)), std::string::npos);
}

} // namespace
} // namespace clusterd::agent
