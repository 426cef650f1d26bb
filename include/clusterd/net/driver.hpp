// net::Driver: runs a Host (a swim::Endpoint or the serf::Node on it) on an asio io_context.
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

#include "clusterd/base/latency.hpp"
#include "clusterd/base/result.hpp"
#include "clusterd/base/time.hpp"
#include "clusterd/swim/endpoint.hpp"
#include "clusterd/swim/host.hpp"
#include "clusterd/wire/envelope.hpp"

namespace clusterd::net {

/// What the driver runs: a swim::Endpoint, or a layer that owns one (serf::Node), through the
/// host interface the simulator uses too (swim/host.hpp).
using Host = swim::Host;
template <typename T> using HostAdapter = swim::HostAdapter<T>;

struct DriverOptions {
    asio::ip::address bind_addr = asio::ip::make_address("0.0.0.0");
    std::uint16_t bind_port = 7946;
    bool compress = true; ///< LZW-compress outgoing gossip (Serf's default)
    /// With a keyring: refuse plaintext input (memberlist GossipVerifyIncoming).
    bool require_encryption = true;
    /// Cluster label (memberlist's label header): every packet and stream carries it and must
    /// carry it; empty = none, the wire unchanged. Drops are counted as "label_mismatch".
    std::string label;
    base::Duration tcp_timeout = std::chrono::seconds(10);
    /// Incoming TCP streams open at once. At the cap a newcomer evicts the oldest stream of the
    /// source address holding the most streams (a stalled peer cannot block joins).
    std::size_t max_tcp_connections = 256;
    /// Incoming TCP streams open at once from one source address; more are refused (counted).
    std::size_t max_tcp_connections_per_ip = 64;
    /// An incoming stream must deliver its first 5 bytes (type and length, or the whole frame
    /// if shorter) within this long, or it is closed.
    base::Duration tcp_header_timeout = std::chrono::seconds(3);
    /// Largest stream frame (push-pull, user message, compressed or encrypted frame) accepted;
    /// single small messages are held to wire::kMaxSmallStreamFrame. Checked against the
    /// declared length before anything is buffered.
    std::size_t max_stream_bytes = wire::kMaxStreamBytes;
    /// All incoming stream bytes buffered at once, across connections. A read that would pass it
    /// evicts the streams holding more bytes than the reader, largest first, or else closes the
    /// reader (both counted as drop code "buffer_cap").
    std::size_t max_buffered_stream_bytes = 32u * 1024u * 1024u;
};

/// Counters kept by the driver (the endpoint keeps its own protocol counters).
struct DriverStats {
    std::uint64_t udp_in = 0, udp_out = 0, udp_bytes_in = 0, udp_bytes_out = 0;
    std::uint64_t tcp_in = 0, tcp_out = 0, tcp_bytes_in = 0, tcp_bytes_out = 0;
    std::uint64_t send_errors = 0;
    std::uint64_t tcp_refused = 0;              ///< over max_tcp_connections with nothing to evict
    std::uint64_t tcp_refused_per_ip = 0;       ///< over max_tcp_connections_per_ip
    std::uint64_t tcp_evicted = 0;              ///< closed at the connection cap to admit a newcomer
    std::uint64_t tcp_header_timeouts = 0;      ///< no header within tcp_header_timeout
    std::uint64_t tcp_buffer_evicted = 0;       ///< closed because the buffered-bytes cap was reached
    std::size_t tcp_open = 0;                   ///< incoming streams open now
    std::size_t tcp_buffered = 0;               ///< incoming stream bytes buffered now
    std::size_t tcp_buffered_peak = 0;          ///< the most ever buffered at once
    std::map<std::string, std::uint64_t> drops; ///< by error code (decrypt_failed, bad_crc, ...)
    /// Event-loop lag: how late the protocol timer's handler ran after its deadline (every
    /// gossip, probe and push-pull tick is one sample). A busy or starved loop shows here first.
    base::LatencyHistogram loop_lag;
};

class Driver {
  public:
    using LogFn = std::function<void(int level /*0 debug,1 info,2 warn,3 err*/, const std::string& msg)>;

    Driver(asio::io_context& io, Host& host, DriverOptions options, LogFn log);
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

/// swim::Address <-> asio endpoints. to_swim() turns an IPv4-mapped source into plain IPv4;
/// to_asio() maps a gossip address to the family of the socket it is used with (see
/// net::endpoint_ip): a TCP connect opens a socket of the returned family, so it passes
/// v6_socket = false and an IPv4-mapped peer is reached over IPv4.
swim::Address to_swim(const asio::ip::address& addr, std::uint16_t port);
asio::ip::address to_asio(const swim::Address& addr, bool v6_socket = false);

} // namespace clusterd::net
