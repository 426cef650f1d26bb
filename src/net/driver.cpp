#include "clusterd/net/driver.hpp"

#include <array>
#include <asio/experimental/as_tuple.hpp>

#include "clusterd/net/address.hpp"
#include "clusterd/wire/memberlist.hpp"

namespace clusterd::net {

using asio::awaitable;
using asio::use_awaitable;
using asio::ip::tcp;
using asio::ip::udp;
constexpr auto kTuple = asio::experimental::as_tuple(use_awaitable);

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

/// A TCP stream whose deadline closes it. The socket lives in shared state that the deadline
/// handler reaches only through a weak reference: once a timer has expired its handler is
/// already queued and cancel() cannot stop it, so it may run after the coroutine that owned the
/// stream has finished (a stalled loop delivers the read completion and the expiry in one turn,
/// and the read resumes the coroutine first). Capturing the socket by reference there was the
/// use after free of issue 12. Rule: an async handler never holds a reference into a coroutine
/// frame or any object whose lifetime the handler does not share.
struct GuardedStream : std::enable_shared_from_this<GuardedStream> {
    explicit GuardedStream(tcp::socket s) : sock(std::move(s)) {}
    tcp::socket sock;
    bool timed_out = false;
    bool header_done = false;  ///< incoming: the first bytes arrived (the header deadline is off)
    const char* closed_by = nullptr;  ///< why the driver closed it early (drop code), if it did

    /// Closes the socket on the driver's behalf; a pending read completes with an error and the
    /// stream's coroutine reports `code`.
    void close_for(const char* code) {
        if (closed_by == nullptr) closed_by = code;
        std::error_code ignored;
        sock.close(ignored);
    }

    /// The header deadline's completion handler: closes the stream unless its first bytes came.
    /// Bytes already waiting in the kernel count as arrived (a starved loop may run this handler
    /// before the read that would have taken them).
    auto on_header_deadline() {
        return [w = weak_from_this()](const std::error_code& ec) {
            if (ec) return;
            auto self = w.lock();
            if (!self || self->header_done || self->closed_by != nullptr) return;
            std::error_code aec;
            if (self->sock.is_open() && self->sock.available(aec) > 0 && !aec) return;
            self->close_for("header_timeout");
        };
    }

    /// The deadline's completion handler.
    auto on_deadline() {
        return [w = weak_from_this()](const std::error_code& ec) {
            if (ec) return;
            auto self = w.lock();
            if (!self) return;  // the stream ended first
            self->timed_out = true;
            std::error_code ignored;
            self->sock.close(ignored);
        };
    }
};

struct Driver::Impl : std::enable_shared_from_this<Driver::Impl> {
    asio::io_context& io;
    Host& ep;
    DriverOptions opts;
    LogFn log;
    udp::socket udp_sock;
    tcp::acceptor acceptor;
    asio::steady_timer timer;
    std::chrono::steady_clock::time_point epoch = std::chrono::steady_clock::now();
    base::Instant armed = base::Instant::max();
    const wire::Keyring* keyring = nullptr;
    wire::NonceSource nonce = wire::system_nonce_source();
    DriverStats stats;
    std::function<void()> after_activity;
    bool stopped = false;
    bool in_kick = false;
    bool kick_again = false;
    /// Incoming streams by id: the registry behind the connection caps and the buffer budget.
    /// It holds weak references only; the stream's coroutine owns the stream (rule 5).
    struct InConn {
        std::weak_ptr<GuardedStream> stream;
        std::string ip;
        std::uint64_t seq = 0;        ///< accept order (oldest first)
        std::size_t buffered = 0;     ///< bytes charged to the budget
    };
    std::map<std::uint64_t, InConn> in_conns;
    std::map<std::string, std::size_t> per_ip;
    std::uint64_t next_conn = 1;
    std::map<std::string, std::uint64_t> last_logged_drop;  // rate limit: log 1st, 10th, 100th...

