// Issue 12: a stream's deadline timer and its read completion land in the same turn of a
// stalled event loop. The read resumes the stream coroutine first; the coroutine finishes and
// its frame (socket, flags) is freed; then the already-expired timer's handler runs. Before the
// fix that handler closed a socket and set a flag inside the freed frame (heap use after free:
// the glibc mutex assertions and segfaults in reactive_socket_service_base::close seen with
// hundreds of agents). These tests stall the loop on purpose to force that ordering; the
// sanitizer trees (clang and g++, ASan) report the use after free on the unfixed driver.
#include <gtest/gtest.h>

#include <asio.hpp>
#include <atomic>
#include <thread>

#include "clusterd/net/driver.hpp"
#include "clusterd/wire/envelope.hpp"
#include "support/asio_pump.hpp"

using namespace clusterd;
using namespace std::chrono_literals;
using asio::ip::tcp;
using clusterd::testing::pump_until;

namespace {

/// A Host that emits the transmits a test queues and records what comes back.
class ScriptedHost final : public net::Host {
  public:
    std::vector<swim::Transmit> outbox;
    int replies = 0, failures = 0, requests = 0;
    base::Bytes reply_to_requests; ///< empty: answer nothing (the coroutine ends without a write)

    void handle_packet(const swim::Address&, base::ByteView, base::Instant) override {}
    base::Result<base::Bytes> handle_stream_request(const swim::Address&, base::ByteView,
                                                    base::Instant) override {
        ++requests;
        return reply_to_requests;
    }
    void handle_stream_reply(std::uint64_t, base::ByteView, base::Instant) override { ++replies; }
    void stream_failed(std::uint64_t, base::Instant, std::string_view, swim::StreamFailure) override {
        ++failures;
    }
    void handle_timeout(base::Instant) override {}
    base::Instant next_deadline() const override { return base::Instant::max(); }
    std::optional<swim::Transmit> poll_transmit() override {
        if (outbox.empty())
            return std::nullopt;
        auto t = std::move(outbox.front());
        outbox.erase(outbox.begin());
        return t;
    }
    void set_packet_overhead(std::size_t) override {}
};

base::Bytes plain_frame(std::uint8_t type) {
    base::Bytes msg{type, 0x80}; // type byte + an empty msgpack map
    auto sealed = wire::seal_stream(msg, false, nullptr, wire::system_nonce_source());
    EXPECT_TRUE(sealed.ok());
    return sealed.ok() ? *sealed : base::Bytes{};
}

/// Starts a driver on an ephemeral port; port 0 binds UDP first and TCP on the same number,
/// which an outgoing TCP connection may already hold, so a few fresh tries are allowed.
std::unique_ptr<net::Driver> start_driver(asio::io_context& io, net::Host& host, base::Duration tcp_timeout) {
    net::DriverOptions opts;
    opts.bind_addr = asio::ip::make_address("127.0.0.1");
    opts.bind_port = 0;
    opts.compress = false;
    opts.tcp_timeout = tcp_timeout;
    for (int attempt = 0; attempt < 10; ++attempt) {
        auto d = std::make_unique<net::Driver>(io, host, opts, [](int, const std::string&) {});
        if (d->start().ok())
            return d;
    }
    return nullptr;
}

/// Blocks the loop thread for `d` (what a saturated machine does to an agent).
void stall_loop(asio::io_context& io, std::chrono::milliseconds d) {
    asio::post(io, [d] { std::this_thread::sleep_for(d); });
}

} // namespace

