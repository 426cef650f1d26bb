#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <csignal>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "clusterd/agent/log.hpp"
#include "clusterd/agent/state_files.hpp"

using namespace clusterd::agent;

namespace {
std::string temp_path(const std::string& name) {
    auto dir = std::filesystem::temp_directory_path() / ("clusterd-test-" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir);
    return (dir / name).string();
}
} // namespace

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
    ASSERT_EQ(got.size(), 1u); // ring replay, debug filtered out
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

TEST(LogHub, RingKeepsTheLastLinesInOrder) {
    LogHub hub(LogLevel::Info, /*to_stderr=*/false);
    const std::size_t total = LogHub::kRingLines + 300;
    for (std::size_t i = 0; i < total; ++i)
        hub.log(i % 3 == 0 ? LogLevel::Debug : LogLevel::Info, "serf", "line " + std::to_string(i));
    EXPECT_EQ(hub.recent_lines(), LogHub::kRingLines);
    std::vector<std::string> all, info;
    int a = hub.subscribe(LogLevel::Debug, [&](const std::string& l) { all.push_back(l); });
    int b = hub.subscribe(LogLevel::Info, [&](const std::string& l) { info.push_back(l); });
    ASSERT_EQ(all.size(), LogHub::kRingLines);
    for (std::size_t k = 0; k < all.size(); ++k) {
        const std::string want = "serf: line " + std::to_string(total - LogHub::kRingLines + k);
        ASSERT_EQ(all[k].substr(all[k].size() - want.size()), want) << k;
    }
    EXPECT_EQ(info.size(), 341u); // the replayed lines that are not debug (i % 3 != 0 of 300..811)
    hub.unsubscribe(a);
    hub.unsubscribe(b);
}

namespace {
/// Holds RLIMIT_FSIZE at `bytes` (writes past it fail with EFBIG, as on a full disk) and
/// ignores SIGXFSZ while alive.
struct FileSizeLimit {
    rlimit old{};
    void (*old_handler)(int) = nullptr;
    explicit FileSizeLimit(rlim_t bytes) {
        ::getrlimit(RLIMIT_FSIZE, &old);
        old_handler = std::signal(SIGXFSZ, SIG_IGN);
        rlimit lim = old;
        lim.rlim_cur = bytes;
        ::setrlimit(RLIMIT_FSIZE, &lim);
    }
    ~FileSizeLimit() {
        ::setrlimit(RLIMIT_FSIZE, &old);
        std::signal(SIGXFSZ, old_handler);
    }
};
std::size_t open_fd_count() {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator("/proc/self/fd"))
        ++n;
    return n;
}
std::string slurp_file(const std::string& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}
} // namespace

// Disk full while rewriting the keyring: the old file stays whole (never truncated), no
// temporary file is left to eat the space, no descriptor leaks, and the mode stays 0600.
TEST(KeyringFile, FailedWriteLeavesTheOldFileAndNoTemporary) {
    auto p = temp_path("keyring-full.json");
    std::filesystem::remove(p + ".tmp");
    std::vector<std::string> keys{"kPjXbONy/RArsCdG0LTOCQ=="};
    ASSERT_TRUE(write_keyring_file(p, keys).ok());
    const auto before = slurp_file(p);
    const auto fds = open_fd_count();
    {
        FileSizeLimit full(8);
        for (int i = 0; i < 3; ++i) {
            auto st = write_keyring_file(p, {"T9jncgl9mbLus+baTTa7q7nPSUrXwbDi2dhbtqir37s=", keys[0]});
            ASSERT_FALSE(st.ok());
            EXPECT_NE(st.error().message.find(p), std::string::npos) << st.error().message;
        }
    }
    EXPECT_EQ(slurp_file(p), before);
    EXPECT_FALSE(std::filesystem::exists(p + ".tmp")) << "a partial temporary file is left behind";
    EXPECT_EQ(open_fd_count(), fds);
    struct stat st {};
    ASSERT_EQ(::stat(p.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    auto back = read_keyring_file(p);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(*back, keys);
}

// A file that could not be written is remembered and written by retry() once it can be; the
// caller hears of each change of state once (failing, written again), not of every attempt.
TEST(PendingFile, RetriesAndReportsEachStateChangeOnce) {
    auto p = temp_path("pending-tags.json");
    std::filesystem::remove(p);
    PendingFile f(p, 0600);
    EXPECT_FALSE(f.pending());
    ASSERT_TRUE(f.write("{\"a\": \"1\"}\n").ok());
    EXPECT_FALSE(f.take_change().has_value());
    {
        FileSizeLimit full(4);
        EXPECT_FALSE(f.write("{\"a\": \"2\"}\n").ok());
        EXPECT_TRUE(f.pending());
        auto c = f.take_change();
        ASSERT_TRUE(c.has_value());
        EXPECT_NE(c->find("will retry"), std::string::npos) << *c;
        for (int i = 0; i < 5; ++i)
            EXPECT_FALSE(f.retry());
        EXPECT_FALSE(f.write("{\"a\": \"3\"}\n").ok());
        EXPECT_FALSE(f.take_change().has_value()) << "still failing is no change";
    }
    EXPECT_EQ(slurp_file(p), "{\"a\": \"1\"}\n");
    EXPECT_TRUE(f.retry());
    EXPECT_FALSE(f.pending());
    EXPECT_EQ(slurp_file(p), "{\"a\": \"3\"}\n");
    auto c = f.take_change();
    ASSERT_TRUE(c.has_value());
    EXPECT_NE(c->find("written again"), std::string::npos) << *c;
    EXPECT_FALSE(f.retry()) << "nothing pending";
}
