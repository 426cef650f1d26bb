// The etcd adapter against a real single-member etcd (/usr/bin/etcd on a loopback port, started
// and stopped by PID): schema key, register (created kept, conflict not overwritten, lease
// attached and kept alive, re-granted when revoked), list with a corrupt key, conditional delete,
// prune of rows written without a lease, a foreign schema version, endpoint failover (a closed
// port, a server that never answers), and the error after every endpoint failed.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <poll.h>

#include <asio/io_context.hpp>
#include <atomic>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <optional>
#include <thread>

#include "clusterd/store/etcd_codec.hpp"
#include "clusterd/store/store.hpp"
#include "interop/etcd_cluster.hpp"
#include "support/asio_pump.hpp"

namespace clusterd::store {
namespace {

using namespace std::chrono_literals;
using discovery::Row;
using discovery::StoreResult;
using testing::EtcdCluster;

std::int64_t wall_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}
base::Instant now_wall() {
    return discovery::from_ms(wall_ms());
}

Row row_of(const std::string& name, const std::string& addr, base::Instant seen, base::Duration ttl = 3600s) {
    return Row{name, addr, 2, 5, seen, seen, seen + ttl};
}

template <typename Call> StoreResult run(asio::io_context& io, Call call) {
    std::optional<StoreResult> out;
    call([&](StoreResult r) { out = std::move(r); });
    io.restart();
    clusterd::testing::pump_until(
        io, [&] { return out.has_value(); }, 30s);
    EXPECT_TRUE(out.has_value()) << "store did not answer within 30 s";
    return out ? std::move(*out) : StoreResult{};
}

std::unique_ptr<discovery::Store> open(asio::io_context& io, const std::string& url) {
    auto u = parse_datastore_url(url);
    EXPECT_TRUE(u) << (u ? "" : u.error().message);
    auto s = open_store(io, *u);
    EXPECT_TRUE(s) << (s ? "" : s.error().message);
    return std::move(*s);
}

/// A TCP port nobody listens on, and one that accepts connections but never answers.
std::uint16_t closed_port() {
    return testing::free_port();
}
struct SilentServer {
    int fd = -1;
    std::uint16_t port = 0;
    SilentServer() {
        fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        ::listen(fd, 16); // the kernel completes handshakes; nobody reads
        socklen_t len = sizeof sa;
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&sa), &len);
        port = ntohs(sa.sin_port);
    }
    ~SilentServer() { ::close(fd); }
};

/// A scripted HTTP server on a loopback port (its own thread, one connection at a time): each
/// request gets the bytes `reply(path, body)` returns; `close_after` closes the connection
/// after sending them (an empty answer closes without sending anything).
class ScriptedServer {
  public:
    struct Answer {
        std::string bytes;
        bool close_after = false;
    };
    using Reply = std::function<Answer(const std::string& path, const std::string& body)>;

    explicit ScriptedServer(Reply reply) : reply_(std::move(reply)) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        ::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
        ::listen(fd_, 16);
        socklen_t len = sizeof sa;
        ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len);
        port_ = ntohs(sa.sin_port);
        thread_ = std::thread([this] { loop(); });
    }
    ~ScriptedServer() {
        stop_ = true;
        thread_.join();
        ::close(fd_);
    }
    std::uint16_t port() const { return port_; }
    int connections() const { return connections_; }
    int requests() const { return requests_; }

  private:
    bool readable(int fd) {
        pollfd p{fd, POLLIN, 0};
        return ::poll(&p, 1, 50) > 0;
    }
    void loop() {
        while (!stop_) {
            if (!readable(fd_))
                continue;
            const int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
            if (c < 0)
                continue;
            ++connections_;
            serve(c);
            ::close(c);
        }
    }
    void serve(int c) {
        std::string buf;
        char tmp[4096];
        while (!stop_) {
            if (!readable(c))
                continue;
            const ssize_t n = ::read(c, tmp, sizeof tmp);
            if (n <= 0)
                return;
            buf.append(tmp, static_cast<std::size_t>(n));
            for (;;) {
                const auto head_end = buf.find("\r\n\r\n");
                if (head_end == std::string::npos)
                    break;
                const auto cl = buf.find("Content-Length: ");
                const std::size_t len = cl < head_end ? std::stoul(buf.substr(cl + 16)) : 0;
                if (buf.size() < head_end + 4 + len)
                    break;
                const std::string path = buf.substr(5, buf.find(' ', 5) - 5);
                const std::string body = buf.substr(head_end + 4, len);
                buf.erase(0, head_end + 4 + len);
                ++requests_;
                const Answer a = reply_(path, body);
                for (std::size_t off = 0; off < a.bytes.size();) {
                    const ssize_t w = ::write(c, a.bytes.data() + off, a.bytes.size() - off);
                    if (w <= 0)
                        return;
                    off += static_cast<std::size_t>(w);
                }
                if (a.close_after || a.bytes.empty())
                    return;
            }
        }
    }

    Reply reply_;
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<int> connections_{0};
    std::atomic<int> requests_{0};
    std::thread thread_;
};

