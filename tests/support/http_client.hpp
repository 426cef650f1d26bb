// A small blocking HTTP/1.1 client for tests (header-only): one GET per connection
// (`Connection: close`), bounded by a deadline, and a reader for a Server-Sent Events stream.
// Loopback only; every wait is bounded.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace clusterd::testing {

struct HttpReply {
    int status = 0; ///< 0: no answer (connection refused, timeout, garbage)
    std::string head;
    std::string body;
};

/// A connected loopback socket with a raw request sent; -1 on failure.
inline int http_connect_send(std::uint16_t port, const std::string& raw) {
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ::close(fd);
        return -1;
    }
    std::size_t off = 0;
    while (off < raw.size()) {
        const auto n = ::send(fd, raw.data() + off, raw.size() - off, MSG_NOSIGNAL);
        if (n <= 0) {
            ::close(fd);
            return -1;
        }
        off += static_cast<std::size_t>(n);
    }
    return fd;
}

/// Reads what arrives until EOF, `stop(received)` says enough, or the deadline.
template <typename Stop>
inline std::string http_read_until(int fd, std::chrono::milliseconds timeout, Stop stop) {
    std::string got;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    char buf[8192];
    while (!stop(got)) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0)
            break;
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, static_cast<int>(left.count())) <= 0)
            break;
        const auto n = ::recv(fd, buf, sizeof buf, 0);
        if (n <= 0)
            break;
        got.append(buf, static_cast<std::size_t>(n));
    }
    return got;
}

inline HttpReply http_parse_reply(const std::string& got) {
    HttpReply r;
    const auto end = got.find("\r\n\r\n");
    if (got.rfind("HTTP/1.1 ", 0) != 0 || end == std::string::npos)
        return r;
    r.status = std::atoi(got.c_str() + 9);
    r.head = got.substr(0, end);
    r.body = got.substr(end + 4);
    return r;
}

/// GET `target` with extra header lines ("Name: value").
inline HttpReply http_get(std::uint16_t port, const std::string& target,
                          const std::vector<std::string>& headers = {},
                          std::chrono::milliseconds timeout = std::chrono::seconds(5),
                          const std::string& method = "GET") {
    std::string raw = method + " " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n";
    for (const auto& h : headers)
        raw += h + "\r\n";
    raw += "\r\n";
    const int fd = http_connect_send(port, raw);
    if (fd < 0)
        return {};
    auto got = http_read_until(fd, timeout, [](const std::string&) { return false; });
    ::close(fd);
    return http_parse_reply(got);
}

/// An open `GET /v1/events` (or any streamed response); read_until() collects what arrives.
class SseStream {
  public:
    SseStream(std::uint16_t port, const std::string& target, const std::vector<std::string>& headers = {}) {
        std::string raw = "GET " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n";
        for (const auto& h : headers)
            raw += h + "\r\n";
        fd_ = http_connect_send(port, raw + "\r\n");
    }
    ~SseStream() {
        if (fd_ >= 0)
            ::close(fd_);
    }
    SseStream(const SseStream&) = delete;
    SseStream& operator=(const SseStream&) = delete;
    bool ok() const { return fd_ >= 0; }
    /// Reads until `needle` is in everything received so far (or the timeout); returns it all.
    const std::string& read_until(const std::string& needle, std::chrono::milliseconds timeout) {
        if (fd_ >= 0 && all_.find(needle) == std::string::npos)
            all_ += http_read_until(fd_, timeout, [&](const std::string& got) {
                return (all_ + got).find(needle) != std::string::npos;
            });
        return all_;
    }

  private:
    int fd_ = -1;
    std::string all_;
};

} // namespace clusterd::testing
