// http::Session, byte by byte: every request fed in one piece and one byte at a time must give
// the same answers; every error path answers once and closes.
#include "clusterd/http/session.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

using namespace clusterd;
using namespace clusterd::http;
using namespace std::chrono_literals;

namespace {

base::Instant at(base::Duration d) {
    return base::Instant{d};
}

/// Feeds `bytes` (in pieces of `step`, 0 = at once), answers every request with its path as the
/// body and returns everything the session wrote.
struct Run {
    std::vector<Request> requests;
    std::string out;
    Session::State state{};
};

Run run(const std::string& bytes, std::size_t step = 0, Limits limits = {}) {
    Session s(limits, at(0s));
    Run r;
    auto drain = [&] {
        while (auto req = s.take_request()) {
            Response resp;
            resp.body = req->path;
            s.respond(resp, at(0s));
            r.requests.push_back(*req);
        }
        r.out += std::string(s.output());
        s.consume(s.output().size());
    };
    if (step == 0) {
        s.feed(bytes, at(0s));
        drain();
    } else {
        for (std::size_t i = 0; i < bytes.size(); i += step) {
            s.feed(std::string_view(bytes).substr(i, step), at(0s));
            drain();
        }
    }
    r.state = s.state();
    return r;
}

int count(const std::string& hay, const std::string& needle) {
    int n = 0;
    for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1))
        ++n;
    return n;
}

} // namespace

