// rpcload: a small Serf IPC (msgpack RPC v1) load client for the `members` command, so the
// cluster benchmark measures the agent rather than a Python msgpack decoder.
//
//   rpcload --addr 127.0.0.1:7373 [--seconds 3] [--inflight 16] [--sequential-calls 200]
//           [--auth KEY]
//
// Phase 1 (latency): --sequential-calls calls, one at a time, each round trip timed.
// Phase 2 (throughput): --inflight requests kept outstanding for --seconds (a new request is
// written for every answer), then the outstanding ones drained; completed calls counted.
// Prints one JSON line: {"members": M, "lat_ms": [...], "calls": C, "seconds": S,
// "calls_per_s": X}. Any error: a message on stderr and exit code 1. Every wait is bounded
// (connect 2 s; no complete answer within 5 s is an error).
//
// Depends only on the standard library and POSIX sockets (nothing from src/).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "clusterd/codec/msgpack/core.hpp"
#include "clusterd/rpc/protocol.hpp"

namespace {

using Clock = std::chrono::steady_clock;
constexpr auto kConnectTimeout = std::chrono::seconds(2);
constexpr auto kAnswerTimeout = std::chrono::seconds(5);

struct Options {
    std::string host = "127.0.0.1";
    std::string port = "7373";
    double seconds = 3.0;
    long inflight = 16;
    long sequential = 200;
    std::string auth;
    bool has_auth = false;
};

[[noreturn]] void fail(const std::string& msg) {
    throw std::runtime_error(msg);
}

std::string errno_text(const char* what) {
    return std::string(what) + ": " + std::strerror(errno);
}

int ms_until(Clock::time_point deadline) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0)
        return 0;
    return left > 60000 ? 60000 : static_cast<int>(left) + 1;
}

class Conn {
  public:
    Conn(const std::string& host, const std::string& port) {
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        const int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res);
        if (rc != 0)
            fail("resolve " + host + ":" + port + ": " + ::gai_strerror(rc));
        std::string last = "no address";
        const auto deadline = Clock::now() + kConnectTimeout;
        for (addrinfo* ai = res; ai != nullptr && fd_ < 0; ai = ai->ai_next) {
            const int fd =
                ::socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, ai->ai_protocol);
            if (fd < 0) {
                last = errno_text("socket");
                continue;
            }
            if (::connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
                if (errno != EINPROGRESS) {
                    last = errno_text("connect");
                    ::close(fd);
                    continue;
                }
                pollfd p{fd, POLLOUT, 0};
                const int pr = ::poll(&p, 1, ms_until(deadline));
                int err = 0;
                socklen_t len = sizeof err;
                if (pr <= 0) {
                    last = pr == 0 ? "connect: timed out" : errno_text("poll");
                    ::close(fd);
                    continue;
                }
                if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) {
                    last = std::string("connect: ") + std::strerror(err != 0 ? err : errno);
                    ::close(fd);
                    continue;
                }
            }
            fd_ = fd;
        }
        ::freeaddrinfo(res);
        if (fd_ < 0)
            fail("connect " + host + ":" + port + ": " + last);
        const int one = 1;
        ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        buf_.resize(1 << 18);
    }
    ~Conn() {
        if (fd_ >= 0)
            ::close(fd_);
    }
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;

    void write_all(const std::string& data) {
        const auto deadline = Clock::now() + kAnswerTimeout;
        std::size_t off = 0;
        while (off < data.size()) {
            const ssize_t n = ::send(fd_, data.data() + off, data.size() - off, MSG_NOSIGNAL);
            if (n > 0) {
                off += static_cast<std::size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                wait(POLLOUT, deadline, "send");
                continue;
            }
            fail(errno_text("send"));
        }
    }

    // The next complete msgpack object: [first, second) offsets into data(); valid until the
    // next call (the buffer may be compacted or grown when more bytes are read).
    std::pair<std::size_t, std::size_t> next_object(Clock::time_point deadline) {
        for (;;) {
            const auto e = measure();
            if (e.complete) {
                const std::size_t start = rpos_;
                rpos_ += e.size;
                return {start, rpos_};
            }
            fill(deadline);
        }
    }

    // True when a complete object is already buffered (no read needed).
    bool object_buffered() const { return measure().complete; }

    const std::uint8_t* data() const { return buf_.data(); }

  private:
    // Where the next buffered object ends (the core's need-more answer when it is incomplete).
    clusterd::codec::msgpack::Extent measure() const {
        const clusterd::base::ByteView view(buf_.data() + rpos_, wpos_ - rpos_);
        auto e = clusterd::codec::msgpack::Reader(view).measure();
        if (!e)
            fail("malformed msgpack in the answer stream: " + e.error().message);
        return *e;
    }

    void wait(short events, Clock::time_point deadline, const char* what) {
        for (;;) {
            pollfd p{fd_, events, 0};
            const int pr = ::poll(&p, 1, ms_until(deadline));
            if (pr > 0)
                return;
            if (pr == 0)
                fail(std::string(what) + ": no progress within 5 s");
            if (errno != EINTR)
                fail(errno_text("poll"));
        }
    }

    void fill(Clock::time_point deadline) {
        if (rpos_ == wpos_) {
            rpos_ = wpos_ = 0;
        } else if (rpos_ > 0 && (wpos_ == buf_.size() || rpos_ >= buf_.size() / 2)) {
            std::memmove(buf_.data(), buf_.data() + rpos_, wpos_ - rpos_);
            wpos_ -= rpos_;
            rpos_ = 0;
        }
        if (wpos_ == buf_.size())
            buf_.resize(buf_.size() * 2);
        for (;;) {
            const ssize_t n = ::recv(fd_, buf_.data() + wpos_, buf_.size() - wpos_, 0);
            if (n > 0) {
                wpos_ += static_cast<std::size_t>(n);
                return;
            }
            if (n == 0)
                fail("connection closed by the agent");
            if (errno == EINTR)
                continue;
            if (errno != EAGAIN && errno != EWOULDBLOCK)
                fail(errno_text("recv"));
            if (Clock::now() >= deadline)
                fail("no answer within 5 s");
            wait(POLLIN, deadline, "recv");
        }
    }

    int fd_ = -1;
    std::vector<std::uint8_t> buf_;
    std::size_t rpos_ = 0;
    std::size_t wpos_ = 0;
};

