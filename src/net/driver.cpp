// net::Driver: the server of asio's HTTP server example, for gossip. It owns the parts —
// PacketSocket (UDP), the TCP acceptor, ConnectionManager (caps, eviction, buffer budget),
// stream sessions (one coroutine per TCP stream), and the single protocol timer — over the
// shared DriverCore, and implements kick(): drain the host's transmits, run after_activity,
// re-arm the timer.
#include "clusterd/net/driver.hpp"

#include <asio/experimental/as_tuple.hpp>

#include "clusterd/net/address.hpp"
#include "clusterd/wire/memberlist.hpp"
#include "driver_core.hpp"
#include "stream_session.hpp"

namespace clusterd::net {

using asio::awaitable;
using asio::ip::tcp;
using asio::ip::udp;
namespace {
constexpr auto kTuple = asio::experimental::as_tuple(asio::use_awaitable);
}

swim::Address to_swim(const asio::ip::address& addr, std::uint16_t port) {
    swim::Address a;
    if (addr.is_v4()) {
        auto b = addr.to_v4().to_bytes();
        a.ip.assign(b.begin(), b.end());
    } else {
        auto v6 = addr.to_v6();
        if (v6.is_v4_mapped()) {
            auto b = asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes();
            a.ip.assign(b.begin(), b.end());
        } else {
            auto b = v6.to_bytes();
            a.ip.assign(b.begin(), b.end());
        }
    }
    a.port = port;
    return a;
}

asio::ip::address to_asio(const swim::Address& addr, bool v6_socket) {
    // Gossip keeps the announced bytes; the socket address is mapped to the socket's family.
    const auto ip = endpoint_ip(addr.ip, v6_socket ? SocketFamily::V6 : SocketFamily::V4);
    if (ip.size() == 4) {
        asio::ip::address_v4::bytes_type b;
        std::copy(ip.begin(), ip.end(), b.begin());
        return asio::ip::address_v4(b);
    }
    if (ip.size() == 16) {
        asio::ip::address_v6::bytes_type b;
        std::copy(ip.begin(), ip.end(), b.begin());
        return asio::ip::address_v6(b);
    }
    return {};
}

// ---- DriverCore ---------------------------------------------------------------------------------

DriverCore::DriverCore(asio::io_context& io_, Host& host_, DriverOptions o, Driver::LogFn l)
    : io(io_), host(host_), opts(std::move(o)), log(std::move(l)), packets(io_),
      conns(opts, stats, [this](const std::string& code, const std::string& what) { drop(code, what); }) {}

void DriverCore::drop(const std::string& code, const std::string& what) {
    auto& n = stats.drops[code];
    ++n;
    if (n == 1 || n == 10 || n == 100 || n % 1000 == 0)
        log(2, what + " (dropped, " + code + ", count " + std::to_string(n) + ")");
}

base::Result<std::size_t> DriverCore::frame_limit(std::uint8_t first) const {
    const bool encrypted = first == static_cast<std::uint8_t>(wire::MsgType::Encrypt);
    if (encrypted && !keyed())
        return base::make_error("no_key", "Remote state is encrypted and encryption is not configured");
    if (!encrypted && keyed() && opts.require_encryption)
        return base::make_error("not_encrypted",
                                "Encryption is configured but remote state is not encrypted");
    return wire::stream_frame_limit(first, opts.max_stream_bytes);
}

// ---- Driver::Impl -------------------------------------------------------------------------------

struct Driver::Impl final : DriverCore, std::enable_shared_from_this<Driver::Impl> {
    tcp::acceptor acceptor;
    asio::steady_timer timer;
    base::Instant armed = base::Instant::max();
    std::function<void()> after_activity;
    bool in_kick = false;
    bool kick_again = false;

    Impl(asio::io_context& io_, Host& host_, DriverOptions o, LogFn l)
        : DriverCore(io_, host_, std::move(o), std::move(l)), acceptor(io_), timer(io_) {}

    void update_overhead() {
        std::size_t overhead = 5; // CRC header
        if (keyed())
            overhead += 1 + 12 + 16;
        host.set_packet_overhead(overhead);
    }

    void drain_transmits() {
        while (auto t = host.poll_transmit()) {
            if (t->kind == swim::Transmit::Kind::Packet) {
                packets.send(*this, *t);
            } else {
                asio::co_spawn(io, run_outgoing(shared_from_this(), std::move(*t)), asio::detached);
            }
        }
    }

