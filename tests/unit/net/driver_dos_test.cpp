// Issue 16, holes 2 and 3, against the real net::Driver on 127.0.0.1 (no gossip key or token
// needed by the attacker):
//  - gossip TCP starvation: 300 stalled one-byte connections filled the 256-connection cap and a
//    legitimate push-pull from a new address was refused;
//  - unauthenticated buffering: 16 connections each sending a 20 MiB "encrypted" frame were
//    buffered in full (~345 MiB RSS), by a plaintext driver too.
// Attackers connect from other loopback addresses (127.0.0.2 ...), the legitimate peer from
// 127.0.0.1. Every loop is bounded in count and time; every socket is closed.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <asio.hpp>
#include <cstdio>
#include <fstream>
#include <future>
#include <optional>
#include <thread>

#include "clusterd/net/driver.hpp"
#include "clusterd/wire/envelope.hpp"
#include "support/tcp_peer.hpp"

using namespace clusterd;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

/// Answers every stream request with an empty push-pull ([6] + empty map).
class EchoHost final : public net::Host {
  public:
    int requests = 0;
    void handle_packet(const swim::Address&, base::ByteView, base::Instant) override {}
    base::Result<base::Bytes> handle_stream_request(const swim::Address&, base::ByteView,
                                                    base::Instant) override {
        ++requests;
        return base::Bytes{6, 0x80};
    }
    void handle_stream_reply(std::uint64_t, base::ByteView, base::Instant) override {}
    void stream_failed(std::uint64_t, base::Instant, std::string_view, swim::StreamFailure) override {}
    void handle_timeout(base::Instant) override {}
    base::Instant next_deadline() const override { return base::Instant::max(); }
    std::optional<swim::Transmit> poll_transmit() override { return std::nullopt; }
    void set_packet_overhead(std::size_t) override {}
};

long rss_kib() {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::stol(line.substr(6));
    return 0;
}

using Peer = clusterd::testing::TcpPeer;

/// A driver on 127.0.0.1 run by its own thread; stats are read on that thread.
class DriverRig {
  public:
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> work{io.get_executor()};
    EchoHost host;
    std::unique_ptr<net::Driver> driver;
    std::thread th;
    std::uint16_t port = 0;

    explicit DriverRig(net::DriverOptions opts, const wire::Keyring* ring = nullptr) {
        opts.bind_addr = asio::ip::make_address("127.0.0.1");
        opts.bind_port = 0;
        opts.compress = false;
        for (int attempt = 0; attempt < 10 && !driver; ++attempt) {
            auto d = std::make_unique<net::Driver>(io, host, opts, [](int, const std::string&) {});
            if (ring != nullptr)
                d->set_keyring(ring);
            if (d->start().ok())
                driver = std::move(d);
        }
        if (driver)
            port = driver->bound_port();
        th = std::thread([this] { io.run(); });
    }
    ~DriverRig() {
        on_io([this] {
            if (driver)
                driver->stop();
            return 0;
        });
        work.reset();
        io.stop();
        th.join();
    }
    template <typename F> auto on_io(F f) -> decltype(f()) {
        std::packaged_task<decltype(f())()> task(std::move(f));
        auto fut = task.get_future();
        asio::post(io, [&task] { task(); });
        return fut.get();
    }
    net::DriverStats stats() {
        return on_io([this] { return driver->stats(); });
    }
    std::uint64_t drops(const std::string& code) {
        auto s = stats();
        auto it = s.drops.find(code);
        return it == s.drops.end() ? 0 : it->second;
    }
};

/// A legitimate push-pull from `source`: returns the milliseconds until the reply, or nullopt
/// if the driver refused or dropped it.
std::optional<long long> push_pull(std::uint16_t port, const char* source, const base::Bytes& frame) {
    const auto t0 = Clock::now();
    Peer p(port, source);
    if (!p.ok() || !p.send(frame))
        return std::nullopt;
    auto r = p.read_all(2s);
    if (!r || r->empty())
        return std::nullopt;
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

const base::Bytes kPlainPushPull{6, 0x80}; // push-pull type + empty header map

/// `n` connections from the given sources (round robin) that send one byte and stall.
std::vector<std::unique_ptr<Peer>> stalled_flood(std::uint16_t port, int n,
                                                 const std::vector<const char*>& sources) {
    std::vector<std::unique_ptr<Peer>> v;
    const base::Bytes one{6};
    for (int i = 0; i < n; ++i) {
        v.push_back(std::make_unique<Peer>(port, sources[static_cast<std::size_t>(i) % sources.size()]));
        v.back()->send(one);
    }
    return v;
}

} // namespace