std::string http_json(int status, const std::string& body) {
    return "HTTP/1.1 " + std::to_string(status) + (status == 200 ? " OK" : " Error") +
           "\r\nContent-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) +
           "\r\n\r\n" + body;
}

/// What a healthy, empty etcd answers to the calls `list` makes.
ScriptedServer::Answer empty_etcd(const std::string& path, const std::string&) {
    if (path == "/v3/kv/txn")
        return {http_json(200, R"({"header":{},"succeeded":true})")};
    return {http_json(200, R"({"header":{},"count":"0"})")};
}

std::unique_ptr<discovery::Store> open_fake(asio::io_context& io, const std::vector<std::uint16_t>& ports,
                                            std::chrono::milliseconds deadline = 1000ms) {
    std::string url = "etcd://";
    for (std::size_t i = 0; i < ports.size(); ++i)
        url += (i ? ",127.0.0.1:" : "127.0.0.1:") + std::to_string(ports[i]);
    auto u = etcd::parse_url(url + "/fake");
    EXPECT_TRUE(u);
    return make_etcd_store(io, *u, url + "/fake", deadline);
}

class EtcdStore : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (!EtcdCluster::available())
            return;
        etcd_ = new EtcdCluster(1);
        started_ = etcd_->start(60s);
    }
    static void TearDownTestSuite() {
        delete etcd_;
        etcd_ = nullptr;
    }
    void SetUp() override {
        ASSERT_TRUE(EtcdCluster::available())
            << "etcd is not installed (scripts/setup.sh installs etcd-server)";
        ASSERT_TRUE(started_) << etcd_->log(0);
    }
    std::string url(const std::string& prefix) const { return etcd_->url(prefix); }
    static EtcdCluster* etcd_;
    static bool started_;
};
EtcdCluster* EtcdStore::etcd_ = nullptr;
bool EtcdStore::started_ = false;

