// net::DriverCore: what the driver's parts share — the io_context, the host, the options, the
// keyring and nonce source, the counters and the drop log, the monotonic clock, the packet
// socket and the connection manager — and kick(), which drains the host's transmits and
// re-arms the timer. Stream sessions and the packet loop hold a shared_ptr to it (the Driver's
// Impl), so it outlives every coroutine that uses it (rule 5). Private to src/net.
#pragma once

#include <chrono>
#include <map>
#include <string>

#include "clusterd/net/driver.hpp"
#include "connection_manager.hpp"
#include "packet_socket.hpp"

namespace clusterd::net {

struct DriverCore {
    DriverCore(asio::io_context& io_, Host& host_, DriverOptions o, Driver::LogFn l);
    virtual ~DriverCore() = default;
    DriverCore(const DriverCore&) = delete;
    DriverCore& operator=(const DriverCore&) = delete;

    /// Sends the host's transmits, runs after_activity, re-arms the timer (re-entrant safe).
    virtual void kick() = 0;

    base::Instant now() const {
        return base::Instant{
            std::chrono::duration_cast<base::Duration>(std::chrono::steady_clock::now() - epoch)};
    }
    bool keyed() const { return keyring != nullptr && !keyring->empty(); }
    /// The keyring to seal and open with (null = plaintext).
    const wire::Keyring* ring() const { return keyed() ? keyring : nullptr; }
    /// Plaintext input is refused (a keyring and require_encryption).
    bool verify_incoming() const { return keyed() && opts.require_encryption; }
    /// Counts a drop by code and logs the 1st, 10th, 100th and every 1000th.
    void drop(const std::string& code, const std::string& what);
    /// Checks a stream's first byte against what this node accepts, before buffering more:
    /// an encrypted frame without a keyring, or a plaintext one when encryption is required.
    base::Result<std::size_t> frame_limit(std::uint8_t first) const;

    asio::io_context& io;
    Host& host;
    DriverOptions opts;
    Driver::LogFn log;
    std::chrono::steady_clock::time_point epoch = std::chrono::steady_clock::now();
    const wire::Keyring* keyring = nullptr;
    wire::NonceSource nonce = wire::system_nonce_source();
    DriverStats stats;
    bool stopped = false;
    PacketSocket packets;
    ConnectionManager conns;
};

} // namespace clusterd::net
