// A tiny blocking loopback TCP client for server tests: send bytes, read IPC frames with deadlines.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <vector>

#include "support/tcp_peer.hpp"
#include "unit/rpc/wire_helpers.hpp"

namespace clusterd::rpc::testing {

class RawSocket {
  public:
    /// `source`: a local IP to connect from (e.g. "127.0.0.2", another loopback address).
    RawSocket(const std::string& ip, std::uint16_t port, int rcvbuf = 0, const char* source = nullptr)
        : fd_(clusterd::testing::tcp_connect(ip.c_str(), port, source, rcvbuf)), connected_(fd_ >= 0) {}
    ~RawSocket() {
        if (fd_ >= 0)
            ::close(fd_);
    }
    RawSocket(const RawSocket&) = delete;
    RawSocket& operator=(const RawSocket&) = delete;

    bool connected() const { return connected_; }
    bool send(const base::Bytes& b) {
        std::size_t off = 0;
        while (off < b.size()) {
            const ssize_t n = ::send(fd_, b.data() + off, b.size() - off, MSG_NOSIGNAL);
            if (n <= 0)
                return false;
            off += static_cast<std::size_t>(n);
        }
        return true;
    }
    /// Reads until `want` frames were parsed, EOF, or the deadline.
    std::vector<Frame> read_frames(std::size_t want,
                                   std::chrono::milliseconds limit = std::chrono::milliseconds(3000)) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (true) {
            auto f = frames(buf_);
            if (f.size() >= want || eof_)
                return f;
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return f;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
                continue;
            std::uint8_t tmp[65536];
            const ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
            if (n <= 0) {
                eof_ = true;
                continue;
            }
            buf_.insert(buf_.end(), tmp, tmp + n);
        }
    }
    /// True if the peer closed the connection before the deadline.
    bool wait_eof(std::chrono::milliseconds limit) {
        const auto deadline = std::chrono::steady_clock::now() + limit;
        while (!eof_) {
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
                continue;
            std::uint8_t tmp[65536];
            const ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
            if (n <= 0)
                eof_ = true;
        }
        return true;
    }
    void clear() { buf_.clear(); }

  private:
    int fd_ = -1;
    bool connected_ = false;
    bool eof_ = false;
    base::Bytes buf_;
};

} // namespace clusterd::rpc::testing