TEST(HttpSession, SimpleGetKeepsAlive) {
    auto r = run("GET /v1/health HTTP/1.1\r\nHost: x\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 1u);
    EXPECT_EQ(r.requests[0].method, "GET");
    EXPECT_EQ(r.requests[0].path, "/v1/health");
    EXPECT_EQ(*r.requests[0].header("host"), "x");
    EXPECT_EQ(r.out.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << r.out;
    EXPECT_NE(r.out.find("Content-Length: 10\r\n"), std::string::npos);
    EXPECT_NE(r.out.find("Connection: keep-alive\r\n"), std::string::npos);
    EXPECT_EQ(r.out.substr(r.out.size() - 10), "/v1/health");
    EXPECT_EQ(r.state, Session::State::Reading);
}

TEST(HttpSession, PipelinedRequestsAnsweredInOrderWholeAndByteByByte) {
    const std::string bytes = "GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
                              "GET /bb?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"
                              "POST /ccc HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello"
                              "GET /d HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n";
    for (std::size_t step : {std::size_t{0}, std::size_t{1}, std::size_t{2}, std::size_t{7}}) {
        auto r = run(bytes, step);
        ASSERT_EQ(r.requests.size(), 4u) << "step " << step;
        EXPECT_EQ(r.requests[0].path, "/a");
        EXPECT_EQ(r.requests[1].path, "/bb");
        EXPECT_EQ(r.requests[1].query, "x=1");
        EXPECT_EQ(r.requests[2].method, "POST");
        EXPECT_EQ(r.requests[2].body, "hello");
        EXPECT_EQ(r.requests[3].body, "abc");
        EXPECT_EQ(count(r.out, "HTTP/1.1 200 OK"), 4);
        // in order: /a before /bb before /ccc before /d
        const auto a = r.out.find("\r\n\r\n/a"), b = r.out.find("\r\n\r\n/bb"),
                   c = r.out.find("\r\n\r\n/ccc"), d = r.out.find("\r\n\r\n/d");
        EXPECT_TRUE(a < b && b < c && c < d) << r.out;
    }
}

TEST(HttpSession, OneRequestAtATimeUntilAnswered) {
    Session s({}, at(0s));
    s.feed("GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n", at(0s));
    auto first = s.take_request();
    ASSERT_TRUE(first);
    EXPECT_FALSE(s.take_request()); // the second waits for the first answer
    EXPECT_EQ(s.state(), Session::State::Answering);
    s.respond(Response{}, at(0s));
    auto second = s.take_request();
    ASSERT_TRUE(second);
    EXPECT_EQ(second->path, "/2");
}

TEST(HttpSession, ConnectionCloseAndHttp10) {
    auto r = run("GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET /never HTTP/1.1\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 1u);
    EXPECT_NE(r.out.find("Connection: close\r\n"), std::string::npos);
    EXPECT_EQ(r.state, Session::State::Closing);

    auto r10 = run("GET / HTTP/1.0\r\n\r\n");
    ASSERT_EQ(r10.requests.size(), 1u);
    EXPECT_EQ(r10.state, Session::State::Closing);
    auto r10k = run("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    EXPECT_EQ(r10k.state, Session::State::Reading);
}

TEST(HttpSession, DoneOnceTheCloseIsWritten) {
    Session s({}, at(0s));
    s.feed("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", at(0s));
    ASSERT_TRUE(s.take_request());
    s.respond(Response{}, at(0s));
    EXPECT_FALSE(s.done()); // the answer is not written yet
    s.consume(s.output().size());
    EXPECT_TRUE(s.done());
}

TEST(HttpSession, HeadGetsHeadersOnly) {
    Session s({}, at(0s));
    s.feed("HEAD /x HTTP/1.1\r\n\r\n", at(0s));
    ASSERT_TRUE(s.take_request());
    Response resp;
    resp.body = "0123456789";
    s.respond(resp, at(0s));
    const std::string out(s.output());
    EXPECT_NE(out.find("Content-Length: 10\r\n"), std::string::npos);
    EXPECT_EQ(out.substr(out.size() - 4), "\r\n\r\n") << out;
}

TEST(HttpSession, BadRequestLine) {
    for (const std::string bad :
         {"GET\r\n\r\n", "BREW /pot HTTP/1.1\r\n\r\n", "GET / HTTP/1.1 junk\r\n\r\n", "\x01\x02\x03\r\n\r\n",
          "GET http://evil.example/ HTTP/1.1\r\n\r\n", "GET / HTTP/1.1\r\nBad Header\r\n\r\n",
          "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"}) {
        for (std::size_t step : {std::size_t{0}, std::size_t{1}}) {
            auto r = run(bad, step);
            EXPECT_TRUE(r.requests.empty()) << bad;
            EXPECT_EQ(r.out.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << bad << " -> " << r.out;
            EXPECT_NE(r.out.find("Connection: close\r\n"), std::string::npos);
            EXPECT_EQ(count(r.out, "HTTP/1.1 "), 1) << "exactly one answer";
            EXPECT_EQ(r.state, Session::State::Closing);
        }
    }
}

TEST(HttpSession, WrongVersion505) {
    auto v = run("GET / HTTP/2.0\r\n\r\n");
    EXPECT_EQ(v.out.rfind("HTTP/1.1 505 ", 0), 0u) << v.out;
}

TEST(HttpSession, OversizedHeadersAre431AtTheExactByte) {
    Limits l;
    l.max_header_bytes = 100;
    const std::string head = "GET / HTTP/1.1\r\nX: ";
    const std::string end = "\r\n\r\n";
    // exactly 100 bytes of header block: accepted
    const std::string ok = head + std::string(100 - head.size() - end.size(), 'a') + end;
    ASSERT_EQ(ok.size(), 100u);
    for (std::size_t step : {std::size_t{0}, std::size_t{1}}) {
        EXPECT_EQ(run(ok, step, l).requests.size(), 1u);
        const std::string big = head + std::string(101 - head.size() - end.size(), 'a') + end;
        auto r = run(big, step, l);
        EXPECT_TRUE(r.requests.empty());
        EXPECT_EQ(r.out.rfind("HTTP/1.1 431 ", 0), 0u) << r.out;
        // a header block that never ends: refused as soon as it passes the cap
        auto r2 = run(head + std::string(5000, 'a'), step, l);
        EXPECT_EQ(r2.out.rfind("HTTP/1.1 431 ", 0), 0u);
        EXPECT_EQ(r2.state, Session::State::Closing);
    }
}

TEST(HttpSession, OversizedBodyIs413) {
    Limits l;
    l.max_request_bytes = 200;
    // declared too large: refused before the body arrives
    auto r = run("POST / HTTP/1.1\r\nContent-Length: 100000\r\n\r\n", 0, l);
    EXPECT_EQ(r.out.rfind("HTTP/1.1 413 ", 0), 0u) << r.out;
    // chunked, growing past the cap
    std::string chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
    for (int i = 0; i < 20; ++i)
        chunked += "10\r\n0123456789abcdef\r\n";
    for (std::size_t step : {std::size_t{0}, std::size_t{3}}) {
        auto c = run(chunked, step, l);
        EXPECT_TRUE(c.requests.empty());
        EXPECT_EQ(c.out.rfind("HTTP/1.1 413 ", 0), 0u) << c.out;
    }
    // headers + body within the cap: served
    auto fits = run("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789", 0, l);
    EXPECT_EQ(fits.requests.size(), 1u);
}

TEST(HttpSession, RequestTimeoutAnswers408) {
    Limits l;
    l.request_timeout = 5s;
    Session s(l, at(0s));
    s.feed("GET / HTTP/1.1\r\nHost:", at(1s));
    ASSERT_TRUE(s.next_deadline());
    EXPECT_EQ(*s.next_deadline(), at(6s));
    s.tick(at(5s));
    EXPECT_TRUE(s.output().empty());
    s.feed(" x\r\n", at(5500ms)); // trickling bytes do not extend the deadline
    s.tick(at(6s));
    EXPECT_EQ(std::string(s.output()).rfind("HTTP/1.1 408 ", 0), 0u);
    EXPECT_EQ(s.state(), Session::State::Closing);
    EXPECT_EQ(s.counters().timed_out, 1u);
}

TEST(HttpSession, IdleKeepAliveConnectionCloses) {
    Limits l;
    l.idle_timeout = 30s;
    Session s(l, at(0s));
    EXPECT_EQ(*s.next_deadline(), at(30s));
    s.feed("GET / HTTP/1.1\r\n\r\n", at(10s));
    ASSERT_TRUE(s.take_request());
    EXPECT_FALSE(s.next_deadline()); // answering: no timeout of the session's
    s.respond(Response{}, at(12s));
    s.consume(s.output().size());
    EXPECT_EQ(*s.next_deadline(), at(42s));
    s.tick(at(41s));
    EXPECT_EQ(s.state(), Session::State::Reading);
    s.tick(at(42s));
    EXPECT_EQ(s.state(), Session::State::Closed);
    EXPECT_TRUE(s.done());
    EXPECT_TRUE(s.output().empty()); // closed without an answer
}

TEST(HttpSession, StreamIsBoundedAndDropsASlowReader) {
    Limits l;
    l.max_stream_backlog = 100;
    Session s(l, at(0s));
    s.feed("GET /v1/events HTTP/1.1\r\n\r\n", at(0s));
    ASSERT_TRUE(s.take_request());
    Response r;
    r.content_type = "text/event-stream";
    s.start_stream(r, at(0s));
    EXPECT_EQ(s.state(), Session::State::Streaming);
    const std::string head(s.output());
    EXPECT_EQ(head.find("Content-Length"), std::string::npos);
    EXPECT_NE(head.find("Connection: close\r\n"), std::string::npos);
    s.consume(head.size());
    EXPECT_TRUE(s.stream_write(std::string(60, 'a')));
    s.feed("GET /ignored HTTP/1.1\r\n\r\n", at(0s)); // input while streaming is dropped
    EXPECT_FALSE(s.take_request());
    s.consume(60); // the reader keeps up
    EXPECT_TRUE(s.stream_write(std::string(60, 'b')));
    EXPECT_FALSE(s.stream_write(std::string(60, 'c'))); // 120 unread > 100
    EXPECT_EQ(s.state(), Session::State::Closed);
    EXPECT_TRUE(s.done());
    EXPECT_EQ(s.counters().stream_dropped, 1u);
    EXPECT_FALSE(s.stream_write("x"));
}

TEST(HttpSession, BackpressureWhenAnswersAreNotRead) {
    Limits l;
    l.max_output_backlog = 1000;
    Session s(l, at(0s));
    std::string many;
    for (int i = 0; i < 50; ++i)
        many += "GET / HTTP/1.1\r\n\r\n";
    s.feed(many, at(0s));
    int n = 0;
    while (auto req = s.take_request()) {
        Response r;
        r.body = std::string(100, 'x');
        s.respond(r, at(0s));
        ++n;
    }
    EXPECT_EQ(n, 50);              // everything received is answered...
    EXPECT_FALSE(s.wants_input()); // ...but no more is read until the client reads
    s.consume(s.output().size());
    EXPECT_TRUE(s.wants_input());
}

TEST(HttpSession, HeadersAreLowerCasedAndQueryDecoded) {
    auto r = run("GET /cluster?status=alive&x=a%20b+c HTTP/1.1\r\nX-Forwarded-For: 1\r\n"
                 "Authorization: Bearer t\r\n\r\n");
    ASSERT_EQ(r.requests.size(), 1u);
    const auto& q = r.requests[0];
    EXPECT_EQ(*q.header("x-forwarded-for"), "1");
    EXPECT_EQ(q.query_param("status"), "alive");
    EXPECT_EQ(q.query_param("x"), "a b c");
    EXPECT_FALSE(q.query_param("y"));
    EXPECT_TRUE(authorized(q, "t"));
    EXPECT_FALSE(authorized(q, "u"));
    EXPECT_FALSE(authorized(q, "tt"));
}

TEST(HttpSession, ResponseHeadersCannotBeSplit) {
    Session s({}, at(0s));
    s.feed("GET / HTTP/1.1\r\n\r\n", at(0s));
    ASSERT_TRUE(s.take_request());
    Response r;
    r.headers.emplace_back("X-Name", "a\r\nSet-Cookie: evil=1");
    s.respond(r, at(0s));
    EXPECT_EQ(std::string(s.output()).find("\r\nSet-Cookie"), std::string::npos);
}

TEST(HttpHelpers, Escaping) {
    EXPECT_EQ(html_escape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
    EXPECT_EQ(json_quote("a\"b\\c\n</script>"), "\"a\\\"b\\\\c\\n\\u003c/script\\u003e\"");
    EXPECT_EQ(json_quote(std::string("\xff\xc3\xa9", 3)), "\"\\ufffd\xc3\xa9\"");
    EXPECT_EQ(percent_decode("%41%zz%4"), "A%zz%4");
}

TEST(HttpHelpers, TokenChecks) {
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
    EXPECT_FALSE(constant_time_equal("", "a"));
    Request req;
    EXPECT_TRUE(authorized(req, ""));
    EXPECT_FALSE(authorized(req, "s3cret"));
    req.headers = {{"authorization", "Basic s3cret"}};
    EXPECT_FALSE(authorized(req, "s3cret"));
    req.headers = {{"cookie", "a=b; clusterd_token=s3cret"}};
    EXPECT_TRUE(authorized(req, "s3cret"));
    req.headers = {{"cookie", "clusterd_token=s3cre"}};
    EXPECT_FALSE(authorized(req, "s3cret"));
}

TEST(HttpRouter, NotFoundAndMethodNotAllowed) {
    Router router;
    router.get("/x", [](const Request&) {
        Response r;
        r.body = "x";
        return r;
    });
    Request req;
    req.method = "GET";
    req.path = "/x";
    EXPECT_EQ(router.route(req).body, "x");
    req.method = "POST";
    auto r = router.route(req);
    EXPECT_EQ(r.status, 405);
    ASSERT_EQ(r.headers.size(), 1u);
    EXPECT_EQ(r.headers[0].second, "GET, HEAD");
    req.method = "GET";
    req.path = "/y";
    EXPECT_EQ(router.route(req).status, 404);
}