TEST_F(EtcdStore, RegisterKeepsCreatedRefusesAConflictAndAttachesALease) {
    asio::io_context io;
    auto store = open(io, url("/reg"));
    EXPECT_EQ(store->describe(), url("/reg"));
    const auto t = now_wall();
    auto r = run(io, [&](auto d) { store->register_row(row_of("a", "10.0.0.1:7946", t, 60s), t, d); });
    ASSERT_TRUE(r.status) << r.status.error().message;
    EXPECT_FALSE(r.conflict);
    EXPECT_EQ(etcd_->ctl({"get", "--print-value-only", "/reg/schema_version"}).out, "1\n");

    // A refresh later: created stays, last_seen and expiry move.
    const auto t2 = t + 5s;
    Row later = row_of("a", "10.0.0.1:7946", t2, 60s);
    r = run(io, [&](auto d) { store->register_row(later, t2, d); });
    ASSERT_TRUE(r.status) << r.status.error().message;
    r = run(io, [&](auto d) { store->list(d); });
    ASSERT_TRUE(r.status) << r.status.error().message;
    ASSERT_EQ(r.rows.size(), 1u);
    auto parsed = discovery::parse_row(r.rows[0]);
    ASSERT_TRUE(parsed) << parsed.error().message;
    EXPECT_EQ(discovery::to_ms(parsed->created), discovery::to_ms(t));
    EXPECT_EQ(discovery::to_ms(parsed->last_seen), discovery::to_ms(t2));
    EXPECT_EQ(discovery::to_ms(parsed->expires), discovery::to_ms(t2 + 60s));

    // The key carries a lease of ttl_on_failure seconds.
    auto js = nlohmann::json::parse(etcd_->ctl({"get", "/reg/nodes/a", "-w", "json"}).out);
    const auto lease = js["kvs"][0]["lease"].get<std::int64_t>();
    ASSERT_NE(lease, 0);
    char hex[32];
    std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(lease));
    auto ttl = etcd_->ctl({"lease", "timetolive", hex});
    EXPECT_NE(ttl.out.find("granted with TTL(60s)"), std::string::npos) << ttl.out;
    EXPECT_EQ(ttl.out.find("remaining(-1s)"), std::string::npos) << ttl.out;

    // Same name, another address, row live: a conflict, nothing overwritten.
    asio::io_context io2;
    auto other = open(io2, url("/reg"));
    r = run(io2, [&](auto d) { other->register_row(row_of("a", "10.0.0.2:7946", t2, 60s), t2, d); });
    ASSERT_TRUE(r.status) << r.status.error().message;
    EXPECT_TRUE(r.conflict);
    EXPECT_EQ(r.conflict_address, "10.0.0.1:7946");
    EXPECT_NE(etcd_->ctl({"get", "--print-value-only", "/reg/nodes/a"}).out.find("10.0.0.1:7946"),
              std::string::npos);
    // Once that row has expired (as the registry sees time), the name can be taken.
    const auto t3 = t2 + 61s;
    r = run(io2, [&](auto d) { other->register_row(row_of("a", "10.0.0.2:7946", t3, 60s), t3, d); });
    ASSERT_TRUE(r.status) << r.status.error().message;
    EXPECT_FALSE(r.conflict);
    EXPECT_NE(etcd_->ctl({"get", "--print-value-only", "/reg/nodes/a"}).out.find("10.0.0.2:7946"),
              std::string::npos);

    // The lease revoked behind the adapter's back (the key goes with it): the next refresh
    // grants a new one and writes the row again.
    etcd_->ctl({"lease", "revoke", hex});
    js = nlohmann::json::parse(etcd_->ctl({"get", "/reg/nodes/a", "-w", "json"}).out);
    ASSERT_TRUE(js["kvs"].is_array());
    const auto lease2 = js["kvs"][0]["lease"].get<std::int64_t>();
    std::snprintf(hex, sizeof hex, "%llx", static_cast<unsigned long long>(lease2));
    etcd_->ctl({"lease", "revoke", hex});
    EXPECT_EQ(etcd_->ctl({"get", "--print-value-only", "/reg/nodes/a"}).out, "");
    const auto t4 = t3 + 5s;
    r = run(io2, [&](auto d) { other->register_row(row_of("a", "10.0.0.2:7946", t4, 60s), t4, d); });
    ASSERT_TRUE(r.status) << r.status.error().message;
    js = nlohmann::json::parse(etcd_->ctl({"get", "/reg/nodes/a", "-w", "json"}).out);
    ASSERT_TRUE(js["kvs"].is_array());
    EXPECT_NE(js["kvs"][0]["lease"].get<std::int64_t>(), lease2);
}

TEST_F(EtcdStore, ListPassesACorruptKeyUpDeleteMatchesTheAddressPruneTakesExpiredRows) {
    asio::io_context io;
    auto store = open(io, url("/lst"));
    const auto t = now_wall();
    ASSERT_TRUE(run(io, [&](auto d) { store->register_row(row_of("a", "10.0.0.1:7946", t), t, d); }).status);
    ASSERT_TRUE(run(io, [&](auto d) { store->register_row(row_of("b", "10.0.0.2:7946", t), t, d); }).status);
    etcd_->ctl({"put", "/lst/nodes/junk", "this is not a row"});
    // Rows written without a lease (by hand, or by another tool): one expired, one live.
    const std::int64_t now = wall_ms();
    Row old = row_of("old", "10.0.0.9:7946", discovery::from_ms(now - 70000), 60s);
    Row live = row_of("live", "10.0.0.8:7946", discovery::from_ms(now), 60s);
    etcd_->ctl({"put", "/lst/nodes/old", etcd::encode_row(old)});
    etcd_->ctl({"put", "/lst/nodes/live", etcd::encode_row(live)});
    etcd_->ctl({"put", "/lst/elsewhere", "x"});

    auto r = run(io, [&](auto d) { store->list(d); });
    ASSERT_TRUE(r.status) << r.status.error().message;
    ASSERT_EQ(r.rows.size(), 5u);
    int bad = 0;
    for (const auto& s : r.rows)
        if (!discovery::parse_row(s)) {
            ++bad;
            EXPECT_EQ(s.name, "junk");
        }
    EXPECT_EQ(bad, 1);

    r = run(io, [&](auto d) { store->prune(now_wall(), d); });
    ASSERT_TRUE(r.status) << r.status.error().message;
    auto keys = etcd_->get_prefix("/lst/nodes/");
    EXPECT_EQ(keys.count("/lst/nodes/old"), 0u);
    EXPECT_EQ(keys.count("/lst/nodes/live"), 1u);
    EXPECT_EQ(keys.count("/lst/nodes/junk"), 1u); // no expiry to go by: stays, as in SQL
    EXPECT_EQ(keys.size(), 4u);

    // Delete only with the matching address; "" deletes whatever is there.
    ASSERT_TRUE(run(io, [&](auto d) { store->remove("a", "10.0.0.7:7946", d); }).status);
    EXPECT_EQ(etcd_->get_prefix("/lst/nodes/a").size(), 1u);
    ASSERT_TRUE(run(io, [&](auto d) { store->remove("a", "10.0.0.1:7946", d); }).status);
    EXPECT_EQ(etcd_->get_prefix("/lst/nodes/a").size(), 0u);
    ASSERT_TRUE(run(io, [&](auto d) { store->remove("junk", "", d); }).status);
    ASSERT_TRUE(run(io, [&](auto d) { store->remove("nobody", "10.0.0.1:1", d); }).status);
    keys = etcd_->get_prefix("/lst/nodes/");
    EXPECT_EQ(keys.size(), 2u) << etcd_->ctl({"get", "--prefix", "/lst/"}).out;
    EXPECT_TRUE(keys.count("/lst/nodes/b") && keys.count("/lst/nodes/live"));
    EXPECT_EQ(etcd_->get_prefix("/lst/elsewhere").size(), 1u);
}