// Outgoing stream: the reply arrives while the loop is stalled past the stream's deadline.
TEST(DriverLifetime, ReplyAndDeadlineInOneLoopTurn) {
    for (int round = 0; round < 3; ++round) {
        asio::io_context io;
        ScriptedHost host;
        auto started = start_driver(io, host, 10s);
        ASSERT_TRUE(started);
        net::Driver& driver = *started;

        // The peer: a blocking socket served from a thread.
        asio::io_context peer_io;
        tcp::acceptor acc(peer_io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0));
        const auto peer_port = acc.local_endpoint().port();
        std::atomic<bool> peer_done{false};
        std::thread peer([&] {
            tcp::socket s(peer_io);
            acc.accept(s);
            std::array<std::uint8_t, 256> buf{};
            std::error_code ec;
            s.read_some(asio::buffer(buf), ec); // the request
            stall_loop(io, 400ms);
            std::this_thread::sleep_for(100ms); // the loop is asleep now; the deadline passes
            asio::write(s, asio::buffer(plain_frame(2)), ec);
            std::this_thread::sleep_for(500ms);
            peer_done = true;
        });

        swim::Transmit t;
        t.kind = swim::Transmit::Kind::Stream;
        t.to = net::to_swim(asio::ip::make_address("127.0.0.1"), peer_port);
        t.msg = base::Bytes{6, 0x80};
        t.stream_id = 7;
        t.timeout = 250ms;
        host.outbox.push_back(std::move(t));
        driver.kick();
        EXPECT_TRUE(pump_until(
            io, [&] { return host.replies + host.failures == 1 && peer_done; }, 5s));
        // Keep running so that a late timer handler (if any) executes while the test watches.
        pump_until(
            io, [] { return false; }, 100ms);
        peer.join();
        EXPECT_EQ(host.replies + host.failures, 1);
        driver.stop();
        io.run_for(50ms);
    }
}

// Incoming stream: the request arrives while the loop is stalled past the connection deadline,
// and the host answers nothing, so the coroutine ends in the same turn.
TEST(DriverLifetime, RequestAndDeadlineInOneLoopTurn) {
    for (int round = 0; round < 3; ++round) {
        asio::io_context io;
        ScriptedHost host;
        auto started = start_driver(io, host, 250ms);
        ASSERT_TRUE(started);
        net::Driver& driver = *started;
        const auto port = driver.bound_port();

        std::atomic<bool> sent{false};
        std::thread peer([&] {
            asio::io_context pio;
            tcp::socket s(pio);
            std::error_code ec;
            s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
            std::this_thread::sleep_for(50ms); // the driver accepted and waits for bytes
            stall_loop(io, 400ms);
            std::this_thread::sleep_for(100ms);
            asio::write(s, asio::buffer(plain_frame(6)), ec);
            sent = true;
            std::this_thread::sleep_for(500ms);
        });
        EXPECT_TRUE(pump_until(
            io, [&] { return sent && host.requests == 1; }, 5s));
        pump_until(
            io, [] { return false; }, 100ms);
        peer.join();
        driver.stop();
        io.run_for(50ms);
    }
}

// Issue 16 added a second timer per incoming stream (the header deadline) and eviction from the
// accept loop and the buffer budget. The header deadline expires while the loop is stalled and
// the rest of the frame arrives in the same turn; the stream is served or dropped, never touched
// after its coroutine ended.
TEST(DriverLifetime, HeaderDeadlineAndReadInOneLoopTurn) {
    for (int round = 0; round < 3; ++round) {
        asio::io_context io;
        ScriptedHost host;
        net::DriverOptions opts;
        opts.bind_addr = asio::ip::make_address("127.0.0.1");
        opts.bind_port = 0;
        opts.compress = false;
        opts.tcp_header_timeout = 150ms;
        std::unique_ptr<net::Driver> driver;
        for (int attempt = 0; attempt < 10 && !driver; ++attempt) {
            auto d = std::make_unique<net::Driver>(io, host, opts, [](int, const std::string&) {});
            if (d->start().ok())
                driver = std::move(d);
        }
        ASSERT_TRUE(driver);
        const auto port = driver->bound_port();
        std::atomic<bool> sent{false};
        std::thread peer([&] {
            asio::io_context pio;
            tcp::socket s(pio);
            std::error_code ec;
            s.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port), ec);
            const auto frame = plain_frame(6);
            asio::write(s, asio::buffer(frame.data(), 1), ec); // one byte: the header is not complete
            std::this_thread::sleep_for(50ms);
            stall_loop(io, 400ms);
            std::this_thread::sleep_for(150ms); // the header deadline passes while the loop sleeps
            asio::write(s, asio::buffer(frame.data() + 1, frame.size() - 1), ec);
            sent = true;
            std::this_thread::sleep_for(300ms);
        });
        const auto stats = [&] { return driver->stats(); };
        EXPECT_TRUE(pump_until(
            io,
            [&] {
                return sent && (host.requests == 1 || stats().tcp_header_timeouts == 1) &&
                       stats().tcp_open == 0;
            },
            5s));
        pump_until(
            io, [] { return false; }, 100ms);
        peer.join();
        driver->stop();
        io.run_for(50ms);
    }
}