// Hole 2: 300 stalled one-byte connections from five addresses (60 each: under the per-address
// limit, over the global cap). A legitimate push-pull from a new address must get through.
namespace {
/// The defaults (256 streams, 64 per address), with deadlines long enough that only the caps
/// act, however slowly a loaded machine opens the flood.
net::DriverOptions caps_only() {
    net::DriverOptions o;
    o.tcp_timeout = 60s;
    o.tcp_header_timeout = 60s;
    return o;
}
} // namespace

TEST(GossipDos, StalledFloodFromManyAddressesDoesNotBlockJoins) {
    DriverRig rig(caps_only());
    ASSERT_TRUE(rig.driver);
    auto flood =
        stalled_flood(rig.port, 300, {"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"});
    std::this_thread::sleep_for(200ms); // the driver has accepted what it will
    const auto ms = push_pull(rig.port, "127.0.0.1", kPlainPushPull);
    const auto s = rig.stats();
    std::printf("[figure] 300 stalled connections from 5 addresses: legitimate push-pull %s (%lld ms); "
                "open %zu, evicted %llu, refused %llu, refused per address %llu\n",
                ms ? "served" : "REFUSED", ms ? *ms : -1LL, s.tcp_open,
                static_cast<unsigned long long>(s.tcp_evicted),
                static_cast<unsigned long long>(s.tcp_refused),
                static_cast<unsigned long long>(s.tcp_refused_per_ip));
    ASSERT_TRUE(ms.has_value()) << "a stalled flood blocked a legitimate push-pull";
    EXPECT_LT(*ms, 2000);
    EXPECT_LE(s.tcp_open, 256u);
    EXPECT_GE(s.tcp_evicted, 44u);
    EXPECT_EQ(s.tcp_evicted, rig.drops("evicted"));
}

TEST(GossipDos, StalledFloodFromOneAddressIsHeldToThePerAddressLimit) {
    DriverRig rig(caps_only());
    ASSERT_TRUE(rig.driver);
    auto flood = stalled_flood(rig.port, 300, {"127.0.0.2"});
    std::this_thread::sleep_for(200ms);
    const auto ms = push_pull(rig.port, "127.0.0.1", kPlainPushPull);
    const auto s = rig.stats();
    std::printf(
        "[figure] 300 stalled connections from 1 address: legitimate push-pull %s (%lld ms); open %zu, "
        "refused per address %llu\n",
        ms ? "served" : "REFUSED", ms ? *ms : -1LL, s.tcp_open,
        static_cast<unsigned long long>(s.tcp_refused_per_ip));
    ASSERT_TRUE(ms.has_value());
    EXPECT_LE(s.tcp_open, 64u + 1u);
    EXPECT_EQ(s.tcp_refused_per_ip, 300u - 64u);
    EXPECT_EQ(s.tcp_refused_per_ip, rig.drops("per_ip_limit"));
}

TEST(GossipDos, StalledStreamsAreClosedAtTheHeaderDeadline) {
    net::DriverOptions o;
    o.tcp_header_timeout = 200ms;
    DriverRig rig(o);
    ASSERT_TRUE(rig.driver);
    auto flood = stalled_flood(rig.port, 20, {"127.0.0.2"});
    const auto t0 = Clock::now();
    int closed = 0;
    for (auto& p : flood)
        closed += p->closed_within(3s) ? 1 : 0;
    const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    std::printf("[figure] 20 one-byte streams closed %lld ms after they stalled (header deadline 200 ms)\n",
                static_cast<long long>(ms));
    EXPECT_EQ(closed, 20);
    EXPECT_EQ(rig.stats().tcp_header_timeouts, 20u);
    EXPECT_EQ(rig.drops("header_timeout"), 20u);
    EXPECT_EQ(rig.stats().tcp_open, 0u);
    // A peer that sends a whole frame late but within the header deadline is served.
    Peer slow(rig.port, "127.0.0.1");
    std::this_thread::sleep_for(50ms);
    ASSERT_TRUE(slow.send(kPlainPushPull));
    auto r = slow.read_all(2s);
    ASSERT_TRUE(r.has_value());
    EXPECT_FALSE(r->empty());
}