TEST_F(EtcdStore, AForeignSchemaVersionIsRefused) {
    etcd_->ctl({"put", "/v2/schema_version", "2"});
    asio::io_context io;
    auto store = open(io, url("/v2"));
    auto r = run(io, [&](auto d) { store->list(d); });
    ASSERT_FALSE(r.status);
    EXPECT_NE(r.status.error().message.find("schema version '2' is not the one this clusterd uses (1)"),
              std::string::npos)
        << r.status.error().message;
}

TEST_F(EtcdStore, FailsOverPastAClosedAndASilentEndpoint) {
    SilentServer silent;
    const std::uint16_t closed = closed_port();
    const std::string real = "127.0.0.1:" + std::to_string(etcd_->client_port(0));
    auto u = etcd::parse_url("etcd://127.0.0.1:" + std::to_string(closed) +
                             ",127.0.0.1:" + std::to_string(silent.port) + "," + real + "/fo");
    ASSERT_TRUE(u) << u.error().message;
    asio::io_context io;
    auto store = make_etcd_store(io, *u, "etcd://…/fo", 500ms);
    const auto t0 = std::chrono::steady_clock::now();
    const auto t = now_wall();
    auto r = run(io, [&](auto d) { store->register_row(row_of("a", "10.0.0.1:7946", t), t, d); });
    ASSERT_TRUE(r.status) << r.status.error().message;
    const auto first = std::chrono::steady_clock::now() - t0;
    EXPECT_LT(first, 5s);
    // The endpoint that answered is remembered: the next calls go straight to it.
    const auto t1 = std::chrono::steady_clock::now();
    for (int i = 0; i < 5; ++i)
        ASSERT_TRUE(run(io, [&](auto d) { store->list(d); }).status);
    // (Going back to the silent endpoint would cost its 500 ms deadline each time: 2.5 s.)
    EXPECT_LT(std::chrono::steady_clock::now() - t1, 2s);
}

TEST(EtcdStoreDown, TheErrorNamesEveryEndpointTried) {
    SilentServer silent;
    const std::uint16_t closed = closed_port();
    auto u = etcd::parse_url("etcd://127.0.0.1:" + std::to_string(closed) +
                             ",127.0.0.1:" + std::to_string(silent.port) + "/down");
    ASSERT_TRUE(u);
    asio::io_context io;
    auto store = make_etcd_store(io, *u, "etcd://…/down", 300ms);
    const auto t0 = std::chrono::steady_clock::now();
    auto r = run(io, [&](auto d) { store->list(d); });
    ASSERT_FALSE(r.status);
    const std::string& m = r.status.error().message;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
    EXPECT_NE(m.find("etcd listing nodes: no endpoint answered"), std::string::npos) << m;
    EXPECT_NE(m.find("127.0.0.1:" + std::to_string(closed) + ": connect:"), std::string::npos) << m;
    EXPECT_NE(m.find("127.0.0.1:" + std::to_string(silent.port) + ": no answer within 300 ms"),
              std::string::npos)
        << m;
}

TEST(EtcdStoreHttp, AKeptAliveConnectionCarriesEveryRequest) {
    ScriptedServer srv(empty_etcd);
    asio::io_context io;
    auto store = open_fake(io, {srv.port()});
    for (int i = 0; i < 5; ++i) {
        auto r = run(io, [&](auto d) { store->list(d); });
        ASSERT_TRUE(r.status) << r.status.error().message;
        EXPECT_TRUE(r.rows.empty());
    }
    EXPECT_EQ(srv.requests(), 6); // the schema check once, then five ranges
    EXPECT_EQ(srv.connections(), 1);
}