    Impl(asio::io_context& io_, Host& ep_, DriverOptions o, LogFn l)
        : io(io_), ep(ep_), opts(std::move(o)), log(std::move(l)), udp_sock(io_), acceptor(io_),
          timer(io_) {}

    base::Instant now() const {
        return base::Instant{std::chrono::duration_cast<base::Duration>(std::chrono::steady_clock::now() - epoch)};
    }

    bool keyed() const { return keyring != nullptr && !keyring->empty(); }

    void drop(const std::string& code, const std::string& what) {
        auto& n = stats.drops[code];
        ++n;
        if (n == 1 || n == 10 || n == 100 || n % 1000 == 0)
            log(2, what + " (dropped, " + code + ", count " + std::to_string(n) + ")");
    }

    /// Forgets an incoming stream (at its end, or when evicted): frees its slot and its bytes.
    void unregister(std::uint64_t id) {
        auto it = in_conns.find(id);
        if (it == in_conns.end()) return;
        stats.tcp_buffered -= it->second.buffered;
        auto pit = per_ip.find(it->second.ip);
        if (pit != per_ip.end() && --pit->second == 0) per_ip.erase(pit);
        in_conns.erase(it);
        stats.tcp_open = in_conns.size();
    }

    /// Closes an incoming stream on the driver's behalf and frees its slot and bytes at once.
    void evict(std::uint64_t id, const char* code) {
        auto it = in_conns.find(id);
        if (it == in_conns.end()) return;
        if (auto st = it->second.stream.lock()) st->close_for(code);
        unregister(id);
    }

    /// At the connection cap: evicts the oldest stream of the address holding the most streams.
    bool evict_for_newcomer() {
        std::string busiest;
        std::size_t most = 0;
        for (const auto& [ip, n] : per_ip) {
            if (n > most) {
                most = n;
                busiest = ip;
            }
        }
        std::uint64_t victim = 0, victim_seq = 0;
        for (const auto& [id, c] : in_conns) {
            if (c.ip != busiest) continue;
            if (victim == 0 || c.seq < victim_seq) {
                victim = id;
                victim_seq = c.seq;
            }
        }
        if (victim == 0) return false;
        ++stats.tcp_evicted;
        drop("evicted", "tcp stream from " + busiest + ": connection limit reached, evicted the oldest stream of the "
                        "address holding the most (" + std::to_string(most) + ")");
        evict(victim, "evicted");
        return true;
    }

    /// Charges `n` more buffered bytes to stream `id`. Over the global cap, streams holding more
    /// bytes than this one (after the charge) are evicted, largest first; if that is not enough
    /// the charge fails and the caller drops its own stream.
    bool charge(std::uint64_t id, std::size_t n) {
        auto it = in_conns.find(id);
        if (it == in_conns.end()) return false;  // evicted meanwhile
        const std::size_t mine = it->second.buffered + n;
        while (stats.tcp_buffered + n > opts.max_buffered_stream_bytes) {
            std::uint64_t victim = 0;
            std::size_t most = mine;
            for (const auto& [oid, c] : in_conns) {
                if (oid != id && c.buffered > most) {
                    most = c.buffered;
                    victim = oid;
                }
            }
            if (victim == 0) return false;
            ++stats.tcp_buffer_evicted;
            drop("buffer_cap", "tcp stream from " + in_conns[victim].ip + ": buffered stream bytes at the cap (" +
                                   std::to_string(opts.max_buffered_stream_bytes) + "), evicted the stream holding " +
                                   std::to_string(most) + " bytes");
            evict(victim, "buffer_cap");
        }
        it = in_conns.find(id);
        it->second.buffered += n;
        stats.tcp_buffered += n;
        stats.tcp_buffered_peak = std::max(stats.tcp_buffered_peak, stats.tcp_buffered);
        return true;
    }

    /// Raises stream `id`'s charge (`charged`) to `need` bytes; id 0 (outgoing) is not charged.
    bool charge_to(std::uint64_t id, std::size_t& charged, std::size_t need) {
        if (id == 0 || need <= charged) return true;
        if (!charge(id, need - charged)) return false;
        charged = need;
        return true;
    }

