// The UDP packet endpoint (see packet_socket.hpp).
#include "packet_socket.hpp"

#include <asio/experimental/as_tuple.hpp>
#include <vector>

#include "driver_core.hpp"

namespace clusterd::net {

using asio::ip::udp;

std::error_code PacketSocket::bind(const udp::endpoint& at) {
    std::error_code ec;
    sock_.open(at.protocol(), ec);
    if (!ec)
        sock_.bind(at, ec);
    if (ec) {
        std::error_code ignored;
        sock_.close(ignored);
        return ec;
    }
    std::error_code opt;
    sock_.non_blocking(true, opt);
    // Large socket buffers, as memberlist asks for (up to 2 MiB).
    sock_.set_option(asio::socket_base::receive_buffer_size(2 * 1024 * 1024), opt);
    return {};
}

void PacketSocket::close() {
    std::error_code ec;
    sock_.close(ec);
}

std::uint16_t PacketSocket::port() const {
    std::error_code ec;
    auto ep = sock_.local_endpoint(ec);
    return ec ? 0 : ep.port();
}

void PacketSocket::send(DriverCore& core, const swim::Transmit& t) {
    wire::SealOptions so;
    so.compress = core.opts.compress;
    so.crc = t.crc;
    auto sealed = wire::seal_packet(t.msg, so, core.ring(), core.nonce, core.opts.label);
    if (!sealed) {
        core.drop(sealed.error().code, "seal packet to " + t.to.to_string() + ": " + sealed.error().message);
        return;
    }
    std::error_code ec;
    sock_.send_to(asio::buffer(*sealed), udp::endpoint(to_asio(t.to, core.opts.bind_addr.is_v6()), t.to.port),
                  0, ec);
    if (ec) {
        // A peer we cannot send to is invisible at debug level: warn on the 1st, 10th, 100th...
        const auto n = ++core.stats.send_errors;
        const bool loud = n == 1 || n == 10 || n == 100 || n % 1000 == 0;
        core.log(loud ? 2 : 0, "udp send to " + t.to.to_string() + " failed: " + ec.message() +
                                   (loud ? " (send errors: " + std::to_string(n) + ")" : ""));
        return;
    }
    ++core.stats.udp_out;
    core.stats.udp_bytes_out += sealed->size();
}

asio::awaitable<void> PacketSocket::receive_loop(std::shared_ptr<DriverCore> core) {
    constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
    std::vector<std::uint8_t> buf(65536);
    udp::endpoint from;
    udp::socket& sock = core->packets.sock_;
    while (!core->stopped) {
        auto [ec, n] = co_await sock.async_receive_from(asio::buffer(buf), from, kTuple);
        if (ec) {
            if (ec == asio::error::operation_aborted || core->stopped)
                co_return;
            continue;
        }
        ++core->stats.udp_in;
        core->stats.udp_bytes_in += n;
        auto src = to_swim(from.address(), from.port());
        auto msgs = wire::open_packet(base::ByteView(buf.data(), n), core->ring(), core->verify_incoming(),
                                      core->opts.label);
        if (!msgs) {
            core->drop(msgs.error().code, "udp packet from " + src.to_string() + ": " + msgs.error().message);
            continue;
        }
        const auto t = core->now();
        for (const auto& m : *msgs)
            core->host.handle_packet(src, m, t);
        core->kick();
    }
}

} // namespace clusterd::net
