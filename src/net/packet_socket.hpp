// net::PacketSocket: the UDP packet endpoint (the "socket" part of the driver): seals and sends
// a swim packet transmit, and the receive loop that opens each datagram with the wire envelope
// and hands its messages to the host. Private to src/net.
#pragma once

#include <asio.hpp>
#include <memory>

#include "clusterd/base/result.hpp"
#include "clusterd/swim/endpoint.hpp"

namespace clusterd::net {

struct DriverCore;

class PacketSocket {
  public:
    explicit PacketSocket(asio::io_context& io) : sock_(io) {}

    /// Opens and binds the socket (large receive buffer, as memberlist asks for).
    std::error_code bind(const asio::ip::udp::endpoint& at);
    void close();
    /// The bound port, 0 when not bound.
    std::uint16_t port() const;

    /// Seals `t` (compression, CRC, keyring) and sends it; errors are counted and logged.
    void send(DriverCore& core, const swim::Transmit& t);
    /// Receives datagrams until the driver stops; `core` owns this socket.
    static asio::awaitable<void> receive_loop(std::shared_ptr<DriverCore> core);

  private:
    asio::ip::udp::socket sock_;
};

} // namespace clusterd::net
