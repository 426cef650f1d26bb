// Blocking IPC client over POSIX sockets with poll() deadlines.
#include "clusterd/rpc/client.hpp"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>

namespace clusterd::rpc {

namespace {

std::string go_errno(int e) {
    std::string s = std::strerror(e);
    if (!s.empty())
        s[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(s[0])));
    return s;
}

base::Error dial_error(const std::string& addr, const std::string& what) {
    return base::make_error("dial", "dial tcp " + addr + ": " + what);
}

int poll_ms(base::Duration d) {
    if (d.count() < 0)
        return -1;
    return static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
}

} // namespace

base::Result<std::unique_ptr<Client>> Client::connect(const std::string& addr, const std::string& auth_key,
                                                      base::Duration timeout) {
    std::string host;
    std::string port;
    if (!addr.empty() && addr[0] == '[') {
        const auto close = addr.find("]:");
        if (close == std::string::npos)
            return dial_error(addr, "address " + addr + ": missing port in address");
        host = addr.substr(1, close - 1);
        port = addr.substr(close + 2);
    } else {
        const auto colon = addr.rfind(':');
        if (colon == std::string::npos)
            return dial_error(addr, "address " + addr + ": missing port in address");
        host = addr.substr(0, colon);
        port = addr.substr(colon + 1);
    }
    if (host.empty())
        host = "127.0.0.1";
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    if (int rc = ::getaddrinfo(host.c_str(), port.c_str(), &hints, &res); rc != 0) {
        return dial_error(addr, std::string("lookup ") + host + ": " + ::gai_strerror(rc));
    }
    std::string last = "no addresses";
    int fd = -1;
    for (addrinfo* ai = res; ai != nullptr && fd < 0; ai = ai->ai_next) {
        int s = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
        if (s < 0) {
            last = "socket: " + go_errno(errno);
            continue;
        }
        const int flags = ::fcntl(s, F_GETFL, 0);
        ::fcntl(s, F_SETFL, flags | O_NONBLOCK);
        int rc = ::connect(s, ai->ai_addr, ai->ai_addrlen);
        if (rc != 0 && errno == EINPROGRESS) {
            pollfd p{s, POLLOUT, 0};
            rc = ::poll(&p, 1, poll_ms(timeout));
            if (rc == 0) {
                last = "i/o timeout";
                ::close(s);
                continue;
            }
            int err = 0;
            socklen_t len = sizeof(err);
            ::getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
            rc = err == 0 ? 0 : -1;
            errno = err;
        }
        if (rc != 0) {
            last = "connect: " + go_errno(errno);
            ::close(s);
            continue;
        }
        int one = 1;
        ::setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        fd = s;
    }
    ::freeaddrinfo(res);
    if (fd < 0)
        return dial_error(addr, last);

    std::unique_ptr<Client> c(new Client(fd, timeout));
    auto hs = c->request(cmd::kHandshake, HandshakeRequest{kIpcVersion}, false);
    if (!hs.ok())
        return hs.error();
    if (!hs->error.empty())
        return base::make_error("rpc", hs->error);
    if (!auth_key.empty()) {
        auto au = c->request(cmd::kAuth, AuthRequest{auth_key}, false);
        if (!au.ok())
            return au.error();
        if (!au->error.empty())
            return base::make_error("rpc", au->error);
    }
    return c;
}

Client::~Client() {
    if (fd_ >= 0)
        ::close(fd_);
}

base::Status Client::send_all(const base::Bytes& b) {
    std::size_t off = 0;
    const auto deadline = std::chrono::steady_clock::now() + timeout_;
    while (off < b.size()) {
        const ssize_t n = ::send(fd_, b.data() + off, b.size() - off, MSG_NOSIGNAL);
        if (n > 0) {
            off += static_cast<std::size_t>(n);
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
            const auto left = deadline - std::chrono::steady_clock::now();
            if (left <= base::Duration::zero())
                return base::make_error("timeout", "write: i/o timeout");
            pollfd p{fd_, POLLOUT, 0};
            ::poll(&p, 1, poll_ms(left));
            continue;
        }
        return base::make_error("io", "write: " + go_errno(errno));
    }
    return base::ok_status();
}

