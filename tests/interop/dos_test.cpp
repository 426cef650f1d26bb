// Issue 16 against the real agent binary: the three denial-of-service holes, each attacked
// without the RPC token or the gossip key, with the figure each test prints.
//  1. RPC lockout: 130 idle handshaken connections; `clusterd members -rpc-auth` must answer.
//  2. Gossip TCP starvation: 300 stalled one-byte connections; a new agent must `-join`.
//  3. Unauthenticated buffering: 16 x 20 MiB "encrypted" frames; the agent's RSS growth.
// Attackers connect from other loopback addresses (127.0.0.2 ...). Every agent is stopped by
// PID; every socket is closed; every wait is bounded.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <thread>

#include "support/process.hpp"
#include "support/tcp_peer.hpp"

using namespace clusterd::testing;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

namespace {

using Sock = TcpPeer;

long vm_rss_kib(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind("VmRSS:", 0) == 0)
            return std::stol(line.substr(6));
    return 0;
}

struct Agent {
    std::uint16_t port = 0, rpc = 0;
    Process child;
    std::string rpc_addr() const { return "127.0.0.1:" + std::to_string(rpc); }
    std::string bind() const { return "127.0.0.1:" + std::to_string(port); }
};

/// Starts `clusterd agent` and waits (bounded) until its RPC answers.
std::unique_ptr<Agent> start_agent(const std::string& dir, const std::string& name,
                                   std::vector<std::string> extra, const std::string& auth = "") {
    auto a = std::make_unique<Agent>();
    a->port = free_port();
    a->rpc = free_port();
    std::vector<std::string> argv{
        clusterd_bin(),   "agent", "-node=" + name, "-bind=" + a->bind(), "-rpc-addr=" + a->rpc_addr(),
        "-log-level=info"};
    if (!auth.empty())
        argv.push_back("-rpc-auth=" + auth);
    argv.insert(argv.end(), extra.begin(), extra.end());
    a->child = Process(argv, dir + "/" + name + ".log");
    wait_until(
        [&] {
            std::vector<std::string> cmd{clusterd_bin(), "members", "-rpc-addr=" + a->rpc_addr()};
            if (!auth.empty())
                cmd.push_back("-rpc-auth=" + auth);
            return run(cmd, 3s).exit_code == 0;
        },
        15s);
    return a;
}

long long ms_since(Clock::time_point t0) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
}

} // namespace

TEST(DosAgent, RpcIdleHandshakeFloodDoesNotLockOutTheToken) {
    const auto dir = temp_dir("dos-rpc");
    const std::string token = "s3cret-token-16b";
    // The cap is set to 128 (the default is 4,096) so that 130 connections fill it.
    auto a = start_agent(dir, "a", {"-rpc-max-connections=128"}, token);
    ASSERT_TRUE(a->child.running()) << a->child.log();
    // {"Command":"handshake","Seq":1} {"Version":1}
    const std::string hs = std::string("\x82\xa7"
                                       "Command\xa9"
                                       "handshake\xa3"
                                       "Seq\x01") +
                           std::string("\x81\xa7"
                                       "Version\x01");
    std::vector<std::unique_ptr<Sock>> flood;
    for (int i = 0; i < 130; ++i) {
        flood.push_back(std::make_unique<Sock>(a->rpc, "127.0.0.2"));
        flood.back()->send(hs.data(), hs.size());
    }
    for (auto& s : flood)
        s->drain(50ms);
    const auto t0 = Clock::now();
    auto r = run({clusterd_bin(), "members", "-rpc-addr=" + a->rpc_addr(), "-rpc-auth=" + token}, 10s);
    const auto ms = ms_since(t0);
    std::printf(
        "[figure] agent: `members` with the token answered in %lld ms (exit %d) while 130 idle handshaken "
        "connections were held\n",
        ms, r.exit_code);
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_LT(ms, 3000);
    auto info = run({clusterd_bin(), "info", "-rpc-addr=" + a->rpc_addr(), "-rpc-auth=" + token}, 10s);
    EXPECT_NE(info.out.find("rpc_evicted"), std::string::npos) << info.out;
    flood.clear();
    a->child.stop(SIGTERM);
}

