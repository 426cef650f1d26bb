// http::Server on loopback: the io_context runs on its own thread, clients are blocking sockets
// with deadlines (tests/support/http_client.hpp). Covers the token rule, 401, the connection
// cap and idle eviction, the request timeout over a real socket, and an event-stream client
// that stops reading: dropped at the backlog cap while other clients are still served.
#include "clusterd/http/server.hpp"

#include <gtest/gtest.h>
#include <sys/socket.h>

#include <asio/executor_work_guard.hpp>
#include <asio/post.hpp>
#include <asio/steady_timer.hpp>
#include <future>
#include <thread>

#include "support/http_client.hpp"

using namespace clusterd;
using namespace clusterd::testing;
using namespace std::chrono_literals;

namespace {

struct Fixture {
    asio::io_context io;
    asio::executor_work_guard<asio::io_context::executor_type> guard = asio::make_work_guard(io);
    std::unique_ptr<http::Server> server;
    std::thread thread;
    std::uint16_t port = 0;
    int stream_ends = 0;    ///< io thread only
    int chunks_written = 0; ///< io thread only

    explicit Fixture(http::ServerConfig cfg) {
        cfg.bind = cfg.bind.empty() ? "127.0.0.1:0" : cfg.bind;
        auto s = http::Server::start(io, cfg, [this](const http::Request& r) -> http::Response {
            if (r.path == "/stream") {
                http::Response resp;
                resp.content_type = "text/event-stream";
                resp.stream = [this](std::shared_ptr<http::StreamSink> sink) -> std::function<void()> {
                    produce(sink);
                    return [this] { ++stream_ends; };
                };
                return resp;
            }
            http::Response resp;
            resp.body = "hello " + r.path;
            return resp;
        });
        EXPECT_TRUE(s.ok()) << s.error().message;
        if (!s.ok())
            return;
        server = std::move(*s);
        port = server->local_endpoint().port();
        thread = std::thread([this] { io.run(); });
    }
    /// Runs f on the io thread and waits for its result.
    template <typename F> auto on_io(F f) {
        std::packaged_task<decltype(f())()> task(std::move(f));
        auto fut = task.get_future();
        if (!thread.joinable())
            task();
        else
            asio::post(io, [&task] { task(); });
        return fut.get();
    }
    /// Polls pred on the io thread until true (bounded: 10 s).
    template <typename F> bool wait_io(F pred) {
        for (int i = 0; i < 200; ++i) {
            if (on_io(pred))
                return true;
            std::this_thread::sleep_for(50ms);
        }
        return false;
    }
    ~Fixture() {
        on_io([this] {
            if (server)
                server->stop();
            return 0;
        });
        guard.reset();
        if (thread.joinable())
            thread.join();
    }
    /// 64 KiB every 2 ms until the sink refuses (at most 2000 chunks).
    void produce(std::shared_ptr<http::StreamSink> sink) {
        auto t = std::make_shared<asio::steady_timer>(io, 2ms);
        t->async_wait([this, sink, t](const asio::error_code&) {
            if (!sink->write("data: " + std::string(64 * 1024, 'x') + "\n\n") || ++chunks_written >= 2000)
                return;
            produce(sink);
        });
    }
};

} // namespace

TEST(HttpServer, RefusesNonLoopbackWithoutToken) {
    asio::io_context io;
    http::ServerConfig cfg;
    cfg.bind = "0.0.0.0:0";
    auto s = http::Server::start(io, cfg, [](const http::Request&) { return http::Response{}; });
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, "insecure_http");
    EXPECT_NE(s.error().message.find("http_token"), std::string::npos);
    cfg.token = "t";
    EXPECT_TRUE(http::Server::start(io, cfg, [](const http::Request&) { return http::Response{}; }).ok());
    cfg.bind = "not-an-ip:1";
    EXPECT_FALSE(http::Server::check_config(cfg).ok());
}

TEST(HttpServer, TokenRequiredWhenSet) {
    http::ServerConfig cfg;
    cfg.token = "s3cret";
    Fixture f(cfg);
    EXPECT_EQ(http_get(f.port, "/x").status, 401);
    EXPECT_EQ(http_get(f.port, "/x", {"Authorization: Bearer nope"}).status, 401);
    auto ok = http_get(f.port, "/x", {"Authorization: Bearer s3cret"});
    EXPECT_EQ(ok.status, 200);
    EXPECT_EQ(ok.body, "hello /x");
    EXPECT_EQ(f.on_io([&] { return f.server->counters().unauthorized; }), 2u);
}

