// The etcd adapter's pure codecs: byte-scripted HTTP answers (Content-Length, chunked, read
// until close, split anywhere, truncated, oversized, garbage), the gateway's JSON answers with
// wrong types, the URL, the request bodies and the row value.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "clusterd/base/bytes.hpp"
#include "clusterd/store/etcd_codec.hpp"

namespace clusterd::store::etcd {
namespace {

using nlohmann::json;

std::string b64(std::string_view s) {
    return base::base64_encode(base::to_bytes(s));
}

std::string ok_json(const std::string& body) {
    return "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\n\r\n" + body;
}

std::string chunked(const std::vector<std::string>& parts) {
    std::string out =
        "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n";
    char len[32];
    for (const auto& p : parts) {
        std::snprintf(len, sizeof len, "%zx\r\n", p.size());
        out += len + p + "\r\n";
    }
    return out + "0\r\n\r\n";
}

const std::string kRange =
    R"({"header":{"revision":"7"},"kvs":[{"key":")" + b64("/p/nodes/a") +
    R"(","create_revision":"3","mod_revision":"6","version":"2","value":")" +
    b64(R"({"name":"a","address":"10.0.0.1:7946","protocol_min":2,"protocol_max":5,"created_ms":1,"last_seen_ms":2,"expires_ms":3})") +
    R"(","lease":"694d77aa9e38260f"}],"count":"1"})";

TEST(EtcdHttp, ContentLength) {
    auto r = decode_response(ok_json("{\"a\":1}"));
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "{\"a\":1}");
    EXPECT_TRUE(r->keep_alive);
}

TEST(EtcdHttp, ChunkedAnswerAsTheGatewayStreamsIt) {
    const std::string bytes = chunked({R"({"result":)", R"({"ID":"5","TTL")", R"(:"60"}})"});
    auto r = decode_response(bytes);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->body, R"({"result":{"ID":"5","TTL":"60"}})");
    auto ttl = decode_keepalive(r->body);
    ASSERT_TRUE(ttl) << ttl.error().message;
    EXPECT_EQ(*ttl, 60);
}

TEST(EtcdHttp, SplitAtEveryByte) {
    const std::string bytes = ok_json(kRange);
    ResponseParser p;
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        ASSERT_EQ(p.state(), ResponseParser::State::NeedMore) << i;
        p.feed(&bytes[i], 1);
    }
    ASSERT_EQ(p.state(), ResponseParser::State::Done) << p.error();
    auto kvs = decode_range(p.response().body);
    ASSERT_FALSE(kvs); // lease "694d…" is hex, not a decimal int64
    EXPECT_NE(kvs.error().message.find("'lease'"), std::string::npos) << kvs.error().message;
}

TEST(EtcdHttp, ReadUntilClose) {
    ResponseParser p;
    const std::string head = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"kvs\":[]}";
    EXPECT_EQ(p.feed(head.data(), head.size()), ResponseParser::State::NeedMore);
    EXPECT_EQ(p.finish(), ResponseParser::State::Done);
    EXPECT_EQ(p.response().body, "{\"kvs\":[]}");
    EXPECT_FALSE(p.response().keep_alive);
}

TEST(EtcdHttp, TruncatedAnswersAreErrors) {
    const std::string full = ok_json(kRange);
    for (std::size_t cut :
         {std::size_t{0}, std::size_t{5}, std::size_t{20}, full.size() / 2, full.size() - 1}) {
        auto r = decode_response(std::string_view(full).substr(0, cut));
        ASSERT_FALSE(r) << cut;
        if (cut == 0) {
            EXPECT_NE(r.error().message.find("without an answer"), std::string::npos);
        } else if (cut > full.find("\r\n\r\n")) {
            EXPECT_NE(r.error().message.find("truncated"), std::string::npos) << r.error().message;
        }
    }
    auto chunked = decode_response("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nabc");
    ASSERT_FALSE(chunked);
}