    /// Checks a stream's first byte against what this node accepts, before buffering more:
    /// an encrypted frame without a keyring, or a plaintext one when encryption is required.
    base::Result<std::size_t> frame_limit(std::uint8_t first) const {
        const bool encrypted = first == static_cast<std::uint8_t>(wire::MsgType::Encrypt);
        if (encrypted && !keyed())
            return base::make_error("no_key", "Remote state is encrypted and encryption is not configured");
        if (!encrypted && keyed() && opts.require_encryption)
            return base::make_error("not_encrypted", "Encryption is configured but remote state is not encrypted");
        return wire::stream_frame_limit(first, opts.max_stream_bytes);
    }

    void update_overhead() {
        std::size_t overhead = 5;  // CRC header
        if (keyed()) overhead += 1 + 12 + 16;
        ep.set_packet_overhead(overhead);
    }

    void send_packet(const swim::Transmit& t) {
        wire::SealOptions so;
        so.compress = opts.compress;
        so.crc = t.crc;
        auto sealed = wire::seal_packet(t.msg, so, keyed() ? keyring : nullptr, nonce);
        if (!sealed) {
            drop(sealed.error().code, "seal packet to " + t.to.to_string() + ": " + sealed.error().message);
            return;
        }
        std::error_code ec;
        udp_sock.send_to(asio::buffer(*sealed), udp::endpoint(to_asio(t.to, opts.bind_addr.is_v6()), t.to.port), 0, ec);
        if (ec) {
            // A peer we cannot send to is invisible at debug level: warn on the 1st, 10th, 100th...
            const auto n = ++stats.send_errors;
            const bool loud = n == 1 || n == 10 || n == 100 || n % 1000 == 0;
            log(loud ? 2 : 0, "udp send to " + t.to.to_string() + " failed: " + ec.message() +
                                  (loud ? " (send errors: " + std::to_string(n) + ")" : ""));
            return;
        }
        ++stats.udp_out;
        stats.udp_bytes_out += sealed->size();
    }

    void drain_transmits() {
        while (auto t = ep.poll_transmit()) {
            if (t->kind == swim::Transmit::Kind::Packet) {
                send_packet(*t);
            } else {
                asio::co_spawn(io, stream_out(shared_from_this(), std::move(*t)), asio::detached);
            }
        }
    }

    void rearm() {
        if (stopped) return;
        base::Instant d = ep.next_deadline();
        if (d == armed) return;
        armed = d;
        if (d == base::Instant::max()) {
            timer.cancel();
            return;
        }
        timer.expires_at(epoch + std::chrono::duration_cast<std::chrono::steady_clock::duration>(d.since_epoch));
        timer.async_wait([self = shared_from_this(), d](const std::error_code& ec) {
            if (ec || self->stopped || self->armed != d) return;
            self->armed = base::Instant::max();
            const auto fired = self->now();
            self->stats.loop_lag.record(fired - d);
            self->ep.handle_timeout(fired);
            self->kick();
        });
    }

    void kick() {
        if (stopped) return;
        if (in_kick) {
            kick_again = true;
            return;
        }
        in_kick = true;
        int rounds = 0;
        do {
            kick_again = false;
            drain_transmits();
            if (after_activity) after_activity();
        } while (kick_again && ++rounds < 64);
        in_kick = false;
        rearm();
    }

    static awaitable<void> udp_loop(std::shared_ptr<Impl> self) {
        std::vector<std::uint8_t> buf(65536);
        udp::endpoint from;
        while (!self->stopped) {
            auto [ec, n] = co_await self->udp_sock.async_receive_from(asio::buffer(buf), from, kTuple);
            if (ec) {
                if (ec == asio::error::operation_aborted || self->stopped) co_return;
                continue;
            }
            ++self->stats.udp_in;
            self->stats.udp_bytes_in += n;
            auto src = to_swim(from.address(), from.port());
            auto msgs = wire::open_packet(base::ByteView(buf.data(), n), self->keyed() ? self->keyring : nullptr,
                                          self->keyed() && self->opts.require_encryption);
            if (!msgs) {
                self->drop(msgs.error().code, "udp packet from " + src.to_string() + ": " + msgs.error().message);
                continue;
            }
            const auto t = self->now();
            for (const auto& m : *msgs) self->ep.handle_packet(src, m, t);
            self->kick();
        }
    }

