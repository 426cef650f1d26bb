// The asio HTTP listener (include/clusterd/http/server.hpp).
#include "clusterd/http/server.hpp"

#include <array>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

#include "clusterd/config/config.hpp"

namespace clusterd::http {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

namespace {

base::Instant now_instant() {
    return base::Instant{std::chrono::duration_cast<base::Duration>(Clock::now().time_since_epoch())};
}

Clock::time_point to_clock(base::Instant t) {
    return Clock::time_point(std::chrono::duration_cast<Clock::duration>(t.since_epoch));
}

} // namespace

struct Server::Conn : std::enable_shared_from_this<Conn> {
    Server* server;
    std::weak_ptr<int> server_life;
    tcp::socket sock;
    asio::steady_timer timer;
    Session session;
    std::array<std::uint8_t, 16384> buf{};
    std::string wbuf;
    bool reading = false;
    bool writing = false;
    bool closed = false;
    bool close_posted = false;
    std::uint64_t timer_gen = 0;
    Clock::time_point write_started{};
    Clock::time_point last_stream_write{};
    std::function<void()> stream_end;

    Conn(Server* s, tcp::socket socket)
        : server(s), server_life(s->life_), sock(std::move(socket)), timer(sock.get_executor()),
          session(s->cfg_.limits, now_instant()) {}

    bool server_alive() const { return !server_life.expired(); }

    struct Sink final : StreamSink {
        std::weak_ptr<Conn> conn;
        explicit Sink(std::weak_ptr<Conn> c) : conn(std::move(c)) {}
        bool write(std::string_view chunk) override {
            auto c = conn.lock();
            if (!c || c->closed)
                return false;
            if (!c->session.stream_write(chunk)) {
                c->post_close(); // not now: the producer may be iterating its subscribers
                return false;
            }
            c->last_stream_write = Clock::now();
            c->flush();
            return true;
        }
        bool open() const override {
            auto c = conn.lock();
            return c && !c->closed && c->session.state() == Session::State::Streaming;
        }
    };

    void start() {
        maybe_read();
        arm_timer();
    }

    void maybe_read() {
        if (reading || closed || !session.wants_input())
            return;
        reading = true;
        sock.async_read_some(asio::buffer(buf),
                             [self = shared_from_this()](const asio::error_code& ec, std::size_t n) {
                                 self->reading = false;
                                 if (self->closed)
                                     return;
                                 if (ec)
                                     return self->close();
                                 self->session.feed(base::ByteView(self->buf.data(), n), now_instant());
                                 self->process();
                             });
    }

    void process() {
        if (closed)
            return;
        while (!closed && server_alive()) {
            auto req = session.take_request();
            if (!req)
                break;
            Response r = server->dispatch(*req);
            if (r.stream) {
                session.start_stream(r, now_instant());
                if (session.state() == Session::State::Streaming) {
                    last_stream_write = Clock::now();
                    stream_end = r.stream(std::make_shared<Sink>(weak_from_this()));
                }
            } else {
                session.respond(r, now_instant());
            }
        }
        after_io();
    }

    /// Common tail: write what is queued, read if wanted, close when done, re-arm the timer.
    void after_io() {
        if (closed)
            return;
        if (session.done() && !writing)
            return close();
        flush();
        maybe_read();
        arm_timer();
    }

    void flush() {
        if (writing || closed || session.output().empty())
            return;
        wbuf.assign(session.output());
        session.consume(wbuf.size());
        writing = true;
        write_started = Clock::now();
        asio::async_write(sock, asio::buffer(wbuf),
                          [self = shared_from_this()](const asio::error_code& ec, std::size_t) {
                              self->writing = false;
                              if (self->closed)
                                  return;
                              if (ec)
                                  return self->close();
                              self->after_io();
                          });
    }

    void arm_timer() {
        if (closed)
            return;
        std::optional<Clock::time_point> when;
        auto earliest = [&](Clock::time_point t) {
            if (!when || t < *when)
                when = t;
        };
        if (auto d = session.next_deadline())
            earliest(to_clock(*d));
        if (writing)
            earliest(write_started + server->cfg_.write_timeout);
        if (session.state() == Session::State::Streaming)
            earliest(last_stream_write + server->cfg_.heartbeat);
        const auto gen = ++timer_gen;
        if (!when)
            return;
        timer.expires_at(*when);
        timer.async_wait([self = shared_from_this(), gen](const asio::error_code& ec) {
            if (ec || self->closed || gen != self->timer_gen || !self->server_alive())
                return;
            self->on_timer();
        });
    }

    void on_timer() {
        const auto now = Clock::now();
        if (writing && now - write_started >= server->cfg_.write_timeout) {
            ++server->counters_.write_stalled;
            log("WARN", "http: dropping client: a write did not finish in time");
            return close();
        }
        session.tick(now_instant());
        if (session.state() == Session::State::Streaming &&
            now - last_stream_write >= server->cfg_.heartbeat) {
            last_stream_write = now;
            if (!session.stream_write(": keepalive\n\n"))
                return close();
        }
        after_io();
    }

    void log(const char* level, const std::string& msg) {
        if (server_alive() && server->cfg_.log)
            server->cfg_.log(level, msg);
    }

    void post_close() {
        if (close_posted || closed)
            return;
        close_posted = true;
        asio::post(sock.get_executor(), [self = shared_from_this()] { self->close(); });
    }

