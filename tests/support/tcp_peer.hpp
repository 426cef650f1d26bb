// TcpPeer: a blocking loopback TCP client for attack and limit tests: connects from a chosen
// local address (127.0.0.x, so one test can play many source addresses) to 127.0.0.1:port,
// sends, drains, reads to EOF and notices when the other side closes. Every wait is bounded.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <optional>

#include "clusterd/base/bytes.hpp"

namespace clusterd::testing {

/// A blocking IPv4 TCP socket connected to ip:port, from the local address `source` when given,
/// with SO_RCVBUF `rcvbuf` when > 0. Returns the fd, or -1 (nothing left open) on failure.
inline int tcp_connect(const char* ip, std::uint16_t port, const char* source = nullptr, int rcvbuf = 0) {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    if (rcvbuf > 0)
        ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
    if (source != nullptr) {
        sockaddr_in la{};
        la.sin_family = AF_INET;
        ::inet_pton(AF_INET, source, &la.sin_addr);
        ::bind(fd, reinterpret_cast<sockaddr*>(&la), sizeof(la));
    }
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    ::inet_pton(AF_INET, ip, &sa.sin_addr);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
        ::close(fd);
        return -1;
    }
    return fd;
}

/// A blocking client socket connected from `source` to 127.0.0.1:port (fd < 0 on failure).
class TcpPeer {
  public:
    TcpPeer(std::uint16_t port, const char* source) : fd_(tcp_connect("127.0.0.1", port, source)) {}
    ~TcpPeer() {
        if (fd_ >= 0)
            ::close(fd_);
    }
    TcpPeer(const TcpPeer&) = delete;
    TcpPeer& operator=(const TcpPeer&) = delete;
    bool ok() const { return fd_ >= 0; }
    bool send(const void* p, std::size_t n) {
        return send(base::ByteView(static_cast<const std::uint8_t*>(p), n));
    }
    /// Waits up to `limit` for reply bytes and drops what arrived.
    void drain(std::chrono::milliseconds limit) {
        pollfd p{fd_, POLLIN, 0};
        if (fd_ >= 0 && ::poll(&p, 1, static_cast<int>(limit.count())) > 0) {
            std::uint8_t tmp[1024];
            [[maybe_unused]] auto n = ::recv(fd_, tmp, sizeof(tmp), MSG_DONTWAIT);
        }
    }
    /// Sends all of `b` (false once the other side closed the connection).
    bool send(base::ByteView b) {
        std::size_t off = 0;
        while (fd_ >= 0 && off < b.size()) {
            const ssize_t n = ::send(fd_, b.data() + off, b.size() - off, MSG_NOSIGNAL);
            if (n <= 0)
                return false;
            off += static_cast<std::size_t>(n);
        }
        return fd_ >= 0;
    }
    /// Reads until EOF or the time limit; returns what arrived (nullopt on a reset).
    std::optional<base::Bytes> read_all(std::chrono::milliseconds limit) {
        base::Bytes out;
        const auto end = std::chrono::steady_clock::now() + limit;
        while (fd_ >= 0) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                break;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
                continue;
            std::uint8_t tmp[4096];
            const ssize_t n = ::recv(fd_, tmp, sizeof(tmp), 0);
            if (n < 0)
                return std::nullopt;
            if (n == 0)
                break;
            out.insert(out.end(), tmp, tmp + n);
        }
        return out;
    }
    /// True if the driver closed the connection (EOF or reset) within the limit.
    bool closed_within(std::chrono::milliseconds limit) {
        const auto end = std::chrono::steady_clock::now() + limit;
        while (fd_ >= 0) {
            const auto left =
                std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
            if (left.count() <= 0)
                return false;
            pollfd p{fd_, POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
                continue;
            std::uint8_t tmp[4096];
            if (::recv(fd_, tmp, sizeof(tmp), 0) <= 0)
                return true;
        }
        return true;
    }

  private:
    int fd_ = -1;
};

} // namespace clusterd::testing
