#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include "clusterd/agent/log.hpp"
#include "clusterd/agent/state_files.hpp"

using namespace clusterd::agent;

namespace {
std::string temp_path(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() / ("clusterd-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return (dir / name).string();
}
}  // namespace

TEST(KeyringFile, RoundTripWithMode0600) {
    auto p = temp_path("keyring.json");
    std::vector<std::string> keys{"kPjXbONy/RArsCdG0LTOCQ==", "T9jncgl9mbLus+baTTa7q7nPSUrXwbDi2dhbtqir37s="};
    ASSERT_TRUE(write_keyring_file(p, keys).ok());
    auto back = read_keyring_file(p);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(*back, keys);
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST(KeyringFile, Errors) {
    EXPECT_FALSE(read_keyring_file(temp_path("absent.json")).ok());
    auto p = temp_path("bad.json");
    std::ofstream(p) << "{\"a\":1}";
    auto r = read_keyring_file(p);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find(p), std::string::npos);
    std::ofstream(p) << "[]";
    EXPECT_FALSE(read_keyring_file(p).ok());
}

TEST(TagsFile, RoundTripAndMissingIsEmpty) {
    auto p = temp_path("tags.json");
    std::filesystem::remove(p);
    auto empty = read_tags_file(p);
    ASSERT_TRUE(empty.ok());
    EXPECT_TRUE(empty->empty());
    std::map<std::string, std::string> tags{{"role", "web"}, {"dc", "east"}};
    ASSERT_TRUE(write_tags_file(p, tags).ok());
    auto back = read_tags_file(p);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, tags);
    std::ofstream(p) << "{\"a\": 5}";
    EXPECT_FALSE(read_tags_file(p).ok());
}

TEST(LogHub, LevelsAndSubscribers) {
    LogHub hub(LogLevel::Info, /*to_stderr=*/false);
    hub.log(LogLevel::Debug, "agent", "early debug");
    hub.info("agent", "early info");
    std::vector<std::string> got;
    int id = hub.subscribe(LogLevel::Info, [&](const std::string& l) { got.push_back(l); });
    ASSERT_EQ(got.size(), 1u);  // ring replay, debug filtered out
    EXPECT_NE(got[0].find("[INFO] agent: early info"), std::string::npos);
    hub.warn("serf", "w");
    hub.debug("serf", "d");
    EXPECT_EQ(got.size(), 2u);
    hub.unsubscribe(id);
    hub.error("x", "y");
    EXPECT_EQ(got.size(), 2u);
    EXPECT_EQ(parse_log_level("err"), LogLevel::Error);
    EXPECT_EQ(parse_log_level("Warn"), LogLevel::Warn);
    EXPECT_FALSE(parse_log_level("loud").has_value());
}
