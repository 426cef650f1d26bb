// The asio IPC listener: accepts connections, pumps bytes between sockets and Sessions, and
// enforces the connection cap and the handshake / half-sent-frame / idle / write-stall timeouts.
#include "clusterd/rpc/server.hpp"

#include <array>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <asio/write.hpp>

namespace clusterd::rpc {

using asio::ip::tcp;
using Clock = std::chrono::steady_clock;

base::Result<tcp::endpoint> parse_endpoint(const std::string& text) {
    std::string host;
    std::string port;
    if (!text.empty() && text[0] == '[') {
        const auto close = text.find(']');
        if (close == std::string::npos || close + 1 >= text.size() || text[close + 1] != ':')
            return base::make_error("bad_address", "invalid address '" + text + "'");
        host = text.substr(1, close - 1);
        port = text.substr(close + 2);
    } else {
        const auto colon = text.rfind(':');
        if (colon == std::string::npos)
            return base::make_error("bad_address", "missing port in address '" + text + "'");
        host = text.substr(0, colon);
        port = text.substr(colon + 1);
    }
    if (host.empty() || host == "localhost")
        host = host.empty() ? "0.0.0.0" : "127.0.0.1";
    asio::error_code ec;
    const auto ip = asio::ip::make_address(host, ec);
    if (ec)
        return base::make_error("bad_address", "invalid IP '" + host + "' in address '" + text + "'");
    if (port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(port) > 65535)
        return base::make_error("bad_address", "invalid port in address '" + text + "'");
    return tcp::endpoint(ip, static_cast<std::uint16_t>(std::stoul(port)));
}

struct Server::Conn : std::enable_shared_from_this<Conn> {
    Server* server;
    std::weak_ptr<int> server_life;
    tcp::socket sock;
    asio::steady_timer watchdog;
    std::unique_ptr<Session> owned; ///< released on close, so subscriptions end with the socket
    Session& session;
    std::array<std::uint8_t, 4096>
        buf{}; /// one read; requests are small (Serf reads through a 4 KiB bufio too)
    base::Bytes wbuf;
    bool writing = false;
    bool closed = false;
    bool kick_posted = false;
    bool leave_done = false;
    std::string peer; ///< the client's IP (eviction picks the address holding the most untrusted slots)
    Clock::time_point accepted = Clock::now();
    Clock::time_point last_activity = accepted;
    Clock::time_point write_started{};
    Clock::time_point partial_since{};
    bool partial = false;

    Conn(Server* s, tcp::socket socket)
        : server(s), server_life(s->life_), sock(std::move(socket)), watchdog(sock.get_executor()),
          owned(std::make_unique<Session>(s->agent_, s->cfg_.session)), session(*owned) {}

    bool server_alive() const { return !server_life.expired(); }

    /// Trusted: authenticated when the server has an auth key, else past the handshake.
    /// Only untrusted connections may be evicted for a newcomer when an auth key is set.
    bool trusted() const {
        if (closed || !server_alive())
            return false;
        return server->cfg_.auth_key.empty() ? session.handshake_done() : session.authenticated();
    }
    /// Holds nothing a client is waiting for: no request in progress, nothing subscribed or queued.
    bool idle() const {
        return !writing && !session.busy() && !session.has_subscriptions() && !session.has_output() &&
               !partial;
    }

    void log(const char* level, const std::string& msg) {
        if (server_alive() && server->cfg_.log)
            server->cfg_.log(level, msg);
    }

    void start() {
        std::weak_ptr<Conn> w = weak_from_this();
        session.set_output_listener([w] {
            auto self = w.lock();
            if (!self || self->kick_posted || self->closed)
                return;
            self->kick_posted = true;
            asio::post(self->sock.get_executor(), [self] {
                self->kick_posted = false;
                self->kick();
            });
        });
        read();
        tick();
    }

    void read() {
        sock.async_read_some(
            asio::buffer(buf),
            [self = shared_from_this()](const asio::error_code& ec, std::size_t n) { self->on_read(ec, n); });
    }

    void on_read(const asio::error_code& ec, std::size_t n) {
        if (closed)
            return;
        if (ec)
            return close(); // the client went away
        const auto now = Clock::now();
        last_activity = now;
        session.feed(base::ByteView(buf.data(), n));
        if (session.buffered() > 0) {
            if (!partial)
                partial_since = now;
            partial = true;
        } else {
            partial = false;
        }
        kick();
        if (!closed && !session.closing())
            read();
    }