namespace rpc = clusterd::rpc;

template <typename T> std::string encoded(const T& v) {
    clusterd::base::Bytes b;
    rpc::encode(b, v);
    return std::string(b.begin(), b.end());
}

std::string request(std::string_view command, std::uint64_t seq) {
    return encoded(rpc::RequestHeader{std::string(command), seq});
}

// Parses a response header {"Error": str, "Seq": n}; returns Seq, fails on a non-empty Error.
std::uint64_t parse_header(const std::uint8_t* data, std::size_t begin, std::size_t end) {
    rpc::ResponseHeader h;
    if (auto st = rpc::decode(clusterd::base::ByteView(data + begin, end - begin), h); !st.ok())
        fail("answer header: " + st.error().message);
    if (!h.error.empty())
        fail("agent error: " + h.error);
    return h.seq;
}

// Length of the "Members" array of a members answer body (the members themselves are skipped:
// the figure is the agent's, not this client's decoding).
std::uint64_t count_members(const std::uint8_t* data, std::size_t begin, std::size_t end) {
    clusterd::codec::msgpack::Reader r(clusterd::base::ByteView(data + begin, end - begin));
    auto pairs = r.map_header();
    if (!pairs)
        fail("members body: " + pairs.error().message);
    for (std::size_t i = 0; i < *pairs; ++i) {
        auto key = r.str_view();
        if (!key)
            fail("members body: " + key.error().message);
        if (*key == "Members") {
            auto n = r.array_header();
            if (!n)
                fail("members body: Members: " + n.error().message);
            return *n;
        }
        if (auto st = r.skip(); !st.ok())
            fail("members body: " + st.error().message);
    }
    fail("members body without Members");
}

struct Client {
    explicit Client(const Options& o) : conn(o.host, o.port) {
        std::string hs = request("handshake", next_seq) + encoded(rpc::HandshakeRequest{1});
        simple_call(hs, "handshake");
        if (o.has_auth) {
            std::string a = request("auth", next_seq) + encoded(rpc::AuthRequest{o.auth});
            simple_call(a, "auth");
        }
    }

    // A call whose answer is a header only.
    void simple_call(const std::string& req, const char* what) {
        const std::uint64_t seq = next_seq++;
        conn.write_all(req);
        const auto [b, e] = conn.next_object(Clock::now() + kAnswerTimeout);
        const std::uint64_t got = parse_header(conn.data(), b, e);
        if (got != seq)
            fail(std::string(what) + ": answer Seq " + std::to_string(got) + ", wanted " +
                 std::to_string(seq));
    }

    // Reads one members answer (header + body); returns its Seq.
    std::uint64_t read_members_answer() {
        const auto deadline = Clock::now() + kAnswerTimeout;
        const auto [hb, he] = conn.next_object(deadline);
        const std::uint64_t seq = parse_header(conn.data(), hb, he);
        const auto [bb, be] = conn.next_object(deadline);
        if (members < 0)
            members = static_cast<long long>(count_members(conn.data(), bb, be));
        return seq;
    }

    Conn conn;
    std::uint64_t next_seq = 0;
    long long members = -1;
};

bool parse_long(const char* s, long& out) {
    char* end = nullptr;
    errno = 0;
    const long v = std::strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0')
        return false;
    out = v;
    return true;
}

void usage() {
    std::fprintf(stderr, "usage: rpcload --addr HOST:PORT [--seconds 3] [--inflight 16] "
                         "[--sequential-calls 200] [--auth KEY]\n");
}

