// Interop: bytes produced by clusterd's wire codecs are accepted by a REAL serf agent on loopback
// (127.0.62.x only, ports from the allocator). A plain, a CRC'd and an encrypted ping must each
// be answered with an ack; a corrupted CRC or a wrong key must not; a TCP push-pull join we
// encode must make serf list our node with its tags. Every agent started here is stopped by PID
// and reaped in teardown (support/serf_agent.hpp).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "clusterd/wire/envelope.hpp"
#include "clusterd/wire/memberlist.hpp"
#include "clusterd/wire/serf_messages.hpp"
#include "support/serf_agent.hpp"

using namespace clusterd;
using namespace clusterd::wire;
using namespace clusterd::testing;
using Clock = std::chrono::steady_clock;

namespace {

constexpr const char* kSerf = "/usr/bin/serf";
constexpr const char* kKey = "AAECAwQFBgcICQoLDA0ODw==";
constexpr const char* kOtherKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
// The probe's own gossip port in the push-pull state (nothing listens there).
constexpr std::uint16_t kOurPort = 27947;

sockaddr_in addr_of(const char* ip, std::uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

base::Bytes ip_bytes(const char* ip) {
    in_addr a{};
    inet_pton(AF_INET, ip, &a);
    const auto* p = reinterpret_cast<const std::uint8_t*>(&a);
    return base::Bytes(p, p + 4);
}

class SerfAgentTest : public ::testing::Test {
  protected:
    void TearDown() override {
        agents_.clear(); // stopped by PID and reaped (support/serf_agent.hpp)
        if (udp_ >= 0)
            close(udp_);
    }

    /// Starts `serf agent` on `ip` (ports from the allocator) and waits (bounded) until its RPC
    /// answers.
    bool start_agent(const std::string& ip, const std::string& name, std::vector<std::string> extra) {
        if (access(kSerf, X_OK) != 0)
            return false;
        SerfAgentOptions o;
        o.node = name;
        o.ip = ip;
        o.tags = {{"role", "golden"}};
        o.extra_args = std::move(extra);
        agents_.push_back(std::make_unique<SerfAgent>(o));
        return agents_.back()->ready();
    }
    const SerfAgent& agent() const { return *agents_.back(); }
    std::uint16_t serf_port() const { return agent().bind_port(); }

    void open_udp(const char* our_ip) {
        our_port_ = free_port(our_ip);
        ASSERT_NE(our_port_, 0);
        udp_ = socket(AF_INET, SOCK_DGRAM, 0);
        ASSERT_GE(udp_, 0);
        auto a = addr_of(our_ip, our_port_);
        ASSERT_EQ(bind(udp_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    }

    void send_udp(const std::string& ip, const base::Bytes& b) {
        auto a = addr_of(ip.c_str(), serf_port());
        ASSERT_EQ(sendto(udp_, b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&a), sizeof a),
                  static_cast<ssize_t>(b.size()));
    }

    /// Waits (bounded) for an ack with seq_no; other gossip packets are skipped.
    bool wait_ack(std::uint32_t seq, const Keyring* ring, std::chrono::milliseconds budget) {
        auto deadline = Clock::now() + budget;
        std::array<std::uint8_t, 65536> buf{};
        while (Clock::now() < deadline) {
            pollfd p{udp_, POLLIN, 0};
            int left = static_cast<int>(
                std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count());
            if (poll(&p, 1, std::max(left, 1)) <= 0)
                continue;
            ssize_t n = recv(udp_, buf.data(), buf.size(), 0);
            if (n <= 0)
                continue;
            auto msgs =
                open_packet(base::ByteView(buf.data(), static_cast<std::size_t>(n)), ring, ring != nullptr);
            if (!msgs.ok())
                continue;
            for (const auto& m : *msgs) {
                auto d = decode(m);
                if (d.ok() && std::holds_alternative<Ack>(*d) && std::get<Ack>(*d).seq_no == seq)
                    return true;
            }
        }
        return false;
    }

    base::Bytes ping_to(const std::string& node, std::uint32_t seq, const char* our_ip) const {
        return encode(Ping{seq, node, ip_bytes(our_ip), our_port_, "clusterd-probe"});
    }

    std::vector<std::unique_ptr<SerfAgent>> agents_;
    int udp_ = -1;
    std::uint16_t our_port_ = 0;
};

NonceSource nonce() {
    return system_nonce_source();
}

} // namespace

TEST_F(SerfAgentTest, PlainAndCrcPingsAreAckedCorruptIsNot) {
    const std::string ip = "127.0.62.1";
    ASSERT_TRUE(start_agent(ip, "golden-a", {})) << "serf agent did not start";
    open_udp("127.0.62.2");
    auto plain =
        seal_packet(ping_to("golden-a", 101, "127.0.62.2"), SealOptions{false, false, 1}, nullptr, {});
    ASSERT_TRUE(plain.ok());
    send_udp(ip, *plain);
    EXPECT_TRUE(wait_ack(101, nullptr, std::chrono::seconds(3))) << "plain ping not acked";

    auto crc = seal_packet(ping_to("golden-a", 102, "127.0.62.2"), SealOptions{true, true, 1}, nullptr, {});
    ASSERT_TRUE(crc.ok());
    ASSERT_EQ((*crc)[0], 12);
    send_udp(ip, *crc);
    EXPECT_TRUE(wait_ack(102, nullptr, std::chrono::seconds(3))) << "CRC ping not acked";

    auto bad = seal_packet(ping_to("golden-a", 103, "127.0.62.2"), SealOptions{false, true, 1}, nullptr, {});
    ASSERT_TRUE(bad.ok());
    (*bad)[1] ^= 0x55; // break the checksum
    send_udp(ip, *bad);
    EXPECT_FALSE(wait_ack(103, nullptr, std::chrono::milliseconds(1500))) << "serf acked a corrupt packet";

    // a compressed compound (ping + a Serf user event) is also understood
    auto ev = encode(UserMsg{encode_serf(SerfUserEvent{1, "interop", base::Bytes(200, 'z'), false})});
    auto compound = encode_compound({ping_to("golden-a", 104, "127.0.62.2"), ev});
    auto sealed = seal_packet(compound, SealOptions{true, true, 1}, nullptr, {});
    ASSERT_TRUE(sealed.ok());
    ASSERT_EQ((*sealed)[5], 9) << "expected LZW to shrink this compound";
    send_udp(ip, *sealed);
    EXPECT_TRUE(wait_ack(104, nullptr, std::chrono::seconds(3))) << "compressed compound ping not acked";
}

TEST_F(SerfAgentTest, EncryptedPingNeedsTheRightKey) {
    const std::string ip = "127.0.62.3";
    ASSERT_TRUE(start_agent(ip, "golden-e", {std::string("-encrypt=") + kKey})) << "serf agent did not start";
    open_udp("127.0.62.4");
    auto right = Keyring::from_base64({kKey});
    auto wrong = Keyring::from_base64({kOtherKey});
    ASSERT_TRUE(right.ok() && wrong.ok());
    auto bad = seal_packet(ping_to("golden-e", 201, "127.0.62.4"), SealOptions{}, &*wrong, nonce());
    ASSERT_TRUE(bad.ok());
    send_udp(ip, *bad);
    EXPECT_FALSE(wait_ack(201, &*right, std::chrono::milliseconds(1500)));
    auto good =
        seal_packet(ping_to("golden-e", 202, "127.0.62.4"), SealOptions{true, true, 1}, &*right, nonce());
    ASSERT_TRUE(good.ok());
    send_udp(ip, *good);
    EXPECT_TRUE(wait_ack(202, &*right, std::chrono::seconds(3))) << "encrypted ping not acked";
}

TEST_F(SerfAgentTest, PushPullJoinIsAcceptedAndAnswered) {
    const std::string ip = "127.0.62.5";
    ASSERT_TRUE(start_agent(ip, "golden-p", {std::string("-encrypt=") + kKey})) << "serf agent did not start";
    auto ring = Keyring::from_base64({kKey});
    ASSERT_TRUE(ring.ok());

    PushPull pp;
    pp.join = true;
    pp.nodes.push_back(PushNodeState{"clusterd-probe",
                                     ip_bytes("127.0.62.6"),
                                     kOurPort,
                                     encode_tags({{"role", "probe"}}),
                                     1,
                                     NodeState::Alive,
                                     {1, 5, 2, 2, 5, 4}});
    SerfPushPull sp;
    sp.ltime = 1;
    sp.status_ltimes["clusterd-probe"] = 1;
    sp.events.resize(4);
    pp.user_state = encode_serf(sp);
    auto frame = seal_stream(encode_push_pull(pp), true, &*ring, nonce());
    ASSERT_TRUE(frame.ok());

    int s = socket(AF_INET, SOCK_STREAM, 0);
    ASSERT_GE(s, 0);
    timeval tv{5, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    auto a = addr_of(ip.c_str(), serf_port());
    ASSERT_EQ(connect(s, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(send(s, frame->data(), frame->size(), 0), static_cast<ssize_t>(frame->size()));
    base::Bytes in;
    std::optional<std::size_t> len;
    auto deadline = Clock::now() + std::chrono::seconds(5);
    while (Clock::now() < deadline) {
        std::array<std::uint8_t, 4096> buf{};
        ssize_t n = recv(s, buf.data(), buf.size(), 0);
        if (n <= 0)
            break;
        in.insert(in.end(), buf.begin(), buf.begin() + n);
        auto l = stream_frame_length(in, kMaxStreamBytes);
        ASSERT_TRUE(l.ok()) << l.error().message;
        if (l->has_value()) {
            len = **l;
            break;
        }
    }
    close(s);
    ASSERT_TRUE(len.has_value()) << "no complete push-pull reply";
    auto plain = open_stream(base::ByteView(in).first(*len), &*ring, true);
    ASSERT_TRUE(plain.ok()) << plain.error().message;
    auto reply = decode_push_pull(*plain);
    ASSERT_TRUE(reply.ok()) << reply.error().message;
    ASSERT_FALSE(reply->nodes.empty());
    EXPECT_EQ(reply->nodes[0].name, "golden-p");
    auto tags = decode_tags(reply->nodes[0].meta);
    ASSERT_TRUE(tags.ok());
    EXPECT_EQ(tags->at("role"), "golden");
    auto serf_state = decode_serf(reply->user_state);
    ASSERT_TRUE(serf_state.ok()) << serf_state.error().message;
    EXPECT_TRUE(std::get<SerfPushPull>(*serf_state).status_ltimes.count("golden-p"));

    // serf merged our state: `serf members` lists our node with our tag (bounded wait)
    const bool listed = wait_until(
        [&] {
            const auto out =
                run({kSerf, "members", "-rpc-addr=" + agent().rpc_addr()}, std::chrono::seconds(5)).out;
            return out.find("clusterd-probe") != std::string::npos &&
                   out.find("role=probe") != std::string::npos;
        },
        std::chrono::seconds(5), std::chrono::milliseconds(200));
    EXPECT_TRUE(listed) << "serf did not accept the encoded push-pull";
}

// clusterd bound to exactly its advertised address leaves SourceAddr/SourcePort out of pings
// and indirect pings (swim::Config::ping_source_implied): serf answers both to the packet's
// source. The indirect request names our own socket as the target, so the ping serf relays
// comes to us; we ack it, and serf forwards that ack to us under our sequence number.
TEST_F(SerfAgentTest, PingsWithoutSourceAddressAreAnsweredToThePacketSource) {
    const std::string ip = "127.0.62.7";
    ASSERT_TRUE(start_agent(ip, "golden-s", {})) << "serf agent did not start";
    open_udp("127.0.62.8");
    Ping direct{301, "golden-s", {}, 0, "clusterd-probe"};
    auto plain = seal_packet(encode(direct), SealOptions{false, false, 1}, nullptr, {});
    ASSERT_TRUE(plain.ok());
    send_udp(ip, *plain);
    EXPECT_TRUE(wait_ack(301, nullptr, std::chrono::seconds(3))) << "ping without SourceAddr not acked";

    IndirectPing ind;
    ind.seq_no = 302;
    ind.target = ip_bytes("127.0.62.8");
    ind.port = our_port_;
    ind.node = "clusterd-probe";
    ind.nack = true;
    ind.source_node = "clusterd-probe";
    auto req = seal_packet(encode(ind), SealOptions{false, false, 1}, nullptr, {});
    ASSERT_TRUE(req.ok());
    send_udp(ip, *req);
    bool relayed_ping = false, forwarded_ack = false;
    auto deadline = Clock::now() + std::chrono::seconds(3);
    std::array<std::uint8_t, 65536> buf{};
    while (Clock::now() < deadline && !forwarded_ack) {
        pollfd p{udp_, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0)
            continue;
        ssize_t n = recv(udp_, buf.data(), buf.size(), 0);
        if (n <= 0)
            continue;
        auto msgs = open_packet(base::ByteView(buf.data(), static_cast<std::size_t>(n)), nullptr, false);
        if (!msgs.ok())
            continue;
        for (const auto& m : *msgs) {
            auto d = decode(m);
            if (!d.ok())
                continue;
            if (auto* ping = std::get_if<Ping>(&*d); ping && ping->node == "clusterd-probe") {
                relayed_ping = true;
                auto ack =
                    seal_packet(encode(Ack{ping->seq_no, {}}), SealOptions{false, false, 1}, nullptr, {});
                ASSERT_TRUE(ack.ok());
                send_udp(ip, *ack);
            } else if (auto* ack = std::get_if<Ack>(&*d); ack && ack->seq_no == 302) {
                forwarded_ack = true;
            }
        }
    }
    EXPECT_TRUE(relayed_ping) << "serf did not relay the indirect ping to its target";
    EXPECT_TRUE(forwarded_ack) << "serf did not forward the target's ack to the packet source";
}
