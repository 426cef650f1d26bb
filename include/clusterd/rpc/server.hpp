// rpc::Server: the IPC v1 TCP listener on an asio io_context. One rpc::Session per connection;
// sockets, timeouts and limits live here, the protocol lives in Session.
//
// Safety rules (docs/rpc.md): refuses a non-loopback bind without an auth key (unless explicitly
// allowed); caps the number of connections and, at the cap, evicts an untrusted (or, without an
// auth key, idle) connection rather than refuse a new client; closes clients that do not complete
// the handshake (or, with an auth key, do not authenticate) in time, that
// leave a request half-sent, that stay idle with nothing subscribed, or whose writes stall (a client
// that stops reading its stream). A stalled client never blocks the others.
#pragma once

#include <asio/io_context.hpp>
#include <asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "clusterd/base/result.hpp"
#include "clusterd/rpc/agent_api.hpp"
#include "clusterd/rpc/session.hpp"

namespace clusterd::rpc {

struct ServerConfig {
    std::string bind = "127.0.0.1:7373"; ///< "host:port", "[v6]:port"; port 0 = any free port
    std::string auth_key;                ///< rpc_auth; "" = none (loopback only)
    bool allow_unauthenticated_remote = false;
    std::size_t max_connections = 128;
    SessionConfig session; ///< auth_key is copied in from above
    base::Duration handshake_timeout = std::chrono::seconds(5);
    /// With auth_key set: a connection that has not authenticated this long after it was
    /// accepted is closed (a valid handshake alone does not hold a slot).
    base::Duration auth_timeout = std::chrono::seconds(5);
    base::Duration frame_timeout = std::chrono::seconds(10); ///< a half-sent request
    base::Duration idle_timeout = std::chrono::minutes(5);   ///< no request, nothing subscribed
    base::Duration write_timeout = std::chrono::seconds(10); ///< a write that does not finish
    /// The agent's clock for query deadlines (QueryEvent::deadline). Default: steady_clock.
    std::function<base::Instant()> now;
    /// Server log lines ("WARN", "agent.ipc: ...").
    std::function<void(const char* level, const std::string& msg)> log;
};

struct ServerCounters {
    std::uint64_t accepted = 0;
    std::uint64_t refused_over_cap = 0;
    std::uint64_t timed_out = 0;       ///< handshake, half-sent frame, idle
    std::uint64_t write_stalled = 0;   ///< dropped because they stopped reading
    std::uint64_t protocol_closed = 0; ///< closed by the session (errors, leave)
    std::uint64_t auth_timed_out = 0;  ///< not authenticated within auth_timeout (also in timed_out)
    /// Closed at the connection cap to make room for a new client: an untrusted connection
    /// (no handshake, or not authenticated when rpc_auth is set), or without rpc_auth an idle one.
    std::uint64_t evicted = 0;
};

/// Parses "host:port" / "[v6]:port" into an endpoint (numeric hosts; "localhost" is 127.0.0.1).
base::Result<asio::ip::tcp::endpoint> parse_endpoint(const std::string& text);

class Server {
  public:
    static base::Result<std::unique_ptr<Server>> start(asio::io_context& io, AgentApi& agent,
                                                       ServerConfig cfg);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    /// Closes the listener and every connection (call on the io thread).
    void stop();
    asio::ip::tcp::endpoint local_endpoint() const;
    std::size_t connections() const { return conns_.size(); }
    const ServerCounters& counters() const { return counters_; }
    /// Records dropped from slow streams, summed over live and closed connections.
    std::uint64_t dropped_records() const;
    /// Every session's counters summed, over live and closed connections.
    SessionCounters session_totals() const;

    struct Conn; // internal

  private:
    Server(asio::io_context& io, AgentApi& agent, ServerConfig cfg);
    void accept_loop();
    void forget(Conn* c);
    /// At the cap: closes the connection a new client may replace, if any (see docs/rpc.md).
    bool evict_one();

    asio::io_context& io_;
    AgentApi& agent_;
    ServerConfig cfg_;
    asio::ip::tcp::acceptor acceptor_;
    std::map<Conn*, std::shared_ptr<Conn>> conns_;
    ServerCounters counters_;
    std::uint64_t dropped_closed_ = 0;
    SessionCounters closed_totals_;
    std::shared_ptr<int> life_ = std::make_shared<int>(0);
    bool stopped_ = false;

    friend struct Conn;
};

} // namespace clusterd::rpc
