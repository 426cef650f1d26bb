// http::Server: the HTTP/1.1 listener on an asio io_context. One http::Session per connection;
// sockets, the connection cap, the write-stall timeout, SSE heartbeats and the bearer token live
// here, the protocol lives in Session. Nothing blocks: every handler runs on the loop and
// answers at once, a streamed response is fed by its producer through a bounded buffer.
//
// Security rule (docs/operations.md): refuses a non-loopback bind without a token. With a token,
// every request needs `Authorization: Bearer <token>` (or the cookie the status page's
// `/?token=` login sets); others get 401.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "clusterd/base/result.hpp"
#include "clusterd/http/message.hpp"
#include "clusterd/http/session.hpp"

namespace clusterd::http {

struct ServerConfig {
    std::string bind = "127.0.0.1:8374"; ///< "ip:port", "[v6]:port"; port 0 = any free port
    std::string token;                   ///< "" = none (loopback only)
    std::size_t max_connections = 64;
    Limits limits;
    base::Duration write_timeout = std::chrono::seconds(10); ///< a write that does not finish
    base::Duration heartbeat = std::chrono::seconds(15);     ///< SSE comment line when quiet
    /// Log lines ("WARN", "http: ...").
    std::function<void(const char* level, const std::string& msg)> log;
};

struct ServerCounters {
    std::uint64_t accepted = 0;
    std::uint64_t refused_over_cap = 0;
    std::uint64_t evicted_idle = 0; ///< idle keep-alive connections closed at the cap for a newcomer
    std::uint64_t requests = 0;
    std::uint64_t unauthorized = 0;
    std::uint64_t handler_errors = 0; ///< a handler threw: answered 500
    std::uint64_t write_stalled = 0;
    std::uint64_t rejected = 0;       ///< answered 400/413/431/505 by the session
    std::uint64_t timed_out = 0;      ///< 408 (request too slow) and idle keep-alive closes
    std::uint64_t stream_dropped = 0; ///< SSE clients that did not keep up
};

class Server {
  public:
    using Handler = std::function<Response(const Request&)>;

    static base::Result<std::unique_ptr<Server>> start(asio::io_context& io, ServerConfig cfg,
                                                       Handler handler);
    /// The checks start() makes before it listens: a valid address, and a token unless the
    /// address is loopback. Yields the endpoint.
    static base::Result<asio::ip::tcp::endpoint> check_config(const ServerConfig& cfg);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Closes the listener and every connection (ends every stream).
    void stop();
    asio::ip::tcp::endpoint local_endpoint() const;
    std::size_t connections() const { return conns_.size(); }
    const ServerCounters& counters() const { return counters_; }

    struct Conn; // internal

  private:
    Server(asio::io_context& io, ServerConfig cfg, Handler handler);
    void accept_loop();
    void forget(Conn* c);
    Response dispatch(const Request& req);

    asio::io_context& io_;
    ServerConfig cfg_;
    Handler handler_;
    asio::ip::tcp::acceptor acceptor_;
    std::map<Conn*, std::shared_ptr<Conn>> conns_;
    ServerCounters counters_;
    std::shared_ptr<int> life_ = std::make_shared<int>(0);
    bool stopped_ = false;

    friend struct Conn;
};

} // namespace clusterd::http