    void kick() {
        if (closed || writing)
            return;
        if (session.has_output()) {
            wbuf = session.take_output();
            writing = true;
            write_started = Clock::now();
            asio::async_write(sock, asio::buffer(wbuf),
                              [self = shared_from_this()](const asio::error_code& ec, std::size_t) {
                                  self->writing = false;
                                  if (ec)
                                      return self->close();
                                  self->kick();
                              });
            return;
        }
        if (session.leave_replied() && !leave_done && server_alive()) {
            leave_done = true;
            AgentApi* agent = &server->agent_;
            asio::post(sock.get_executor(), [agent] { agent->shutdown(); });
        }
        if (session.closing()) {
            if (server_alive() && !session.leave_replied())
                ++server->counters_.protocol_closed;
            log("DEBUG", "agent.ipc: closing client: " + session.close_reason());
            asio::error_code ignored;
            sock.shutdown(tcp::socket::shutdown_both, ignored);
            close();
        }
    }

    void tick() {
        if (!server_alive())
            return;
        const auto& c = server->cfg_;
        auto interval = std::min({c.handshake_timeout, c.auth_timeout, c.frame_timeout, c.idle_timeout,
                                  c.write_timeout}) /
                        4;
        interval =
            std::clamp<base::Duration>(interval, std::chrono::milliseconds(10), std::chrono::seconds(1));
        watchdog.expires_after(interval);
        watchdog.async_wait([self = shared_from_this()](const asio::error_code& ec) {
            if (ec || self->closed)
                return;
            self->check();
            if (!self->closed)
                self->tick();
        });
    }

    void check() {
        if (!server_alive())
            return;
        const auto& c = server->cfg_;
        const auto now = Clock::now();
        session.expire(c.now ? c.now() : base::Instant{now.time_since_epoch()});
        const char* why = nullptr;
        bool stalled = false;
        bool auth_late = false;
        if (!session.handshake_done() && now - accepted > c.handshake_timeout) {
            why = "no handshake in time";
        } else if (!c.auth_key.empty() && !session.authenticated() && now - accepted > c.auth_timeout) {
            why = "not authenticated in time";
            auth_late = true;
        } else if (partial && session.buffered() > 0 && now - partial_since > c.frame_timeout) {
            why = "request left half-sent";
        } else if (writing && now - write_started > c.write_timeout) {
            why = "client stopped reading";
            stalled = true;
        } else if (!writing && !session.busy() && !session.has_subscriptions() && !session.has_output() &&
                   now - last_activity > c.idle_timeout) {
            why = "idle";
        }
        if (why == nullptr)
            return;
        if (stalled) {
            ++server->counters_.write_stalled;
        } else {
            ++server->counters_.timed_out;
            if (auth_late)
                ++server->counters_.auth_timed_out;
        }
        log("WARN", std::string("agent.ipc: dropping client: ") + why);
        close();
    }

    void close() {
        if (closed)
            return;
        closed = true;
        asio::error_code ignored;
        sock.close(ignored);
        watchdog.cancel();
        if (server_alive())
            server->forget(this);
        owned.reset(); // unsubscribes from the agent now; no handler touches the session once closed
    }
};

Server::Server(asio::io_context& io, AgentApi& agent, ServerConfig cfg)
    : io_(io), agent_(agent), cfg_(std::move(cfg)), acceptor_(io) {
    cfg_.session.auth_key = cfg_.auth_key;
}

Server::~Server() {
    stop();
}

base::Result<std::unique_ptr<Server>> Server::start(asio::io_context& io, AgentApi& agent, ServerConfig cfg) {
    auto ep = parse_endpoint(cfg.bind);
    if (!ep.ok())
        return ep.error();
    if (!ep->address().is_loopback() && cfg.auth_key.empty() && !cfg.allow_unauthenticated_remote) {
        return base::make_error("insecure_rpc", "refusing to serve RPC on non-loopback address " + cfg.bind +
                                                    " without rpc_auth: anyone who can reach it could read "
                                                    "the gossip keys and control the agent; "
                                                    "set rpc_auth or bind the RPC to 127.0.0.1");
    }
    std::unique_ptr<Server> s(new Server(io, agent, std::move(cfg)));
    asio::error_code ec;
    s->acceptor_.open(ep->protocol(), ec);
    if (!ec)
        s->acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec)
        s->acceptor_.bind(*ep, ec);
    if (!ec)
        s->acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return base::make_error("rpc_listen",
                                "cannot listen for RPC on " + s->cfg_.bind + ": " + ec.message());
    s->accept_loop();
    return s;
}

