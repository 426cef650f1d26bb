// sd_notify through a stub notify socket: a unix datagram socket named by $NOTIFY_SOCKET.
#include "clusterd/agent/sd_notify.hpp"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "support/notify_stub.hpp"
#include "test_util.hpp"

using namespace clusterd::agent;
using clusterd::testutil::TempDir;

namespace {

/// The shared stub, also naming itself in $NOTIFY_SOCKET for the test's lifetime.
class NotifyStub : public clusterd::testsupport::NotifyStub {
  public:
    explicit NotifyStub(const std::string& path) : clusterd::testsupport::NotifyStub(path) {
        ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
    }
    ~NotifyStub() { ::unsetenv("NOTIFY_SOCKET"); }
};

} // namespace

TEST(SdNotify, NoSocketIsANoOp) {
    ::unsetenv("NOTIFY_SOCKET");
    EXPECT_EQ(notify_ready(), 0);
    EXPECT_EQ(notify_stopping(), 0);
}

TEST(SdNotify, ReadyStatusStoppingReachTheSocket) {
    TempDir dir("notify");
    NotifyStub stub(dir.file("notify.sock"));
    ASSERT_TRUE(stub.ok());
    EXPECT_GT(notify_ready("running, 3 members"), 0);
    EXPECT_EQ(stub.receive(), "READY=1\nSTATUS=running, 3 members");
    EXPECT_GT(notify_status("joining"), 0);
    EXPECT_EQ(stub.receive(), "STATUS=joining");
    EXPECT_GT(notify_reloading(), 0);
    EXPECT_EQ(stub.receive(), "RELOADING=1");
    EXPECT_GT(notify_stopping(), 0);
    EXPECT_EQ(stub.receive(), "STOPPING=1\nSTATUS=leaving the cluster");
}

TEST(SdNotify, MissingSocketIsAnError) {
    TempDir dir("notify-missing");
    ::setenv("NOTIFY_SOCKET", dir.file("nobody-listens.sock").c_str(), 1);
    EXPECT_LT(notify_ready(), 0);
    ::unsetenv("NOTIFY_SOCKET");
}

TEST(SdNotify, AbstractSocketNameWithAt) {
    // systemd may hand out an abstract socket, written "@name" in $NOTIFY_SOCKET.
    const std::string name = "clusterd-notify-test-" + std::to_string(::getpid());
    const int fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::memcpy(addr.sun_path + 1, name.data(), name.size());
    const auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len), 0);
    ::setenv("NOTIFY_SOCKET", ("@" + name).c_str(), 1);
    EXPECT_GT(notify_ready("abstract"), 0);
    pollfd p{fd, POLLIN, 0};
    ASSERT_EQ(::poll(&p, 1, 2000), 1);
    char buf[256];
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    EXPECT_EQ(std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0), "READY=1\nSTATUS=abstract");
    ::unsetenv("NOTIFY_SOCKET");
    ::close(fd);
}

TEST(SdNotify, RelativeOrOverlongSocketNameIsRejected) {
    ::setenv("NOTIFY_SOCKET", "relative/path.sock", 1);
    EXPECT_LT(notify_ready(), 0);
    ::setenv("NOTIFY_SOCKET", ("/" + std::string(200, 'x')).c_str(), 1);
    EXPECT_LT(notify_ready(), 0);
    ::unsetenv("NOTIFY_SOCKET");
}

TEST(SdNotify, WatchdogReachesTheSocket) {
    TempDir dir("notify-watchdog");
    NotifyStub stub(dir.file("notify.sock"));
    ASSERT_TRUE(stub.ok());
    EXPECT_GT(notify_watchdog(), 0);
    EXPECT_EQ(stub.receive(), "WATCHDOG=1");
}

TEST(SdNotify, WatchdogIntervalFromTheEnvironmentValues) {
    using std::chrono::microseconds;
    const pid_t self = 4242;
    EXPECT_EQ(watchdog_interval("30000000", nullptr, self), microseconds(30000000));
    EXPECT_EQ(watchdog_interval("30000000", "4242", self), microseconds(30000000));
    // Off: unset, zero, another process's, malformed values.
    EXPECT_EQ(watchdog_interval(nullptr, nullptr, self), microseconds(0));
    EXPECT_EQ(watchdog_interval("0", nullptr, self), microseconds(0));
    EXPECT_EQ(watchdog_interval("30000000", "1", self), microseconds(0));
    EXPECT_EQ(watchdog_interval("30000000", "", self), microseconds(0));
    EXPECT_EQ(watchdog_interval("30000000", "42x", self), microseconds(0));
    EXPECT_EQ(watchdog_interval("", nullptr, self), microseconds(0));
    EXPECT_EQ(watchdog_interval("-5", nullptr, self), microseconds(0));
    EXPECT_EQ(watchdog_interval(" 5", nullptr, self), microseconds(0));
    EXPECT_EQ(watchdog_interval("5s", nullptr, self), microseconds(0));
    EXPECT_EQ(watchdog_interval("18446744073709551615", nullptr, self), microseconds(0));    // infinity
    EXPECT_EQ(watchdog_interval("99999999999999999999999", nullptr, self), microseconds(0)); // overflow
}

TEST(SdNotify, WatchdogIntervalFromEnv) {
    ::setenv("WATCHDOG_USEC", "500000", 1);
    ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
    EXPECT_EQ(watchdog_interval_from_env(), std::chrono::microseconds(500000));
    ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
    EXPECT_EQ(watchdog_interval_from_env(), std::chrono::microseconds(0));
    ::unsetenv("WATCHDOG_PID");
    ::unsetenv("WATCHDOG_USEC");
    EXPECT_EQ(watchdog_interval_from_env(), std::chrono::microseconds(0));
}
