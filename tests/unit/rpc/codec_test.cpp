// IPC codec tests: msgpack bounds, and golden bytes captured from serf 0.8.2-dev (agent and CLI)
// on loopback with tshark (see docs/rpc.md, "Provenance").
#include <gtest/gtest.h>

#include "clusterd/codec/msgpack/value.hpp"
#include "clusterd/rpc/protocol.hpp"

using namespace clusterd;
using namespace clusterd::rpc;

namespace {
base::Bytes hex(const char* h) {
    base::Bytes b;
    EXPECT_TRUE(base::from_hex(h, b));
    return b;
}

namespace mp = codec::msgpack;
enum class St { Ok, NeedMore, Error };
struct Dec {
    St status = St::Error;
    std::size_t consumed = 0;
    std::size_t need_bytes = 0;
};
/// One object off the front of `in` through the core: measure (need-more), then the value tree.
Dec mp_decode(base::ByteView in, mp::Value& v, std::size_t cap) {
    mp::Reader r(in, mp::Limits{cap, 32});
    auto e = r.measure();
    if (!e)
        return {St::Error};
    if (!e->complete)
        return {St::NeedMore, 0, e->need};
    auto x = mp::read_value(r);
    if (!x)
        return {St::Error};
    v = std::move(*x);
    return {St::Ok, r.pos(), 0};
}
} // namespace

TEST(RpcCodec, GoClientRequestsEncodeByteForByte) {
    base::Bytes q;
    encode(q, RequestHeader{"query", 2});
    QueryRequest qr;
    qr.params.filter_nodes = {"capA"};
    qr.params.name = "q";
    qr.params.payload = base::to_bytes("pay");
    qr.params.request_ack = true;
    qr.params.timeout = std::chrono::seconds(1);
    encode(q, qr);
    EXPECT_EQ(base::to_hex(q),
              "82a7436f6d6d616e64a57175657279a35365710287ab46696c7465724e6f64657391a463617041aa46696c74657254"
              "61677380a44e616d65a171a75061796c6f6164c403706179ab52656c6179466163746f7200aa5265717565737441"
              "636bc3a754696d656f7574ce3b9aca00");

    base::Bytes t;
    encode(t, RequestHeader{"tags", 2});
    encode(t, TagsRequest{{{"a", "b"}}, {"dc"}});
    EXPECT_EQ(base::to_hex(t),
              "82a7436f6d6d616e64a474616773a35365710282aa44656c6574655461677391a26463a45461677381a161a162");

    base::Bytes e;
    encode(e, RequestHeader{"event", 2});
    encode(e, EventRequest{"e", {}, true});
    EXPECT_EQ(
        base::to_hex(e),
        "82a7436f6d6d616e64a56576656e74a35365710283a8436f616c65736365c3a44e616d65a165a75061796c6f6164c0");

    base::Bytes m;
    encode(m, RequestHeader{"members-filtered", 2});
    encode(m, MembersFilteredRequest{{{"role", "w.b"}}, "alive", ""});
    EXPECT_EQ(
        base::to_hex(m),
        "82a7436f6d6d616e64b06d656d626572732d66696c7465726564a35365710283a44e616d65a0a6537461747573a5616c"
        "697665a45461677381a4726f6c65a3772e62");

    base::Bytes h;
    encode(h, RequestHeader{"handshake", 1});
    encode(h, HandshakeRequest{1});
    EXPECT_EQ(base::to_hex(h), "82a7436f6d6d616e64a968616e647368616b65a35365710181a756657273696f6e01");
}

TEST(RpcCodec, AgentRepliesEncodeByteForByte) {
    base::Bytes k;
    encode(k, ResponseHeader{4, "1/1 nodes reported failure"});
    KeyResponse kr;
    kr.messages["capA"] = "Keyring is empty (encryption not enabled)";
    kr.num_err = 1;
    kr.num_nodes = 1;
    kr.num_resp = 1;
    encode(k, kr, true);
    EXPECT_EQ(
        base::to_hex(k),
        "82a54572726f72ba312f31206e6f646573207265706f72746564206661696c757265a35365710485a44b65797380a84d"
        "6573736167657381a463617041d9294b657972696e6720697320656d7074792028656e6372797074696f6e206e6f74"
        "20656e61626c656429a64e756d45727201a84e756d4e6f64657301a74e756d5265737001");

    base::Bytes u;
    encode(u, ResponseHeader{7, ""});
    encode(u, UserEventRecord{1, "ev", base::to_bytes("hi"), false});
    EXPECT_EQ(
        base::to_hex(u),
        "82a54572726f72a0a35365710785a8436f616c65736365c2a54576656e74a475736572a54c54696d6501a44e616d65a2"
        "6576a75061796c6f6164c4026869");

    base::Bytes q;
    encode(q, ResponseHeader{7, ""});
    encode(q, QueryEventRecord{1, 2, "q", {}});
    encode(q, ResponseHeader{9, ""});
    encode(q, QueryRecord{"ack", "capA", {}});
    encode(q, ResponseHeader{9, ""});
    encode(q, QueryRecord{"done", "", {}});
    EXPECT_EQ(
        base::to_hex(q),
        "82a54572726f72a0a35365710785a54576656e74a57175657279a2494401a54c54696d6502a44e616d65a171a7506179"
        "6c6f6164c082a54572726f72a0a35365710983a446726f6da463617041a75061796c6f6164c0a454797065a361636b82"
        "a54572726f72a0a35365710983a446726f6da0a75061796c6f6164c0a454797065a4646f6e65");

    base::Bytes j;
    encode(j, JoinResponse{0});
    EXPECT_EQ(base::to_hex(j), "81a34e756d00");

    base::Bytes c;
    CoordinateResponse cr;
    cr.ok = true;
    cr.coord.vec.assign(8, 0.0);
    cr.coord.error = 1.5;
    encode(c, cr);
    EXPECT_EQ(base::to_hex(c).substr(0, 60), "82a5436f6f726484aa41646a7573746d656e74cb0000000000000000a545");
    const std::string ch = base::to_hex(c);
    EXPECT_EQ(ch.substr(ch.size() - 8), "a24f6bc3");
    EXPECT_NE(ch.find("a356656398"), std::string::npos);
}