TEST(EtcdHttp, OversizedAnswersAreRefusedEarlyAndBounded) {
    // A declared length over the limit: refused at the headers.
    auto declared =
        decode_response("HTTP/1.1 200 OK\r\nContent-Length: 5000000\r\n\r\n{}", kMaxResponseBytes);
    ASSERT_FALSE(declared);
    EXPECT_NE(declared.error().message.find("larger than"), std::string::npos) << declared.error().message;
    // Chunked data past the limit: refused when the byte count passes it.
    ResponseParser p(1024);
    const std::string head = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
    p.feed(head.data(), head.size());
    const std::string chunk = "100\r\n" + std::string(256, 'x') + "\r\n";
    ResponseParser::State st = ResponseParser::State::NeedMore;
    for (int i = 0; i < 10 && st == ResponseParser::State::NeedMore; ++i)
        st = p.feed(chunk.data(), chunk.size());
    ASSERT_EQ(st, ResponseParser::State::Failed);
    EXPECT_NE(p.error().find("larger than 1024 bytes"), std::string::npos) << p.error();
    // A close-delimited body grows only up to the limit as well.
    auto unbounded = decode_response("HTTP/1.1 200 OK\r\n\r\n" + std::string(3000, 'y'), 2048);
    ASSERT_FALSE(unbounded);
}

TEST(EtcdHttp, GarbageIsAnError) {
    for (const char* g : {"garbage", "HTTP/1.1 abc OK\r\n\r\n", "\x00\x01\x02",
                          "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n"}) {
        auto r = decode_response(g);
        EXPECT_FALSE(r) << g;
    }
    // Bytes after the answer: it is used, the connection is not.
    auto r = decode_response(ok_json("{}") + "HTTP/1.1 200 OK\r\n");
    ASSERT_TRUE(r);
    EXPECT_FALSE(r->keep_alive);
}

TEST(EtcdHttp, ErrorAnswersCarryEtcdsMessage) {
    const std::string body =
        R"({"error":"etcdserver: requested lease not found","message":"etcdserver: requested lease not found","code":5})";
    auto r = decode_response("HTTP/1.1 404 Not Found\r\nContent-Length: " + std::to_string(body.size()) +
                             "\r\n\r\n" + body);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_TRUE(lease_not_found(*r));
    EXPECT_EQ(http_error(*r).message, "etcd answered 404: etcdserver: requested lease not found");
    HttpResponse plain{503, "upstream\x01 down", false};
    EXPECT_EQ(http_error(plain).message, "etcd answered 503: upstream? down");
    EXPECT_FALSE(lease_not_found(plain));
}

TEST(EtcdJson, RangeAndRows) {
    const std::string body =
        R"({"kvs":[{"key":")" + b64("/p/nodes/a") +
        R"(","mod_revision":"6","create_revision":"3","value":")" +
        b64(R"({"name":"a","address":"10.0.0.1:7946","protocol_min":2,"protocol_max":5,"created_ms":1,"last_seen_ms":2,"expires_ms":3})") +
        R"(","lease":"42"},{"key":")" + b64("/p/nodes/junk") + R"(","value":")" + b64("not json") + R"("}]})";
    auto kvs = decode_range(body);
    ASSERT_TRUE(kvs) << kvs.error().message;
    ASSERT_EQ(kvs->size(), 2u);
    EXPECT_EQ((*kvs)[0].mod_revision, 6);
    EXPECT_EQ((*kvs)[0].create_revision, 3);
    EXPECT_EQ((*kvs)[0].lease, 42);
    EXPECT_EQ((*kvs)[1].mod_revision, 0); // absent = 0
    auto rows = rows_of("/p/nodes/", *kvs);
    ASSERT_EQ(rows.size(), 2u);
    EXPECT_EQ(rows[0].name, "a");
    EXPECT_EQ(rows[0].address, "10.0.0.1:7946");
    EXPECT_EQ(rows[0].protocol_max, "5");
    EXPECT_EQ(rows[0].expires_ms, "3");
    EXPECT_TRUE(discovery::parse_row(rows[0]));
    EXPECT_EQ(rows[1].name, "junk"); // passed up so that the registry warns about it once
    EXPECT_FALSE(discovery::parse_row(rows[1]));
    EXPECT_TRUE(decode_range(R"({"header":{}})")->empty());
    EXPECT_TRUE(rows_of("/q/nodes/", *kvs).empty());
}