    /// Reads one complete stream frame. The first byte is checked against what this node accepts
    /// and the frame's declared length against the limit for its type before anything more is
    /// buffered. For an incoming stream (`conn_id` != 0) every byte buffered, and for an
    /// encrypted frame its whole declared length, is charged to the global buffer budget first.
    /// `self` is owned by the calling coroutine, which awaits this one.
    // g++ 12 misreads asio's awaitable frame operator new/delete pair as mismatched in this
    // coroutine at -O2 (the same false positive cmake/ClusterdOptions.cmake silences under ASan).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
    static awaitable<base::Result<base::Bytes>> read_frame(Impl* self, GuardedStream& gs, std::uint64_t conn_id) {
        std::array<std::uint8_t, 16384> chunk{};
        base::Bytes buf;
        std::size_t limit = 0;
        std::size_t charged = 0;
        constexpr std::size_t kHeader = 5;  // type byte + 4 bytes (an encrypted frame's length)
        for (;;) {
            if (!buf.empty()) {
                if (limit == 0) {
                    auto l = self->frame_limit(buf[0]);
                    if (!l) co_return l.error();
                    limit = *l;
                }
                auto len = wire::stream_frame_length(buf, limit);
                if (!len) co_return len.error();
                if (len->has_value()) {
                    gs.header_done = true;
                    const std::size_t n = **len;
                    buf.resize(n);  // one frame per stream; anything after it is ignored
                    base::Bytes frame(std::move(buf));
                    co_return frame;
                }
                if (buf.size() >= kHeader && !gs.header_done) {
                    gs.header_done = true;
                    if (buf[0] == static_cast<std::uint8_t>(wire::MsgType::Encrypt)) {
                        // The declared length is known (and within the limit): charge all of it
                        // now, so a frame that claims much and sends little holds budget, not
                        // memory, and is the first evicted when room is needed.
                        const std::size_t declared = kHeader + ((std::size_t{buf[1]} << 24) | (std::size_t{buf[2]} << 16) |
                                                                (std::size_t{buf[3]} << 8) | std::size_t{buf[4]});
                        if (!self->charge_to(conn_id, charged, declared))
                            co_return base::make_error("buffer_cap", "buffered stream bytes at the cap");
                        buf.reserve(declared);
                    }
                }
            }
            auto [ec, n] = co_await gs.sock.async_read_some(asio::buffer(chunk), kTuple);
            if (gs.closed_by != nullptr)
                co_return base::make_error(gs.closed_by, std::string("closed by the driver (") + gs.closed_by + ")");
            if (ec) co_return base::make_error("io", ec == asio::error::eof ? "connection closed mid-frame" : ec.message());
            if (!self->charge_to(conn_id, charged, buf.size() + n))
                co_return base::make_error("buffer_cap", "buffered stream bytes at the cap");
            buf.insert(buf.end(), chunk.begin(), chunk.begin() + static_cast<std::ptrdiff_t>(n));
        }
    }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