TEST(DosAgent, StalledGossipFloodDoesNotBlockJoin) {
    const auto dir = temp_dir("dos-gossip");
    auto a = start_agent(dir, "a", {});
    ASSERT_TRUE(a->child.running()) << a->child.log();
    std::vector<std::unique_ptr<Sock>> flood;
    const char* sources[] = {"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"};
    const std::uint8_t one = 6;
    for (int i = 0; i < 300; ++i) {
        flood.push_back(std::make_unique<Sock>(a->port, sources[i % 5]));
        flood.back()->send(&one, 1);
    }
    // No condition to wait on from outside: give the flood a moment to be accepted by the agent.
    std::this_thread::sleep_for(200ms);
    const auto t0 = Clock::now();
    auto b = start_agent(dir, "b", {"-join=" + a->bind()});
    bool joined = wait_until(
        [&] {
            auto r = run({clusterd_bin(), "members", "-rpc-addr=" + b->rpc_addr()}, 3s);
            return r.exit_code == 0 && r.out.find("a ") != std::string::npos &&
                   r.out.find("alive") != std::string::npos && r.out.find("b ") != std::string::npos;
        },
        15s);
    const auto ms = ms_since(t0);
    std::printf(
        "[figure] agent: a new agent joined in %lld ms (%s) while 300 stalled one-byte connections were "
        "open\n",
        ms, joined && b->child.running() ? "joined" : "FAILED");
    EXPECT_TRUE(b->child.running()) << b->child.log();
    EXPECT_TRUE(joined) << b->child.log();
    auto info = run({clusterd_bin(), "info", "-rpc-addr=" + a->rpc_addr()}, 10s);
    const auto at = info.out.find("network");
    ASSERT_NE(at, std::string::npos) << info.out;
    std::printf("%s\n", info.out.substr(at, 700).c_str());
    flood.clear();
    b->child.stop(SIGTERM);
    a->child.stop(SIGTERM);
}

namespace {
/// Sends 16 frames of `len` bytes that claim to be encrypted, all in flight at once and one
/// byte short of complete; returns the agent's VmRSS growth (KiB).
long encrypted_flood(const Agent& a, int conns, std::uint32_t len) {
    const long before = vm_rss_kib(a.child.pid());
    std::vector<std::unique_ptr<Sock>> peers;
    for (int i = 0; i < conns; ++i) {
        peers.push_back(std::make_unique<Sock>(a.port, "127.0.0.2"));
        const std::uint8_t h[5] = {10, static_cast<std::uint8_t>(len >> 24),
                                   static_cast<std::uint8_t>(len >> 16), static_cast<std::uint8_t>(len >> 8),
                                   static_cast<std::uint8_t>(len)};
        peers.back()->send(h, sizeof h);
    }
    const std::vector<std::uint8_t> piece(256 * 1024, 0x5A);
    std::vector<std::size_t> sent(peers.size(), 0);
    std::vector<bool> alive(peers.size(), true);
    const auto end = Clock::now() + 60s;
    bool progress = true;
    while (progress && Clock::now() < end) {
        progress = false;
        for (std::size_t i = 0; i < peers.size(); ++i) {
            if (!alive[i] || sent[i] + 1 >= len)
                continue;
            const std::size_t n = std::min<std::size_t>(piece.size(), len - 1 - sent[i]);
            if (!peers[i]->send(piece.data(), n)) {
                alive[i] = false;
                continue;
            }
            sent[i] += n;
            progress = true;
        }
    }
    std::this_thread::sleep_for(500ms); // let the agent buffer what it will before measuring its RSS
    long peak = vm_rss_kib(a.child.pid()) - before;
    return peak;
}
} // namespace

TEST(DosAgent, EncryptedFrameFloodRssIsBounded) {
    const auto dir = temp_dir("dos-buffer");
    auto plain = start_agent(dir, "plain", {});
    auto keyed = start_agent(dir, "keyed", {"-encrypt=AAECAwQFBgcICQoLDA0ODw=="});
    ASSERT_TRUE(plain->child.running()) << plain->child.log();
    ASSERT_TRUE(keyed->child.running()) << keyed->child.log();
    const std::uint32_t len = 20u * 1024u * 1024u - 64u;
    const auto t0 = Clock::now();
    const long gp = encrypted_flood(*plain, 16, len);
    std::printf("[figure] agent without a key: 16 x 20 MiB encrypted frames, RSS grew by %ld KiB (%lld ms)\n",
                gp, ms_since(t0));
    const auto t1 = Clock::now();
    const long gk = encrypted_flood(*keyed, 16, len);
    std::printf("[figure] agent with a key: 16 x 20 MiB encrypted frames, RSS grew by %ld KiB (%lld ms)\n",
                gk, ms_since(t1));
    EXPECT_LT(gp, 8 * 1024);
    EXPECT_LT(gk, 48 * 1024);
    EXPECT_TRUE(plain->child.running());
    EXPECT_TRUE(keyed->child.running());
    auto info = run({clusterd_bin(), "info", "-rpc-addr=" + keyed->rpc_addr()}, 10s);
    EXPECT_NE(info.out.find("dropped_buffer_cap"), std::string::npos) << info.out;
    keyed->child.stop(SIGTERM);
    plain->child.stop(SIGTERM);
}