    void rearm() {
        if (stopped)
            return;
        base::Instant d = host.next_deadline();
        if (d == armed)
            return;
        armed = d;
        if (d == base::Instant::max()) {
            timer.cancel();
            return;
        }
        timer.expires_at(epoch +
                         std::chrono::duration_cast<std::chrono::steady_clock::duration>(d.since_epoch));
        timer.async_wait([self = shared_from_this(), d](const std::error_code& ec) {
            if (ec || self->stopped || self->armed != d)
                return;
            self->armed = base::Instant::max();
            const auto fired = self->now();
            self->stats.loop_lag.record(fired - d);
            self->host.handle_timeout(fired);
            self->kick();
        });
    }

    void kick() override {
        if (stopped)
            return;
        if (in_kick) {
            kick_again = true;
            return;
        }
        in_kick = true;
        int rounds = 0;
        do {
            kick_again = false;
            drain_transmits();
            if (after_activity)
                after_activity();
        } while (kick_again && ++rounds < 64);
        in_kick = false;
        rearm();
    }

    /// Accepts streams; the connection manager admits each or it is closed at once.
    static awaitable<void> accept_loop(std::shared_ptr<Impl> self) {
        while (!self->stopped) {
            auto [ec, sock] = co_await self->acceptor.async_accept(kTuple);
            if (ec) {
                if (ec == asio::error::operation_aborted || self->stopped)
                    co_return;
                continue;
            }
            std::error_code rec;
            const auto remote = sock.remote_endpoint(rec);
            if (rec) {
                std::error_code ignored;
                sock.close(ignored);
                continue;
            }
            const auto src = to_swim(remote.address(), remote.port());
            auto stream = std::make_shared<GuardedStream>(std::move(sock));
            const auto id = self->conns.admit(stream, to_asio(src).to_string());
            if (id == 0) {
                std::error_code ignored;
                stream->sock.close(ignored);
                continue;
            }
            asio::co_spawn(self->io, serve_incoming(self, std::move(stream), id, src), asio::detached);
        }
    }
};

Driver::Driver(asio::io_context& io, Host& host, DriverOptions options, LogFn log)
    : impl_(std::make_shared<Impl>(io, host, std::move(options), std::move(log))) {}

Driver::~Driver() {
    stop();
}

base::Status Driver::start() {
    auto& d = *impl_;
    std::error_code ec = d.packets.bind(udp::endpoint(d.opts.bind_addr, d.opts.bind_port));
    if (ec) {
        return base::make_error("bind", "cannot bind UDP " +
                                            join_host_port(d.opts.bind_addr.to_string(), d.opts.bind_port) +
                                            ": " + ec.message());
    }
    // Bind TCP to the port UDP actually got (matters when bind_port is 0).
    std::uint16_t port = d.packets.port();
    tcp::endpoint tep(d.opts.bind_addr, port);
    d.acceptor.open(tep.protocol(), ec);
    if (!ec)
        d.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec)
        d.acceptor.bind(tep, ec);
    if (!ec)
        d.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        d.packets.close();
        return base::make_error("bind", "cannot bind TCP " +
                                            join_host_port(d.opts.bind_addr.to_string(), port) + ": " +
                                            ec.message());
    }
    d.update_overhead();
    asio::co_spawn(d.io, PacketSocket::receive_loop(impl_), asio::detached);
    asio::co_spawn(d.io, Impl::accept_loop(impl_), asio::detached);
    kick();
    return base::ok_status();
}

void Driver::stop() {
    auto& d = *impl_;
    if (d.stopped)
        return;
    d.stopped = true;
    std::error_code ec;
    d.timer.cancel();
    d.packets.close();
    d.acceptor.close(ec);
}

void Driver::set_keyring(const wire::Keyring* keyring) {
    impl_->keyring = keyring;
    impl_->update_overhead();
}

void Driver::kick() {
    impl_->kick();
}
void Driver::set_after_activity(std::function<void()> fn) {
    impl_->after_activity = std::move(fn);
}
base::Instant Driver::now() const {
    return impl_->now();
}
std::uint16_t Driver::bound_port() const {
    return impl_->packets.port();
}
const DriverStats& Driver::stats() const {
    return impl_->stats;
}

} // namespace clusterd::net