TEST(EtcdStoreHttp, AConnectionClosedBetweenRequestsIsOpenedAgain) {
    // Every answer says keep-alive, then the server closes: the next request finds the kept
    // connection dead before any byte and goes once more on a new one (no endpoint failure).
    ScriptedServer srv([](const std::string& p, const std::string& b) {
        auto a = empty_etcd(p, b);
        a.close_after = true;
        return a;
    });
    asio::io_context io;
    auto store = open_fake(io, {srv.port()});
    for (int i = 0; i < 3; ++i) {
        auto r = run(io, [&](auto d) { store->list(d); });
        ASSERT_TRUE(r.status) << r.status.error().message;
    }
    EXPECT_EQ(srv.requests(), 4);
    EXPECT_EQ(srv.connections(), 4);
}

TEST(EtcdStoreHttp, FiveHundredsBrokenAndOversizedAnswersMoveToTheNextEndpoint) {
    ScriptedServer no_leader([](const std::string&, const std::string&) {
        return ScriptedServer::Answer{http_json(503, R"({"error":"etcdserver: no leader","code":14})")};
    });
    ScriptedServer broken([](const std::string&, const std::string&) {
        return ScriptedServer::Answer{"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"kvs\"", true};
    });
    ScriptedServer huge([](const std::string&, const std::string&) {
        return ScriptedServer::Answer{"HTTP/1.1 200 OK\r\nContent-Length: 9000000\r\n\r\n{", true};
    });
    ScriptedServer good(empty_etcd);
    asio::io_context io;
    auto store = open_fake(io, {no_leader.port(), broken.port(), huge.port(), good.port()});
    auto r = run(io, [&](auto d) { store->list(d); });
    ASSERT_TRUE(r.status) << r.status.error().message;
    EXPECT_EQ(good.requests(), 2);
    EXPECT_EQ(no_leader.requests(), 1);

    // Without the good one: the error says what each endpoint did.
    auto bad = open_fake(io, {no_leader.port(), broken.port(), huge.port()});
    r = run(io, [&](auto d) { bad->list(d); });
    ASSERT_FALSE(r.status);
    const std::string& m = r.status.error().message;
    EXPECT_NE(m.find(":" + std::to_string(no_leader.port()) + ": etcd answered 503: etcdserver: no leader"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find(":" + std::to_string(broken.port()) + ": answer truncated"), std::string::npos) << m;
    EXPECT_NE(
        m.find(":" + std::to_string(huge.port()) + ": answer declares a body larger than 4194304 bytes"),
        std::string::npos)
        << m;
}

TEST(EtcdStoreHttp, AFourHundredIsEtcdsAnswerNotAFailover) {
    ScriptedServer refuses([](const std::string& p, const std::string& b) {
        if (p == "/v3/kv/range")
            return ScriptedServer::Answer{
                http_json(400, R"({"error":"etcdserver: permission denied","code":7})")};
        return empty_etcd(p, b);
    });
    ScriptedServer other(empty_etcd);
    asio::io_context io;
    auto store = open_fake(io, {refuses.port(), other.port()});
    auto r = run(io, [&](auto d) { store->list(d); });
    ASSERT_FALSE(r.status);
    EXPECT_EQ(r.status.error().message,
              "etcd listing nodes: etcd answered 400: etcdserver: permission denied");
    EXPECT_EQ(other.requests(), 0);
}

TEST(EtcdStoreUrl, OpensAndRefusesCredentials) {
    asio::io_context io;
    auto u = parse_datastore_url("etcd://127.0.0.1:2379,127.0.0.2:2379/clusterd");
    ASSERT_TRUE(u);
    EXPECT_EQ(u->kind, DatastoreUrl::Kind::Etcd);
    auto s = open_store(io, *u);
    ASSERT_TRUE(s) << s.error().message;
    EXPECT_EQ((*s)->describe(), "etcd://127.0.0.1:2379,127.0.0.2:2379/clusterd");
    auto pw = open_store(io, *u, "secret-pw");
    ASSERT_FALSE(pw);
    EXPECT_EQ(pw.error().message.find("secret-pw"), std::string::npos);
    auto cred = parse_datastore_url("etcd://root:hunter2@127.0.0.1:2379/clusterd");
    ASSERT_FALSE(cred);
    EXPECT_EQ(cred.error().message.find("hunter2"), std::string::npos) << cred.error().message;
    EXPECT_FALSE(parse_datastore_url("etcd://127.0.0.1:2379"));
}

} // namespace
} // namespace clusterd::store