bool parse_args(int argc, char** argv, Options& o) {
    bool have_addr = false;
    for (int i = 1; i < argc; ++i) {
        const std::string_view a = argv[i];
        if (a == "-h" || a == "--help")
            return false;
        if (i + 1 >= argc) {
            std::fprintf(stderr, "rpcload: %s needs a value\n", argv[i]);
            return false;
        }
        const char* v = argv[++i];
        if (a == "--addr") {
            std::string s = v;
            const auto colon = s.rfind(':');
            if (colon == std::string::npos || colon + 1 == s.size()) {
                std::fprintf(stderr, "rpcload: --addr wants HOST:PORT\n");
                return false;
            }
            o.host = s.substr(0, colon);
            o.port = s.substr(colon + 1);
            if (o.host.size() >= 2 && o.host.front() == '[' && o.host.back() == ']')
                o.host = o.host.substr(1, o.host.size() - 2);
            have_addr = true;
        } else if (a == "--seconds") {
            char* end = nullptr;
            o.seconds = std::strtod(v, &end);
            if (end == v || *end != '\0' || !(o.seconds >= 0.0) || o.seconds > 3600.0) {
                std::fprintf(stderr, "rpcload: bad --seconds %s\n", v);
                return false;
            }
        } else if (a == "--inflight") {
            if (!parse_long(v, o.inflight) || o.inflight < 1 || o.inflight > 4096) {
                std::fprintf(stderr, "rpcload: bad --inflight %s (1..4096)\n", v);
                return false;
            }
        } else if (a == "--sequential-calls") {
            if (!parse_long(v, o.sequential) || o.sequential < 0 || o.sequential > 10000000) {
                std::fprintf(stderr, "rpcload: bad --sequential-calls %s\n", v);
                return false;
            }
        } else if (a == "--auth") {
            o.auth = v;
            o.has_auth = true;
        } else {
            std::fprintf(stderr, "rpcload: unknown option %s\n", argv[i - 1]);
            return false;
        }
    }
    if (!have_addr)
        std::fprintf(stderr, "rpcload: --addr is required\n");
    return have_addr;
}

int run(const Options& o) {
    Client c(o);

    // Phase 1: sequential latency.
    std::vector<double> lat_ms;
    lat_ms.reserve(static_cast<std::size_t>(o.sequential));
    for (long i = 0; i < o.sequential; ++i) {
        const std::uint64_t seq = c.next_seq++;
        const std::string req = request("members", seq);
        const auto t = Clock::now();
        c.conn.write_all(req);
        const std::uint64_t got = c.read_members_answer();
        lat_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t).count());
        if (got != seq)
            fail("members: answer Seq " + std::to_string(got) + ", wanted " + std::to_string(seq));
    }

    // Phase 2: pipelined throughput, --inflight outstanding until --seconds, then drain.
    std::unordered_set<std::uint64_t> outstanding;
    std::string batch;
    auto queue = [&]() {
        const std::uint64_t seq = c.next_seq++;
        batch += request("members", seq);
        outstanding.insert(seq);
    };
    std::uint64_t calls = 0;
    const auto t0 = Clock::now();
    const auto end =
        t0 + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(o.seconds));
    for (long i = 0; i < o.inflight; ++i)
        queue();
    c.conn.write_all(batch);
    while (!outstanding.empty()) {
        batch.clear();
        // One answer (waiting if needed), then every further answer already buffered, then one
        // write with a new request for each (while the measuring window is open).
        do {
            const std::uint64_t got = c.read_members_answer();
            if (outstanding.erase(got) != 1)
                fail("members: unexpected answer Seq " + std::to_string(got));
            ++calls;
            if (Clock::now() < end)
                queue();
        } while (!outstanding.empty() && c.conn.object_buffered());
        if (!batch.empty())
            c.conn.write_all(batch);
    }
    const double secs = std::chrono::duration<double>(Clock::now() - t0).count();

    if (c.members < 0) { // no members call made at all (both phases empty): make one
        const std::uint64_t seq = c.next_seq++;
        c.conn.write_all(request("members", seq));
        if (c.read_members_answer() != seq)
            fail("members: answer Seq mismatch");
    }

    std::string out = "{\"members\": " + std::to_string(c.members) + ", \"lat_ms\": [";
    char num[64];
    for (std::size_t i = 0; i < lat_ms.size(); ++i) {
        std::snprintf(num, sizeof num, "%s%.4f", i == 0 ? "" : ", ", lat_ms[i]);
        out += num;
    }
    std::snprintf(num, sizeof num, "%.6f", secs);
    out += "], \"calls\": " + std::to_string(calls) + ", \"seconds\": " + num;
    std::snprintf(num, sizeof num, "%.1f", secs > 0 ? static_cast<double>(calls) / secs : 0.0);
    out += ", \"calls_per_s\": " + std::string(num) + "}\n";
    std::fwrite(out.data(), 1, out.size(), stdout);
    std::fflush(stdout);
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    Options o;
    if (!parse_args(argc, argv, o)) {
        usage();
        return 1;
    }
    try {
        return run(o);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "rpcload: %s\n", e.what());
        return 1;
    }
}