TEST(HttpServer, KeepAliveServesSeveralRequestsOnOneConnection) {
    Fixture f({});
    const int fd =
        http_connect_send(f.port, "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n"
                                  "Connection: close\r\n\r\n");
    ASSERT_GE(fd, 0);
    auto got = http_read_until(fd, 5s, [](const std::string&) { return false; }); // until the server closes
    ::close(fd);
    EXPECT_NE(got.find("hello /a"), std::string::npos);
    EXPECT_NE(got.find("hello /b"), std::string::npos);
    EXPECT_NE(got.find("hello /c"), std::string::npos);
    EXPECT_LT(got.find("hello /a"), got.find("hello /c"));
}

TEST(HttpServer, SlowRequestGets408) {
    http::ServerConfig cfg;
    cfg.limits.request_timeout = 300ms;
    Fixture f(cfg);
    const int fd = http_connect_send(f.port, "GET /slow HTTP/1.1\r\nHost: x");
    ASSERT_GE(fd, 0);
    const auto t0 = std::chrono::steady_clock::now();
    auto got = http_read_until(fd, 5s, [](const std::string&) { return false; });
    ::close(fd);
    EXPECT_EQ(got.rfind("HTTP/1.1 408 ", 0), 0u) << got;
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s);
}

TEST(HttpServer, ConnectionCapRefusesBusyAndEvictsIdle) {
    http::ServerConfig cfg;
    cfg.max_connections = 2;
    Fixture f(cfg);
    // Two connections in the middle of a request: busy, never evicted.
    const int a = http_connect_send(f.port, "GET /a HTTP/1.1\r\n");
    const int b = http_connect_send(f.port, "GET /b HTTP/1.1\r\n");
    ASSERT_TRUE(a >= 0 && b >= 0);
    ASSERT_TRUE(f.wait_io([&] { return f.server->connections() == 2; }));
    auto refused = http_get(f.port, "/c", {}, 2s);
    EXPECT_EQ(refused.status, 0); // closed without an answer
    EXPECT_GE(f.on_io([&] { return f.server->counters().refused_over_cap; }), 1u);
    // Finish one: it turns into an idle keep-alive connection, which a newcomer may replace.
    const std::string end = "\r\n";
    ASSERT_EQ(::send(a, end.data(), end.size(), MSG_NOSIGNAL), 2);
    auto first =
        http_read_until(a, 5s, [](const std::string& s) { return s.find("hello /a") != std::string::npos; });
    EXPECT_NE(first.find("hello /a"), std::string::npos);
    EXPECT_EQ(http_get(f.port, "/d", {}, 2s).status, 200);
    EXPECT_EQ(f.on_io([&] { return f.server->counters().evicted_idle; }), 1u);
    ::close(a);
    ::close(b);
}

TEST(HttpServer, StreamClientThatStopsReadingIsDroppedOthersServed) {
    http::ServerConfig cfg;
    cfg.limits.max_stream_backlog = 256 * 1024;
    Fixture f(cfg);
    // A client with a tiny receive buffer that never reads.
    const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    int small = 4096;
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(f.port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    const std::string req = "GET /stream HTTP/1.1\r\n\r\n";
    ASSERT_EQ(::send(fd, req.data(), req.size(), MSG_NOSIGNAL), static_cast<ssize_t>(req.size()));
    // Meanwhile the loop keeps answering others, quickly.
    for (int i = 0; i < 5; ++i) {
        const auto t0 = std::chrono::steady_clock::now();
        EXPECT_EQ(http_get(f.port, "/other").status, 200);
        EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
    }
    EXPECT_TRUE(f.wait_io([&] { return f.server->counters().stream_dropped == 1; }));
    EXPECT_EQ(f.on_io([&] { return f.stream_ends; }), 1); // the producer was told
    EXPECT_LT(f.on_io([&] { return f.chunks_written; }), 2000);
    EXPECT_EQ(f.on_io([&] { return f.server->connections(); }), 0u);
    ::close(fd);
}
