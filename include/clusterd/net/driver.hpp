// net::Driver: runs a swim::Endpoint (and the layer above it) on an asio io_context.
// UDP packets and TCP streams are opened/sealed with the wire envelope (compression, CRC,
// AES-GCM keyring) and handed to the endpoint as plaintext; a single steady_timer is re-armed
// to the node's next deadline. No threads, no blocking calls.
#pragma once

#include <asio.hpp>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "clusterd/base/result.hpp"
#include "clusterd/base/time.hpp"
#include "clusterd/swim/endpoint.hpp"
#include "clusterd/wire/envelope.hpp"

namespace clusterd::net {

/// The timer side of whatever sits on the endpoint (serf::Node, or the endpoint itself).
class Ticker {
public:
    virtual ~Ticker() = default;
    virtual void handle_timeout(base::Instant now) = 0;
    virtual base::Instant next_deadline() const = 0;
};

/// Adapts a bare swim::Endpoint to Ticker.
class EndpointTicker final : public Ticker {
public:
    explicit EndpointTicker(swim::Endpoint& ep) : ep_(ep) {}
    void handle_timeout(base::Instant now) override { ep_.handle_timeout(now); }
    base::Instant next_deadline() const override { return ep_.next_deadline(); }

private:
    swim::Endpoint& ep_;
};

struct DriverOptions {
    asio::ip::address bind_addr = asio::ip::make_address("0.0.0.0");
    std::uint16_t bind_port = 7946;
    bool compress = true;  ///< LZW-compress outgoing gossip (Serf's default)
    /// With a keyring: refuse plaintext input (memberlist GossipVerifyIncoming).
    bool require_encryption = true;
    base::Duration tcp_timeout = std::chrono::seconds(10);
    std::size_t max_tcp_connections = 256;
};

/// Counters kept by the driver (the endpoint keeps its own protocol counters).
struct DriverStats {
    std::uint64_t udp_in = 0, udp_out = 0, udp_bytes_in = 0, udp_bytes_out = 0;
    std::uint64_t tcp_in = 0, tcp_out = 0, tcp_bytes_in = 0, tcp_bytes_out = 0;
    std::uint64_t send_errors = 0;
    std::uint64_t tcp_refused = 0;
    std::map<std::string, std::uint64_t> drops;  ///< by error code (decrypt_failed, bad_crc, ...)
};

class Driver {
public:
    using LogFn = std::function<void(int level /*0 debug,1 info,2 warn,3 err*/, const std::string& msg)>;

    Driver(asio::io_context& io, swim::Endpoint& endpoint, Ticker& ticker, DriverOptions options, LogFn log);
    ~Driver();
    Driver(const Driver&) = delete;
    Driver& operator=(const Driver&) = delete;

    /// Binds UDP and TCP on the bind address; an error names the address and the reason.
    base::Status start();
    /// Closes sockets and cancels the timer; pending streams are aborted.
    void stop();

    /// The keyring used for every packet/stream (null or empty = plaintext). Must outlive use.
    void set_keyring(const wire::Keyring* keyring);
    /// Sends everything the endpoint has queued and re-arms the timer. Call after any command
    /// given to the node (join, leave, event, tags...). Safe to call re-entrantly.
    void kick();
    /// Called after every input processed (packet, stream, timer), once transmits are drained:
    /// the agent uses it to drain the node's events.
    void set_after_activity(std::function<void()> fn);

    /// The current time on the driver's monotonic clock.
    base::Instant now() const;
    std::uint16_t bound_port() const;
    const DriverStats& stats() const;

private:
    struct Impl;
    std::shared_ptr<Impl> impl_;
};

/// swim::Address <-> asio endpoints.
swim::Address to_swim(const asio::ip::address& addr, std::uint16_t port);
asio::ip::address to_asio(const swim::Address& addr);

}  // namespace clusterd::net