TEST(EtcdJson, WrongTypesAreErrors) {
    const std::vector<std::string> bad{
        "[]",
        "not json",
        R"({"kvs":{}})",
        R"({"kvs":[1]})",
        R"({"kvs":[{"value":"YQ=="}]})", // no key
        R"({"kvs":[{"key":7}]})",        // key not a string
        R"({"kvs":[{"key":"!!!"}]})",    // key not base64
        R"({"kvs":[{"key":"YQ==","mod_revision":true}]})",
        R"({"kvs":[{"key":"YQ==","mod_revision":"12x"}]})",
        R"({"kvs":[{"key":"YQ==","mod_revision":"99999999999999999999"}]})",
        R"({"kvs":[{"key":"YQ==","lease":1.5}]})",
        std::string(100, '[') + std::string(100, ']'),
    };
    for (const auto& b : bad)
        EXPECT_FALSE(decode_range(b)) << b;
    EXPECT_FALSE(decode_txn(R"({"succeeded":"yes"})"));
    EXPECT_FALSE(decode_txn(R"({"responses":{}})"));
    EXPECT_FALSE(decode_txn(R"({"responses":[{"response_range":[]}]})"));
    EXPECT_FALSE(decode_lease_grant(R"({"ID":"0"})"));
    EXPECT_FALSE(decode_lease_grant(R"({"ID":"5","error":"too many leases"})"));
    EXPECT_FALSE(decode_keepalive(R"({"ID":"5"})"));
    EXPECT_FALSE(decode_keepalive(R"({"error":{"grpc_code":14,"message":"no leader"}})"));
    EXPECT_FALSE(decode_keepalive(R"({"result":{"TTL":"sixty"}})"));
}

TEST(EtcdJson, TxnLeaseAndKeepalive) {
    auto ok = decode_txn(
        R"({"header":{"revision":"2"},"succeeded":true,"responses":[{"response_put":{"header":{}}}]})");
    ASSERT_TRUE(ok);
    EXPECT_TRUE(ok->succeeded);
    EXPECT_TRUE(ok->kvs.empty());
    auto lost = decode_txn(R"({"responses":[{"response_range":{"kvs":[{"key":")" + b64("k") +
                           R"(","value":")" + b64("1") + R"(","mod_revision":"9"}],"count":"1"}}]})");
    ASSERT_TRUE(lost);
    EXPECT_FALSE(lost->succeeded);
    ASSERT_EQ(lost->kvs.size(), 1u);
    EXPECT_EQ(lost->kvs[0].value, "1");
    EXPECT_EQ(*decode_lease_grant(R"({"ID":"4390625041881033221","TTL":"60"})"), 4390625041881033221LL);
    EXPECT_EQ(*decode_keepalive("{\"result\":{\"ID\":\"5\",\"TTL\":\"60\"}}\n"), 60);
    EXPECT_EQ(*decode_keepalive(R"({"result":{"ID":"5"}})"), 0); // lease gone: TTL left out
}