    void close() {
        if (closed)
            return;
        closed = true;
        asio::error_code ignored;
        sock.shutdown(tcp::socket::shutdown_both, ignored);
        sock.close(ignored);
        timer.cancel();
        ++timer_gen;
        if (server_alive()) {
            const auto& sc = session.counters();
            server->counters_.rejected += sc.bad_requests + sc.too_large;
            server->counters_.timed_out += sc.timed_out;
            server->counters_.stream_dropped += sc.stream_dropped;
            if (sc.stream_dropped > 0)
                log("WARN", "http: dropping an event-stream client that does not keep up");
            server->forget(this);
        }
        if (auto end = std::move(stream_end))
            end();
    }
};

Server::Server(asio::io_context& io, ServerConfig cfg, Handler handler)
    : io_(io), cfg_(std::move(cfg)), handler_(std::move(handler)), acceptor_(io) {}

Server::~Server() {
    stop();
}

base::Result<tcp::endpoint> Server::check_config(const ServerConfig& cfg) {
    std::string host;
    int port = 0;
    if (auto st = config::check_ip_port(cfg.bind, 8374, &host, &port); !st)
        return base::make_error("bad_address", "http_addr: " + st.error().message);
    asio::error_code ec;
    const auto ip = asio::ip::make_address(host, ec);
    if (ec)
        return base::make_error("bad_address", "http_addr: invalid IP '" + host + "'");
    if (!ip.is_loopback() && cfg.token.empty())
        return base::make_error("insecure_http",
                                "refusing to serve HTTP on non-loopback address " + cfg.bind +
                                    " without http_token: anyone who can reach it could read the member "
                                    "list and the event stream; set http_token (-http-token) or bind "
                                    "the HTTP listener to 127.0.0.1");
    return tcp::endpoint(ip, static_cast<std::uint16_t>(port));
}

base::Result<std::unique_ptr<Server>> Server::start(asio::io_context& io, ServerConfig cfg, Handler handler) {
    auto checked = check_config(cfg);
    if (!checked)
        return checked.error();
    const tcp::endpoint ep = *checked;
    asio::error_code ec;
    std::unique_ptr<Server> s(new Server(io, std::move(cfg), std::move(handler)));
    s->acceptor_.open(ep.protocol(), ec);
    if (!ec)
        s->acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec)
        s->acceptor_.bind(ep, ec);
    if (!ec)
        s->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return base::make_error("http_listen",
                                "cannot listen for HTTP on " + s->cfg_.bind + ": " + ec.message());
    s->accept_loop();
    return s;
}

Response Server::dispatch(const Request& req) {
    ++counters_.requests;
    if (!cfg_.token.empty()) {
        // The status page's login: GET /?token=<token> sets the cookie and drops the token from
        // the address bar. A browser cannot put a bearer token on an EventSource.
        if (req.path == "/" && (req.method == "GET" || req.method == "HEAD")) {
            if (auto t = req.query_param("token"); t && constant_time_equal(*t, cfg_.token)) {
                Response r = error_response(303);
                r.headers.emplace_back("Location", "/");
                r.headers.emplace_back("Set-Cookie", "clusterd_token=" + cfg_.token +
                                                         "; Path=/; HttpOnly; SameSite=Strict");
                return r;
            }
        }
        if (!authorized(req, cfg_.token)) {
            ++counters_.unauthorized;
            Response r = error_response(401, "send the http_token as 'Authorization: Bearer <token>'");
            r.headers.emplace_back("WWW-Authenticate", "Bearer realm=\"clusterd\"");
            return r;
        }
    }
    try {
        return handler_(req);
    } catch (const std::exception& e) {
        ++counters_.handler_errors;
        if (cfg_.log)
            cfg_.log("ERROR", std::string("http: handler for ") + req.path + " failed: " + e.what());
        return error_response(500);
    }
}

void Server::accept_loop() {
    std::weak_ptr<int> w = life_;
    acceptor_.async_accept([this, w](const asio::error_code& ec, tcp::socket sock) {
        if (w.expired() || stopped_)
            return;
        if (ec) {
            if (ec == asio::error::operation_aborted)
                return;
            auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(50));
            t->async_wait([this, w, t](const asio::error_code&) {
                if (!w.expired() && !stopped_)
                    accept_loop();
            });
            return;
        }
        if (conns_.size() >= cfg_.max_connections) {
            // Make room by closing an idle keep-alive connection; refuse when every slot is busy.
            Conn* victim = nullptr;
            for (auto& [p, c] : conns_)
                if (!c->writing && c->session.idle()) {
                    victim = p;
                    break;
                }
            if (victim != nullptr) {
                ++counters_.evicted_idle;
                auto keep = conns_[victim];
                keep->close();
            }
        }
        if (conns_.size() >= cfg_.max_connections) {
            const auto n = ++counters_.refused_over_cap;
            if (cfg_.log && (n == 1 || n == 10 || n == 100 || n % 1000 == 0))
                cfg_.log("WARN", "http: refusing client: connection limit reached (refused: " +
                                     std::to_string(n) + ")");
            asio::error_code ignored;
            sock.close(ignored);
        } else {
            ++counters_.accepted;
            asio::error_code ignored;
            sock.set_option(tcp::no_delay(true), ignored);
            auto c = std::make_shared<Conn>(this, std::move(sock));
            conns_[c.get()] = c;
            c->start();
        }
        accept_loop();
    });
}

void Server::forget(Conn* c) {
    conns_.erase(c);
}

void Server::stop() {
    if (stopped_)
        return;
    stopped_ = true;
    asio::error_code ignored;
    acceptor_.close(ignored);
    auto conns = conns_;
    for (auto& [p, c] : conns)
        c->close();
    conns_.clear();
}

tcp::endpoint Server::local_endpoint() const {
    asio::error_code ec;
    return acceptor_.local_endpoint(ec);
}

} // namespace clusterd::http