base::Result<Body> Client::read_object(base::Duration timeout) {
    const bool forever = timeout.count() < 0;
    const auto deadline = std::chrono::steady_clock::now() + (forever ? base::Duration::zero() : timeout);
    while (true) {
        if (!in_.empty()) {
            msgpack::Reader r(in_, kDecodeLimits);
            auto e = r.measure();
            if (!e)
                return base::make_error("malformed", "bad reply from agent: " + e.error().message);
            if (e->complete) {
                Body body;
                body.raw.assign(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(e->size));
                in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(e->size));
                msgpack::Reader vr(body.raw, kDecodeLimits);
                auto v = msgpack::read_value(vr);
                if (!v)
                    return base::make_error("malformed", "bad reply from agent: " + v.error().message);
                static_cast<msgpack::Value&>(body) = std::move(*v);
                return body;
            }
        }
        int wait = -1;
        if (!forever) {
            const auto left = deadline - std::chrono::steady_clock::now();
            if (left <= base::Duration::zero())
                return base::make_error("timeout", "read: i/o timeout");
            wait = std::max(1, poll_ms(left));
        }
        pollfd p{fd_, POLLIN, 0};
        const int pr = ::poll(&p, 1, wait);
        if (pr < 0 && errno == EINTR)
            return base::make_error("interrupted", "interrupted");
        if (pr == 0)
            continue;
        std::uint8_t buf[16384];
        const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
        if (n == 0)
            return base::make_error("closed", "EOF");
        if (n < 0) {
            if (errno == EAGAIN || errno == EINTR)
                continue;
            return base::make_error("io", "read: " + go_errno(errno));
        }
        in_.insert(in_.end(), buf, buf + n);
    }
}

base::Result<Reply> Client::read_reply_for(std::uint64_t seq, bool has_body) {
    while (true) {
        auto hv = read_object(timeout_);
        if (!hv.ok())
            return hv.error();
        ResponseHeader h;
        if (auto st = decode(*hv, h); !st.ok())
            return st.error();
        const bool is_stream = std::find(streams_.begin(), streams_.end(), h.seq) != streams_.end();
        if (h.seq != seq && !is_stream)
            continue; // a late reply we no longer wait for (e.g. stop)
        Reply r;
        r.seq = h.seq;
        r.error = h.error;
        const bool body = is_stream && h.seq != seq ? true
                                                    : (has_body && h.error != err::kAuthRequired &&
                                                       h.error != err::kUnsupportedCommand);
        if (body) {
            auto bv = read_object(timeout_);
            if (!bv.ok())
                return bv.error();
            r.body = std::move(*bv);
        }
        if (h.seq == seq)
            return r;
        stashed_.push_back(std::move(r));
    }
}

base::Result<Reply> Client::call(std::string_view command, const base::Bytes* body, bool reply_has_body) {
    const std::uint64_t seq = next_seq();
    base::Bytes b;
    encode(b, RequestHeader{std::string(command), seq});
    if (body != nullptr)
        b.insert(b.end(), body->begin(), body->end());
    if (auto st = send_all(b); !st.ok())
        return st.error();
    return read_reply_for(seq, reply_has_body);
}

base::Result<std::uint64_t> Client::start_stream(std::string_view command, const base::Bytes& body) {
    const std::uint64_t seq = next_seq();
    base::Bytes b;
    encode(b, RequestHeader{std::string(command), seq});
    b.insert(b.end(), body.begin(), body.end());
    if (auto st = send_all(b); !st.ok())
        return st.error();
    auto r = read_reply_for(seq, false);
    if (!r.ok())
        return r.error();
    if (!r->error.empty())
        return base::make_error("rpc", r->error);
    streams_.push_back(seq);
    return seq;
}

base::Result<Reply> Client::next_record(base::Duration timeout) {
    if (!stashed_.empty()) {
        Reply r = std::move(stashed_.front());
        stashed_.erase(stashed_.begin());
        return r;
    }
    const bool forever = timeout.count() < 0;
    const auto deadline = std::chrono::steady_clock::now() + (forever ? base::Duration::zero() : timeout);
    while (true) {
        base::Duration left = forever ? base::Duration(-1) : deadline - std::chrono::steady_clock::now();
        if (!forever && left <= base::Duration::zero())
            return base::make_error("timeout", "read: i/o timeout");
        auto hv = read_object(left);
        if (!hv.ok())
            return hv.error();
        ResponseHeader h;
        if (auto st = decode(*hv, h); !st.ok())
            return st.error();
        if (std::find(streams_.begin(), streams_.end(), h.seq) == streams_.end())
            continue;
        Reply r;
        r.seq = h.seq;
        r.error = h.error;
        auto bv = read_object(timeout_);
        if (!bv.ok())
            return bv.error();
        r.body = std::move(*bv);
        return r;
    }
}

base::Status Client::stop_stream(std::uint64_t seq) {
    streams_.erase(std::remove(streams_.begin(), streams_.end(), seq), streams_.end());
    base::Bytes b;
    encode(b, RequestHeader{std::string(cmd::kStop), next_seq()});
    encode(b, StopRequest{seq});
    return send_all(b);
}

} // namespace clusterd::rpc