TEST(RpcCodec, DecodesAgentMembersReply) {
    const auto b = hex(
        "81a74d656d62657273918ba441646472c4047f000009ab44656c656761746543757205ab44656c65676174654d617805ab"
        "44656c65676174654d696e02a44e616d65a463617041a4506f7274cd461aab50726f746f636f6c43757202ab50726f746f"
        "636f6c4d617805ab50726f746f636f6c4d696e01a6537461747573a5616c697665a45461677382a4726f6c65a3776562a2"
        "6463a178");
    mp::Value v;
    ASSERT_EQ(mp_decode(b, v, b.size()).status, St::Ok);
    MembersResponse r;
    ASSERT_TRUE(decode(b, r).ok());
    ASSERT_EQ(r.members.size(), 1u);
    const auto& m = r.members[0];
    EXPECT_EQ(m.name, "capA");
    EXPECT_EQ(m.addr, (base::Bytes{127, 0, 0, 9}));
    EXPECT_EQ(m.port, 17946);
    EXPECT_EQ(m.status, "alive");
    EXPECT_EQ(m.tags, (Tags{{"role", "web"}, {"dc", "x"}}));
    EXPECT_EQ(m.protocol_min, 1);
    EXPECT_EQ(m.protocol_max, 5);
    EXPECT_EQ(m.protocol_cur, 2);
    EXPECT_EQ(m.delegate_min, 2);
    EXPECT_EQ(m.delegate_max, 5);
    EXPECT_EQ(m.delegate_cur, 5);
    // Re-encoding gives the same object (tags in sorted order).
    base::Bytes again;
    encode(again, r);
    mp::Value v2;
    ASSERT_EQ(mp_decode(again, v2, again.size()).status, St::Ok);
    MembersResponse r2;
    ASSERT_TRUE(decode(again, r2).ok());
    EXPECT_EQ(r2.members, r.members);
}

TEST(RpcMsgpack, HugeLengthClaimsAreRejectedWithoutAllocating) {
    // The 16-byte header that grew Serf to 11 GB RSS: {"Command": str32 of 0xF0000000 bytes}.
    const auto b = hex("81a7436f6d6d616e64dbf0000000");
    mp::Value v;
    auto r = mp_decode(b, v, 1 << 20);
    EXPECT_EQ(r.status, St::Error);
    // Within the cap but beyond the bytes present: NeedMore, with the exact length needed.
    const auto c = hex("81a7436f6d6d616e64da0100");
    r = mp_decode(c, v, 1 << 20);
    EXPECT_EQ(r.status, St::NeedMore);
    EXPECT_EQ(r.need_bytes, c.size() + 0x100);
    // Array and map counts are checked the same way.
    EXPECT_EQ(mp_decode(hex("ddffffffff"), v, 1 << 20).status, St::Error);
    EXPECT_EQ(mp_decode(hex("dfffffffff"), v, 1 << 20).status, St::Error);
    EXPECT_EQ(mp_decode(hex("dc0100"), v, 1 << 20).status, St::NeedMore);
}

TEST(RpcMsgpack, TruncationAtEveryByteIsNeedMoreNeverError) {
    base::Bytes b;
    encode(b, RequestHeader{"members-filtered", 300});
    encode(b, MembersFilteredRequest{{{"role", std::string(300, 'x')}}, "alive", "n"});
    mp::Value v;
    auto full = mp_decode(b, v, b.size());
    ASSERT_EQ(full.status, St::Ok);
    for (std::size_t n = 0; n < full.consumed; ++n) {
        auto r = mp_decode(base::ByteView(b.data(), n), v, 1 << 20);
        EXPECT_EQ(r.status, St::NeedMore) << n;
    }
}

TEST(RpcMsgpack, RoundTripsIntegersAndDepthLimit) {
    for (std::int64_t x :
         {0LL, 1LL, 127LL, 128LL, 255LL, 256LL, 65535LL, 65536LL, 4294967295LL, 4294967296LL, -1LL, -32LL,
          -33LL, -128LL, -129LL, -32768LL, -32769LL, -2147483648LL, -2147483649LL}) {
        base::Bytes b;
        mp::Writer(b, mp::Dialect::Ipc).sint(x);
        mp::Value v;
        ASSERT_EQ(mp_decode(b, v, 64).status, St::Ok);
        std::int64_t got = 0;
        ASSERT_TRUE(v.as_int(got));
        EXPECT_EQ(got, x);
    }
    base::Bytes deep(100, 0x91);
    deep.push_back(0xc0);
    mp::Value v;
    EXPECT_EQ(mp_decode(deep, v, 1 << 20).status, St::Error);
    EXPECT_EQ(mp_decode(hex("c1"), v, 16).status, St::Error);
}

TEST(RpcCodec, WrongFieldTypesAreErrors) {
    base::Bytes b;
    mp::Writer w(b, mp::Dialect::Ipc);
    w.map_header(1);
    w.str("Version");
    w.str("one");
    mp::Value v;
    ASSERT_EQ(mp_decode(b, v, b.size()).status, St::Ok);
    HandshakeRequest h;
    EXPECT_FALSE(decode(b, h).ok());
    RequestHeader rh;
    EXPECT_FALSE(decode(hex("90"), rh).ok());
}
