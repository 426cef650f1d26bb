// A bound unix datagram socket standing in for systemd's notify socket ($NOTIFY_SOCKET), for
// tests of the agent's readiness notifications (unit: sd_notify_test; interop: agent_service).
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>

namespace clusterd::testsupport {

class NotifyStub {
  public:
    explicit NotifyStub(const std::string& path) : path_(path) {
        fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        std::strncpy(sa.sun_path, path.c_str(), sizeof sa.sun_path - 1);
        ::unlink(path.c_str());
        ok_ = fd_ >= 0 && ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0;
    }
    ~NotifyStub() {
        if (fd_ >= 0)
            ::close(fd_);
        ::unlink(path_.c_str());
    }
    NotifyStub(const NotifyStub&) = delete;
    NotifyStub& operator=(const NotifyStub&) = delete;

    bool ok() const { return ok_; }

    /// The next datagram, or "" after `timeout`.
    std::string receive(std::chrono::milliseconds timeout = std::chrono::milliseconds(2000)) {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1)
            return "";
        char buf[4096];
        const ssize_t n = ::recv(fd_, buf, sizeof buf, MSG_DONTWAIT);
        return n > 0 ? std::string(buf, static_cast<std::size_t>(n)) : "";
    }

    /// Reads datagrams until one contains `needle` or `timeout` passes; every datagram is kept
    /// in received().
    bool wait_for(const std::string& needle, std::chrono::milliseconds timeout) {
        const auto deadline = std::chrono::steady_clock::now() + timeout;
        for (;;) {
            if (all_.find(needle) != std::string::npos)
                return true;
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return false;
            const std::string d = receive(left);
            if (!d.empty())
                all_ += d + "\n--\n";
        }
    }
    const std::string& received() const { return all_; }

  private:
    std::string path_;
    int fd_ = -1;
    bool ok_ = false;
    std::string all_;
};

} // namespace clusterd::testsupport