TEST(EtcdJson, Requests) {
    auto put = json::parse(put_if_request("/p/nodes/a", "v", 42, 0));
    EXPECT_EQ(put["compare"][0]["target"], "CREATE");
    EXPECT_EQ(put["compare"][0]["create_revision"], "0");
    EXPECT_EQ(put["success"][0]["request_put"]["key"], b64("/p/nodes/a"));
    EXPECT_EQ(put["success"][0]["request_put"]["value"], b64("v"));
    EXPECT_EQ(put["success"][0]["request_put"]["lease"], "42");
    auto upd = json::parse(put_if_request("k", "v", 0, 17));
    EXPECT_EQ(upd["compare"][0]["target"], "MOD");
    EXPECT_EQ(upd["compare"][0]["mod_revision"], "17");
    EXPECT_FALSE(upd["success"][0]["request_put"].contains("lease"));
    auto del = json::parse(delete_if_request("k", 5));
    EXPECT_EQ(del["success"][0]["request_delete_range"]["key"], b64("k"));
    EXPECT_EQ(json::parse(range_request("a", "b"))["range_end"], b64("b"));
    EXPECT_EQ(prefix_end("/p/nodes/"), "/p/nodes0");
    EXPECT_EQ(prefix_end(std::string("a\xff", 2)), "b");
    EXPECT_EQ(json::parse(lease_grant_request(60))["TTL"], "60");
    const std::string req = http_post(Endpoint{"::1", 2379}, "/v3/kv/range", "{}");
    EXPECT_EQ(req.rfind("POST /v3/kv/range HTTP/1.1\r\nHost: [::1]:2379\r\n", 0), 0u) << req;
    EXPECT_NE(req.find("Content-Length: 2\r\n\r\n{}"), std::string::npos);
}

TEST(EtcdJson, RowRoundTripAndOddValues) {
    discovery::Row row{"n1",
                       "127.0.0.1:7946",
                       2,
                       5,
                       discovery::from_ms(1000),
                       discovery::from_ms(2000),
                       discovery::from_ms(62000)};
    auto back = discovery::parse_row(decode_row("n1", encode_row(row)));
    ASSERT_TRUE(back) << back.error().message;
    EXPECT_EQ(*back, row);
    // Text where a number belongs, a float, an object: kept as text, rejected by parse_row.
    auto odd = decode_row(
        "x",
        R"({"address":"1.2.3.4:5","protocol_min":"2","protocol_max":5.5,"created_ms":{},"last_seen_ms":null})");
    EXPECT_EQ(odd.protocol_min, "2");
    EXPECT_EQ(odd.protocol_max, "5.5");
    EXPECT_EQ(odd.created_ms, "{}");
    EXPECT_EQ(odd.last_seen_ms, "");
    EXPECT_FALSE(discovery::parse_row(odd));
    EXPECT_EQ(decode_row("y", "[1,2]").address, "");
    EXPECT_EQ(decode_row("y", "").name, "y");
}

TEST(EtcdUrlParse, EndpointsPrefixAndErrors) {
    auto u = parse_url("etcd://127.0.0.1:2379,etcd-2.example:22379,[::1]:2379,localhost/clusterd/test/");
    ASSERT_TRUE(u) << u.error().message;
    ASSERT_EQ(u->endpoints.size(), 4u);
    EXPECT_EQ(u->endpoints[1].host, "etcd-2.example");
    EXPECT_EQ(u->endpoints[1].port, 22379);
    EXPECT_EQ(u->endpoints[2].host, "::1");
    EXPECT_EQ(u->endpoints[2].shown(), "[::1]:2379");
    EXPECT_EQ(u->endpoints[3].port, 2379);
    EXPECT_EQ(u->prefix, "/clusterd/test");
    EXPECT_EQ(u->node_key("n1"), "/clusterd/test/nodes/n1");
    EXPECT_EQ(u->schema_key(), "/clusterd/test/schema_version");
    for (const char* b : {"etcd://127.0.0.1:2379", "etcd://127.0.0.1:2379/", "etcd:///p", "etcd://h:0/p",
                          "etcd://h:99999/p", "etcd://h:x/p", "etcd://h1,,h2/p", "etcd://[::1/p",
                          "etcd://h/p?x=1", "etcd://h o/p", "etcd://h/p q"})
        EXPECT_FALSE(parse_url(b)) << b;
    auto cred = parse_url("etcd://root:hunter2@127.0.0.1:2379/p");
    ASSERT_FALSE(cred);
    EXPECT_EQ(cred.error().message.find("hunter2"), std::string::npos);
    EXPECT_NE(cred.error().message.find("not supported"), std::string::npos);
}

} // namespace
} // namespace clusterd::store::etcd