void Server::accept_loop() {
    std::weak_ptr<int> w = life_;
    acceptor_.async_accept([this, w](const asio::error_code& ec, tcp::socket sock) {
        if (w.expired() || stopped_)
            return;
        if (ec) {
            if (ec == asio::error::operation_aborted)
                return;
            // e.g. EMFILE: back off briefly instead of spinning.
            auto t = std::make_shared<asio::steady_timer>(io_, std::chrono::milliseconds(50));
            t->async_wait([this, w, t](const asio::error_code&) {
                if (!w.expired() && !stopped_)
                    accept_loop();
            });
            return;
        }
        if (conns_.size() >= cfg_.max_connections && !evict_one()) {
            const auto n = ++counters_.refused_over_cap;
            if (cfg_.log && (n == 1 || n == 10 || n == 100 || n % 1000 == 0))
                cfg_.log("WARN",
                         "agent.ipc: refusing client: connection limit reached, every connection is in use "
                         "(refused: " +
                             std::to_string(n) + ")");
            asio::error_code ignored;
            sock.close(ignored);
        } else {
            ++counters_.accepted;
            sock.set_option(tcp::no_delay(true));
            asio::error_code pec;
            const auto remote = sock.remote_endpoint(pec);
            auto c = std::make_shared<Conn>(this, std::move(sock));
            if (!pec)
                c->peer = remote.address().to_string();
            conns_[c.get()] = c;
            c->start();
        }
        accept_loop();
    });
}

bool Server::evict_one() {
    // 1. An untrusted connection: the oldest one of the address that holds the most untrusted
    //    slots, so a flood from one address evicts its own connections, not a client from
    //    elsewhere that is still authenticating.
    std::map<std::string, std::size_t> per_peer;
    for (const auto& [p, c] : conns_)
        if (!c->trusted())
            ++per_peer[c->peer];
    Conn* victim = nullptr;
    const char* why = nullptr;
    if (!per_peer.empty()) {
        std::string busiest;
        std::size_t most = 0;
        for (const auto& [peer, n] : per_peer) {
            if (n > most) {
                most = n;
                busiest = peer;
            }
        }
        for (const auto& [p, c] : conns_) {
            if (c->trusted() || c->peer != busiest)
                continue;
            if (victim == nullptr || c->accepted < victim->accepted)
                victim = c.get();
        }
        why = cfg_.auth_key.empty() ? "no handshake yet" : "not authenticated yet";
    } else if (cfg_.auth_key.empty()) {
        // 2. Without rpc_auth (loopback only) every client is equal: the one idle the longest
        //    (no request in progress, nothing subscribed) makes room. Connections that hold a
        //    stream, monitor or query are never evicted.
        for (const auto& [p, c] : conns_) {
            if (!c->idle())
                continue;
            if (victim == nullptr || c->last_activity < victim->last_activity)
                victim = c.get();
        }
        why = "idle";
    }
    if (victim == nullptr)
        return false;
    const auto n = ++counters_.evicted;
    if (cfg_.log && (n == 1 || n == 10 || n == 100 || n % 1000 == 0))
        cfg_.log("WARN", std::string("agent.ipc: connection limit reached, evicting a client (") + why +
                             ") from " + victim->peer + " (evictions: " + std::to_string(n) + ")");
    auto keep = conns_[victim]; // close() erases it from conns_
    keep->close();
    return true;
}

void Server::forget(Conn* c) {
    auto it = conns_.find(c);
    if (it == conns_.end())
        return;
    dropped_closed_ += c->session.counters().dropped_records;
    closed_totals_.add(c->session.counters());
    conns_.erase(it);
}

SessionCounters Server::session_totals() const {
    SessionCounters t = closed_totals_;
    for (const auto& [p, c] : conns_)
        t.add(c->session.counters());
    return t;
}

std::uint64_t Server::dropped_records() const {
    std::uint64_t n = dropped_closed_;
    for (const auto& [p, c] : conns_)
        n += c->session.counters().dropped_records;
    return n;
}

void Server::stop() {
    if (stopped_)
        return;
    stopped_ = true;
    asio::error_code ignored;
    acceptor_.close(ignored);
    auto all = conns_;
    for (auto& [p, c] : all)
        c->close();
    conns_.clear();
}

asio::ip::tcp::endpoint Server::local_endpoint() const {
    asio::error_code ec;
    return acceptor_.local_endpoint(ec);
}

} // namespace clusterd::rpc