namespace {

/// 16 connections each sending a 20 MiB frame that claims to be encrypted, all in flight at once
/// (sent round robin, one byte short of complete, so an unfixed driver holds every buffer).
/// Returns the RSS growth of this process (KiB) at the end of the flood.
long encrypted_flood(std::uint16_t port, int conns, std::size_t frame_len) {
    const long before = rss_kib();
    std::vector<std::unique_ptr<Peer>> peers;
    for (int i = 0; i < conns; ++i) {
        peers.push_back(std::make_unique<Peer>(port, "127.0.0.2"));
        const auto len = static_cast<std::uint32_t>(frame_len);
        const base::Bytes header{10,
                                 static_cast<std::uint8_t>(len >> 24),
                                 static_cast<std::uint8_t>(len >> 16),
                                 static_cast<std::uint8_t>(len >> 8),
                                 static_cast<std::uint8_t>(len),
                                 1};
        peers.back()->send(header);
    }
    const base::Bytes piece(256 * 1024, 0xA5);
    std::vector<std::size_t> sent(peers.size(), 1);
    std::vector<bool> alive(peers.size(), true);
    const auto end = Clock::now() + 30s;
    bool progress = true;
    while (progress && Clock::now() < end) {
        progress = false;
        for (std::size_t i = 0; i < peers.size(); ++i) {
            if (!alive[i] || sent[i] + 1 >= frame_len)
                continue;
            const std::size_t n = std::min(piece.size(), frame_len - 1 - sent[i]);
            if (!peers[i]->send(base::ByteView(piece.data(), n))) {
                alive[i] = false;
                continue;
            }
            sent[i] += n;
            progress = true;
        }
    }
    std::this_thread::sleep_for(300ms); // the driver has read what it will
    const long grown = rss_kib() - before;
    int refused = 0;
    for (bool a : alive)
        refused += a ? 0 : 1;
    std::printf(
        "[figure] %d x %zu MiB encrypted-frame flood: RSS grew by %ld KiB; %d of %d senders cut off\n", conns,
        (frame_len + (1u << 20) - 1) >> 20, grown, refused, conns);
    return grown;
}

} // namespace

// Hole 3, plaintext agent: it has no key, so an encrypted frame is refused at its first byte.
TEST(GossipDos, PlaintextDriverRefusesEncryptedFramesAtOnce) {
    DriverRig rig({});
    ASSERT_TRUE(rig.driver);
    const long grown = encrypted_flood(rig.port, 16, wire::kMaxStreamBytes - 64);
    const auto s = rig.stats();
    EXPECT_LT(grown, 16 * 1024) << "a plaintext driver buffered encrypted frames";
    EXPECT_EQ(rig.drops("no_key"), 16u);
    EXPECT_LE(s.tcp_buffered_peak, 64u * 1024u);
    // Still serves a legitimate peer.
    EXPECT_TRUE(push_pull(rig.port, "127.0.0.1", kPlainPushPull).has_value());
}

// Hole 3, keyed agent: the frames may be genuine, so they are buffered, but only up to the
// global cap; a legitimate encrypted push-pull from a new address gets through during the flood.
TEST(GossipDos, EncryptedFrameFloodIsBoundedByTheBufferCap) {
    auto ring = wire::Keyring::from_keys({base::Bytes(16, 7)});
    ASSERT_TRUE(ring.ok());
    DriverRig rig({}, &*ring); // 32 MiB buffer cap
    ASSERT_TRUE(rig.driver);
    const long grown = encrypted_flood(rig.port, 16, wire::kMaxStreamBytes - 64);
    auto legit = wire::seal_stream(kPlainPushPull, false, &*ring, wire::system_nonce_source());
    ASSERT_TRUE(legit.ok());
    const auto ms = push_pull(rig.port, "127.0.0.1", *legit);
    const auto s = rig.stats();
    std::printf(
        "[figure] keyed driver: buffered peak %zu KiB (cap %zu KiB), %llu streams refused or evicted at the "
        "cap; legitimate encrypted push-pull %s (%lld ms)\n",
        s.tcp_buffered_peak / 1024, std::size_t{32} * 1024,
        static_cast<unsigned long long>(rig.drops("buffer_cap")), ms ? "served" : "REFUSED", ms ? *ms : -1LL);
    EXPECT_LE(s.tcp_buffered_peak, 32u * 1024u * 1024u);
    EXPECT_LT(grown, 48 * 1024) << "RSS grew beyond the buffer cap";
    EXPECT_GE(rig.drops("buffer_cap"), 14u);
    ASSERT_TRUE(ms.has_value()) << "a legitimate push-pull was refused during the flood";
    EXPECT_EQ(rig.host.requests, 1);
}

// A single small message (here a ping) may not claim a huge body: it is dropped at 64 KiB.
TEST(GossipDos, SmallMessageTypesCannotClaimLargeBodies) {
    DriverRig rig({});
    ASSERT_TRUE(rig.driver);
    Peer p(rig.port, "127.0.0.2");
    const base::Bytes header{0, 0xdb, 0x40, 0x00, 0x00, 0x00}; // ping + str32 of 1 GiB
    p.send(header);
    const base::Bytes piece(64 * 1024, 'x');
    for (int i = 0; i < 4 && p.send(piece); ++i) {
    }
    EXPECT_TRUE(p.closed_within(2s));
    EXPECT_EQ(rig.drops("too_large"), 1u);
    EXPECT_LE(rig.stats().tcp_buffered_peak, 64u * 1024u + 16384u);
}