    static awaitable<void> tcp_accept_loop(std::shared_ptr<Impl> self) {
        while (!self->stopped) {
            auto [ec, sock] = co_await self->acceptor.async_accept(kTuple);
            if (ec) {
                if (ec == asio::error::operation_aborted || self->stopped) co_return;
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
            const std::string ip = to_asio(src).to_string();
            const auto pit = self->per_ip.find(ip);
            if (self->opts.max_tcp_connections_per_ip > 0 && pit != self->per_ip.end() &&
                pit->second >= self->opts.max_tcp_connections_per_ip) {
                ++self->stats.tcp_refused_per_ip;
                self->drop("per_ip_limit", "tcp stream from " + ip + ": " + std::to_string(pit->second) +
                                               " streams from that address already open");
                std::error_code ignored;
                sock.close(ignored);
                continue;
            }
            if (self->in_conns.size() >= self->opts.max_tcp_connections && !self->evict_for_newcomer()) {
                ++self->stats.tcp_refused;
                std::error_code ignored;
                sock.close(ignored);
                continue;
            }
            auto stream = std::make_shared<GuardedStream>(std::move(sock));
            const auto id = self->next_conn++;
            self->in_conns[id] = InConn{stream, ip, id, 0};
            ++self->per_ip[ip];
            self->stats.tcp_open = self->in_conns.size();
            asio::co_spawn(self->io, handle_conn(self, std::move(stream), id, src), asio::detached);
        }
    }

    static awaitable<void> handle_conn(std::shared_ptr<Impl> self, std::shared_ptr<GuardedStream> stream,
                                       std::uint64_t id, swim::Address src) {
        ++self->stats.tcp_in;
        tcp::socket& sock = stream->sock;
        asio::steady_timer deadline(self->io);
        deadline.expires_after(self->opts.tcp_timeout);
        deadline.async_wait(stream->on_deadline());
        asio::steady_timer header_deadline(self->io);
        header_deadline.expires_after(std::min(self->opts.tcp_header_timeout, self->opts.tcp_timeout));
        header_deadline.async_wait(stream->on_header_deadline());
        auto frame = co_await read_frame(self.get(), *stream, id);
        header_deadline.cancel();
        if (!frame) {
            const std::string code = frame.error().code;
            if (code == "header_timeout") ++self->stats.tcp_header_timeouts;
            // An eviction was counted when it happened; everything else is counted here.
            if (stream->closed_by == nullptr || code == "header_timeout")
                self->drop(code, "tcp stream from " + src.to_string() + ": " + frame.error().message);
        } else {
            self->stats.tcp_bytes_in += frame->size();
            auto msg = wire::open_stream(*frame, self->keyed() ? self->keyring : nullptr,
                                         self->keyed() && self->opts.require_encryption);
            frame->clear();
            frame->shrink_to_fit();
            if (!msg) {
                self->drop(msg.error().code, "tcp stream from " + src.to_string() + ": " + msg.error().message);
            } else {
                auto reply = self->ep.handle_stream_request(src, *msg, self->now());
                self->kick();
                if (!reply) {
                    self->drop(reply.error().code,
                               "tcp request from " + src.to_string() + ": " + reply.error().message);
                } else if (!reply->empty()) {
                    auto sealed = wire::seal_stream(*reply, self->opts.compress,
                                                    self->keyed() ? self->keyring : nullptr, self->nonce);
                    if (sealed) {
                        auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(*sealed), kTuple);
                        if (!wec) self->stats.tcp_bytes_out += wn;
                    }
                }
            }
        }
        deadline.cancel();
        std::error_code ignored;
        sock.shutdown(tcp::socket::shutdown_both, ignored);
        sock.close(ignored);
        self->unregister(id);
    }

