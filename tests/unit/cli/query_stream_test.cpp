// The query CLIs (`query`, `reachability`) against an agent that streams records with an empty
// "From". A real serf agent does this: its IPC stream loop selects on the query's ack and response
// channels and on its own deadline timer; when the query closes its channels a moment before that
// timer fires, every read of a closed channel yields "" and is sent as an ack or response record
// from '' until the timer wins (seen in CI: serf's `reachability` then reports a duplicate from ''
// and "more acks than live nodes"). No member has an empty name, so such records are dropped.
//
// The agent here is scripted on a loopback socket in a thread: handshake, members, then the query
// with a real ack, two empty acks, a real response, an empty response and done.
#include "clusterd/cli/cli.hpp"
#include "clusterd/codec/msgpack/core.hpp"
#include "clusterd/rpc/protocol.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

namespace clusterd {
namespace {

class ScriptedAgent {
  public:
    ScriptedAgent() {
        fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        a.sin_port = 0;
        EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
        EXPECT_EQ(::listen(fd_, 4), 0);
        socklen_t len = sizeof a;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
        port_ = ntohs(a.sin_port);
        thread_ = std::thread([this] { serve(); });
    }
    ~ScriptedAgent() {
        thread_.join();
        ::close(fd_);
    }
    std::string addr() const { return "127.0.0.1:" + std::to_string(port_); }

  private:
    // Reads one msgpack object from the connection (bounded by a 10 s deadline).
    bool read_object(int c, base::Bytes& out) {
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
        while (std::chrono::steady_clock::now() < deadline) {
            if (!in_.empty()) {
                codec::msgpack::Reader r(in_, rpc::kDecodeLimits);
                auto e = r.measure();
                if (!e)
                    return false;
                if (e->complete) {
                    out.assign(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(e->size));
                    in_.erase(in_.begin(), in_.begin() + static_cast<std::ptrdiff_t>(e->size));
                    return true;
                }
            }
            pollfd p{c, POLLIN, 0};
            if (::poll(&p, 1, 100) <= 0)
                continue;
            std::uint8_t buf[4096];
            const ssize_t n = ::recv(c, buf, sizeof buf, 0);
            if (n <= 0)
                return false;
            in_.insert(in_.end(), buf, buf + n);
        }
        return false;
    }
    static void send_all(int c, const base::Bytes& b) {
        std::size_t off = 0;
        while (off < b.size()) {
            const ssize_t n = ::send(c, b.data() + off, b.size() - off, MSG_NOSIGNAL);
            if (n <= 0)
                return;
            off += static_cast<std::size_t>(n);
        }
    }
    void serve() {
        pollfd p{fd_, POLLIN, 0};
        if (::poll(&p, 1, 10000) <= 0)
            return;
        const int c = ::accept(fd_, nullptr, nullptr);
        if (c < 0)
            return;
        for (int i = 0; i < 8; ++i) {
            base::Bytes hb;
            if (!read_object(c, hb))
                break;
            rpc::RequestHeader h;
            if (!rpc::decode(base::ByteView(hb), h).ok())
                break;
            base::Bytes out;
            rpc::encode(out, rpc::ResponseHeader{h.seq, ""});
            if (h.command == rpc::cmd::kHandshake) {
                base::Bytes body;
                read_object(c, body);
            } else if (h.command == rpc::cmd::kMembers) {
                rpc::MembersResponse mr;
                rpc::Member m;
                m.name = "node-a";
                m.addr = {127, 0, 0, 1};
                m.port = 7946;
                m.status = "alive";
                mr.members.push_back(m);
                rpc::encode(out, mr);
            } else if (h.command == rpc::cmd::kQuery) {
                base::Bytes body;
                read_object(c, body);
                auto rec = [&](std::string_view type, std::string from, std::string payload) {
                    rpc::encode(out, rpc::ResponseHeader{h.seq, ""});
                    rpc::encode(out, rpc::QueryRecord{std::string(type), std::move(from),
                                                      base::Bytes(payload.begin(), payload.end())});
                };
                rec(rpc::rec::kAck, "node-a", "");
                rec(rpc::rec::kResponse, "node-a", "pong");
                rec(rpc::rec::kAck, "", "");
                rec(rpc::rec::kAck, "", "");
                rec(rpc::rec::kResponse, "", "");
                rec(rpc::rec::kDone, "", "");
            }
            send_all(c, out);
        }
        ::close(c);
    }

    int fd_ = -1;
    std::uint16_t port_ = 0;
    base::Bytes in_;
    std::thread thread_;
};

int run_cli(std::vector<std::string> args, std::string& out) {
    std::vector<char*> argv;
    for (auto& a : args)
        argv.push_back(a.data());
    testing::internal::CaptureStdout();
    const int rc = cli::run(static_cast<int>(argv.size()), argv.data());
    out = testing::internal::GetCapturedStdout();
    return rc;
}

TEST(CliQueryStream, ReachabilityIgnoresRecordsWithoutASender) {
    ScriptedAgent agent;
    std::string out;
    const int rc = run_cli({"clusterd", "reachability", "-rpc-addr=" + agent.addr()}, out);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_EQ(out, "Total members: 1, live members: 1\nStarting reachability test...\n"
                   "Successfully contacted all live nodes\n");
}

TEST(CliQueryStream, QueryIgnoresRecordsWithoutASender) {
    ScriptedAgent agent;
    std::string out;
    const int rc = run_cli({"clusterd", "query", "-rpc-addr=" + agent.addr(), "ping"}, out);
    EXPECT_EQ(rc, 0) << out;
    EXPECT_NE(out.find("Ack from 'node-a'\n"), std::string::npos) << out;
    EXPECT_NE(out.find("Response from 'node-a': pong\n"), std::string::npos) << out;
    EXPECT_EQ(out.find("from ''"), std::string::npos) << out;
    EXPECT_NE(out.find("Total Acks: 1\nTotal Responses: 1\n"), std::string::npos) << out;
}

} // namespace
} // namespace clusterd