    static awaitable<void> stream_out(std::shared_ptr<Impl> self, swim::Transmit t) {
        ++self->stats.tcp_out;
        auto stream = std::make_shared<GuardedStream>(tcp::socket(self->io));
        tcp::socket& sock = stream->sock;
        const bool& timed_out = stream->timed_out;
        asio::steady_timer deadline(self->io);
        const auto timeout = t.timeout.count() > 0 ? t.timeout : self->opts.tcp_timeout;
        deadline.expires_after(timeout);
        deadline.async_wait(stream->on_deadline());
        std::string why;
        const bool expects_reply = !t.msg.empty() && t.msg[0] != 8;  // user messages get no reply
        auto [cec] = co_await sock.async_connect(tcp::endpoint(to_asio(t.to), t.to.port), kTuple);
        if (cec) {
            why = "connect to " + t.to.to_string() + ": " + (timed_out ? "timed out" : cec.message());
        } else {
            auto sealed = wire::seal_stream(t.msg, self->opts.compress, self->keyed() ? self->keyring : nullptr,
                                            self->nonce);
            if (!sealed) {
                why = "seal: " + sealed.error().message;
            } else {
                auto [wec, wn] = co_await asio::async_write(sock, asio::buffer(*sealed), kTuple);
                if (wec) {
                    why = "write to " + t.to.to_string() + ": " + (timed_out ? "timed out" : wec.message());
                } else {
                    self->stats.tcp_bytes_out += wn;
                    if (expects_reply) {
                        auto frame = co_await read_frame(self.get(), *stream, 0);
                        if (!frame) {
                            why = "read from " + t.to.to_string() + ": " +
                                  (timed_out ? std::string("timed out") : frame.error().message);
                        } else {
                            self->stats.tcp_bytes_in += frame->size();
                            auto msg = wire::open_stream(*frame, self->keyed() ? self->keyring : nullptr,
                                                         self->keyed() && self->opts.require_encryption);
                            if (!msg) {
                                why = "reply from " + t.to.to_string() + ": " + msg.error().message;
                            } else if (!self->stopped) {
                                self->ep.handle_stream_reply(t.stream_id, *msg, self->now());
                            }
                        }
                    }
                }
            }
        }
        deadline.cancel();
        std::error_code ignored;
        sock.close(ignored);
        if (self->stopped) co_return;
        if (!why.empty()) self->ep.stream_failed(t.stream_id, self->now(), why);
        self->kick();
    }
};

Driver::Driver(asio::io_context& io, Host& host, DriverOptions options, LogFn log)
    : impl_(std::make_shared<Impl>(io, host, std::move(options), std::move(log))) {}

Driver::~Driver() { stop(); }

base::Status Driver::start() {
    auto& d = *impl_;
    std::error_code ec;
    udp::endpoint uep(d.opts.bind_addr, d.opts.bind_port);
    d.udp_sock.open(uep.protocol(), ec);
    if (!ec) d.udp_sock.bind(uep, ec);
    if (ec) {
        return base::make_error("bind", "cannot bind UDP " + join_host_port(d.opts.bind_addr.to_string(), d.opts.bind_port) +
                                            ": " + ec.message());
    }
    // Bind TCP to the port UDP actually got (matters when bind_port is 0).
    std::uint16_t port = d.udp_sock.local_endpoint().port();
    tcp::endpoint tep(d.opts.bind_addr, port);
    d.acceptor.open(tep.protocol(), ec);
    if (!ec) d.acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) d.acceptor.bind(tep, ec);
    if (!ec) d.acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec) {
        d.udp_sock.close();
        return base::make_error("bind", "cannot bind TCP " + join_host_port(d.opts.bind_addr.to_string(), port) + ": " +
                                            ec.message());
    }
    d.udp_sock.non_blocking(true, ec);
    // Large socket buffers, as memberlist asks for (up to 2 MiB).
    d.udp_sock.set_option(asio::socket_base::receive_buffer_size(2 * 1024 * 1024), ec);
    d.update_overhead();
    asio::co_spawn(d.io, Impl::udp_loop(impl_), asio::detached);
    asio::co_spawn(d.io, Impl::tcp_accept_loop(impl_), asio::detached);
    kick();
    return base::ok_status();
}

void Driver::stop() {
    auto& d = *impl_;
    if (d.stopped) return;
    d.stopped = true;
    std::error_code ec;
    d.timer.cancel();
    d.udp_sock.close(ec);
    d.acceptor.close(ec);
}

void Driver::set_keyring(const wire::Keyring* keyring) {
    impl_->keyring = keyring;
    impl_->update_overhead();
}

void Driver::kick() { impl_->kick(); }
void Driver::set_after_activity(std::function<void()> fn) { impl_->after_activity = std::move(fn); }
base::Instant Driver::now() const { return impl_->now(); }
std::uint16_t Driver::bound_port() const {
    std::error_code ec;
    auto ep = impl_->udp_sock.local_endpoint(ec);
    return ec ? 0 : ep.port();
}
const DriverStats& Driver::stats() const { return impl_->stats; }

}  // namespace clusterd::net
