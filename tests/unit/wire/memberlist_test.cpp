// memberlist message codecs: hand-checked encodings, round trips and malformed input.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/rng.hpp"
#include "clusterd/wire/memberlist.hpp"

using namespace clusterd;
using namespace clusterd::wire;

namespace {
base::Bytes hex(const char* h) {
    base::Bytes b;
    EXPECT_TRUE(base::from_hex(h, b)) << h;
    return b;
}
template <typename T> std::string code(const base::Result<T>& r) {
    return r.ok() ? std::string("ok") : r.error().code;
}
} // namespace

TEST(WireMemberlist, PingEncodingMatchesGoMsgpack) {
    // 0x00 type, fixmap(2), fields in go-msgpack's sorted order: "Node" "a", "SeqNo" 1; the
    // omitempty Source* fields are absent.
    Ping p{1, "a", {}, 0, ""};
    EXPECT_EQ(base::to_hex(encode(p)), "0082a44e6f6465a161a55365714e6f01");
    auto d = decode(encode(p));
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(std::get<Ping>(*d), p);
}

TEST(WireMemberlist, LongStringsUseStr16NotStr8) {
    // go-msgpack without WriteExt skips str8 (0xd9): a 40-byte name is written as str16.
    Suspect s{7, std::string(40, 'n'), "x"};
    auto b = encode(s);
    auto h = base::to_hex(b);
    EXPECT_NE(h.find("a44e6f6465da0028"), std::string::npos) << h;
    auto d = decode(b);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(std::get<Suspect>(*d), s);
}

TEST(WireMemberlist, AliveRoundTripAndNilBytes) {
    Alive a{300, "node-1", {127, 0, 0, 1}, 7946, {0xff, 0x80}, {1, 5, 2, 2, 5, 4}};
    auto b = encode(a);
    auto d = decode(b);
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(std::get<Alive>(*d), a);
    // Incarnation 300 uses uint16 (0xcd 0x012c), the smallest form.
    EXPECT_NE(base::to_hex(b).find("cd012c"), std::string::npos);
    Alive empty{};
    auto e = encode(empty);
    // nil Addr/Meta/Vsn encode as msgpack nil (0xc0)
    EXPECT_NE(base::to_hex(e).find("a441646472c0"), std::string::npos) << base::to_hex(e);
}

TEST(WireMemberlist, AllSingleMessagesRoundTrip) {
    std::vector<Message> msgs = {
        Ping{5, "n", {10, 0, 0, 1}, 7946, "src"},
        IndirectPing{9, {1, 2, 3, 4}, 8000, "t", true, {5, 6, 7, 8}, 9, "me"},
        Ack{3, {1, 2, 3}},
        Nack{4},
        ErrResp{"boom"},
        Suspect{1, "a", "b"},
        Dead{2, "a", "a"},
        UserMsg{{3, 0x82}},
    };
    for (const auto& m : msgs) {
        auto b = encode(m);
        EXPECT_EQ(b[0], static_cast<std::uint8_t>(message_type(m)));
        auto d = decode(b);
        ASSERT_TRUE(d.ok()) << d.error().message;
        EXPECT_EQ(*d, m);
    }
}

TEST(WireMemberlist, DecodeErrorsAreDistinct) {
    EXPECT_EQ(code(decode({})), "truncated");
    auto unk = hex("2a80");
    EXPECT_EQ(code(decode(unk)), "unknown_type");
    auto pp = hex("0680");
    EXPECT_EQ(code(decode(pp)), "unexpected_type");
    auto bad = hex("00a3"); // a string where a map is expected, and truncated
    EXPECT_FALSE(decode(bad).ok());
    auto wrong = hex("0081a55365714e6fa161"); // SeqNo as a string
    EXPECT_EQ(code(decode(wrong)), "malformed");
    auto big = hex("0081a4436f6465db7fffffff"); // claims a 2 GiB string
    EXPECT_EQ(code(decode(big)), "truncated");
    auto overflow = hex("0081a55365714e6fcf0000000100000000"); // SeqNo > uint32
    EXPECT_EQ(code(decode(overflow)), "malformed");
}

TEST(WireMemberlist, CompoundSplitsAndCountsTruncated) {
    std::vector<base::Bytes> parts = {encode(Nack{1}), encode(Suspect{1, "a", "b"}), encode(Nack{2})};
    auto c = encode_compound(parts);
    auto s = split_compound(c);
    ASSERT_TRUE(s.ok());
    ASSERT_EQ(s->parts.size(), parts.size());
    for (std::size_t i = 0; i < parts.size(); ++i)
        EXPECT_EQ(base::Bytes(s->parts[i].begin(), s->parts[i].end()), parts[i]);
    EXPECT_EQ(s->truncated, 0u);
    c.resize(c.size() - 3);
    auto t = split_compound(c);
    ASSERT_TRUE(t.ok());
    EXPECT_EQ(t->parts.size(), 2u);
    EXPECT_EQ(t->truncated, 1u);
    EXPECT_EQ(code(split_compound(hex("0705"))), "truncated");
}

TEST(WireMemberlist, PushPullRoundTripAndLimits) {
    PushPull pp;
    pp.join = true;
    pp.nodes.push_back({"a", {127, 0, 0, 1}, 7946, {0xff, 0x80}, 3, NodeState::Alive, {1, 5, 2, 2, 5, 4}});
    pp.nodes.push_back({"b", {127, 0, 0, 2}, 7947, {}, 1, NodeState::Left, {1, 5, 2, 2, 5, 4}});
    pp.user_state = {2, 0x86, 1, 2};
    auto b = encode_push_pull(pp);
    auto d = decode_push_pull(b);
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(*d, pp);
    auto cut = b;
    cut.pop_back();
    EXPECT_EQ(code(decode_push_pull(cut)), "truncated");
    // header claiming 1000 nodes in a few bytes is refused before allocating
    auto lie = hex("0683a54e6f646573cd03e8ac5573657253746174654c656e00a44a6f696ec2");
    EXPECT_EQ(code(decode_push_pull(lie)), "truncated");
}

TEST(WireMemberlist, PushPullViewAndStreamedEncodeMatchTheOwningForms) {
    PushPull pp;
    pp.join = false;
    pp.nodes.push_back(
        {"node-1", {10, 0, 0, 1}, 7946, {0xff, 0x80}, 3, NodeState::Alive, {1, 5, 2, 2, 5, 4}});
    pp.nodes.push_back({"b", {127, 0, 0, 2}, 7947, {}, 1, NodeState::Left, {1, 5, 2, 2, 5, 4}});
    pp.nodes.push_back({"a-longer-node-name-than-sso",
                        {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1},
                        1,
                        {},
                        7,
                        NodeState::Suspect,
                        {}});
    pp.user_state = {2, 0x86, 1, 2};
    const base::Bytes b = encode_push_pull(pp);
    // The streamed encoder reuses one state; stale fields of a previous state must not leak.
    EXPECT_EQ(encode_push_pull(
                  pp.join, pp.nodes.size(), [&](std::size_t i, PushNodeState& s) { s = pp.nodes[i]; },
                  pp.user_state),
              b);
    auto v = decode_push_pull_view(b);
    ASSERT_TRUE(v.ok()) << v.error().message;
    EXPECT_EQ(v->join, pp.join);
    ASSERT_EQ(v->nodes.size(), pp.nodes.size());
    for (std::size_t i = 0; i < pp.nodes.size(); ++i) {
        const PushNodeState& o = pp.nodes[i];
        const PushNodeStateView& n = v->nodes[i];
        EXPECT_EQ(n.name, o.name);
        EXPECT_EQ(base::Bytes(n.addr.begin(), n.addr.end()), o.addr);
        EXPECT_EQ(n.port, o.port);
        EXPECT_EQ(base::Bytes(n.meta.begin(), n.meta.end()), o.meta);
        EXPECT_EQ(n.incarnation, o.incarnation);
        EXPECT_EQ(n.state, o.state);
        EXPECT_EQ(base::Bytes(n.vsn.begin(), n.vsn.end()), o.vsn);
    }
    EXPECT_EQ(base::Bytes(v->user_state.begin(), v->user_state.end()), pp.user_state);
    auto cut = b;
    cut.pop_back();
    EXPECT_EQ(code(decode_push_pull_view(cut)), "truncated");
    EXPECT_EQ(
        code(decode_push_pull_view(hex("0683a54e6f646573cd03e8ac5573657253746174654c656e00a44a6f696ec2"))),
        "truncated");
}

TEST(WireMemberlist, StreamUserMessage) {
    base::Bytes payload = {3, 1, 2, 3};
    auto b = encode_stream_user(payload);
    auto d = decode_stream_user(b);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, payload);
    b.pop_back();
    EXPECT_EQ(code(decode_stream_user(b)), "truncated");
}

namespace {

std::string rand_name(base::Rng& rng) {
    // lengths straddle the fixstr (<32) / str16 boundary
    std::string s(rng.below(70), 'x');
    for (auto& c : s)
        c = static_cast<char>(' ' + rng.below(95));
    return s;
}

base::Bytes rand_addr(base::Rng& rng) {
    base::Bytes a(rng.chance(0.8) ? 4 : 16);
    for (auto& x : a)
        x = static_cast<std::uint8_t>(rng.next());
    return a;
}

base::Bytes rand_blob(base::Rng& rng, std::size_t max) {
    base::Bytes b(rng.below(max + 1));
    for (auto& x : b)
        x = static_cast<std::uint8_t>(rng.next());
    return b;
}

std::uint32_t rand_u32(base::Rng& rng) {
    // bias towards the msgpack integer-width boundaries
    static const std::uint32_t edges[] = {0, 1, 127, 128, 255, 256, 65535, 65536, 0xffffffffu};
    return rng.chance(0.3) ? edges[rng.below(9)] : static_cast<std::uint32_t>(rng.next() >> rng.below(32));
}

Message random_message(base::Rng& rng) {
    auto port = [&] { return static_cast<std::uint16_t>(rand_u32(rng)); };
    switch (rng.below(9)) {
    case 0: {
        Ping p{rand_u32(rng), rand_name(rng), {}, 0, ""};
        if (rng.chance(0.5))
            p = Ping{p.seq_no, p.node, rand_addr(rng), port(), rand_name(rng)};
        return p;
    }
    case 1:
        return IndirectPing{rand_u32(rng),  rand_addr(rng),  port(),
                            rand_name(rng), rng.chance(0.5), rng.chance(0.5) ? rand_addr(rng) : base::Bytes{},
                            port(),         rand_name(rng)};
    case 2:
        return Ack{rand_u32(rng), rand_blob(rng, 120)};
    case 3:
        return Nack{rand_u32(rng)};
    case 4:
        return ErrResp{rand_name(rng)};
    case 5:
        return Suspect{rand_u32(rng), rand_name(rng), rand_name(rng)};
    case 6:
        return Alive{rand_u32(rng), rand_name(rng),      rand_addr(rng),
                     port(),        rand_blob(rng, 512), rand_blob(rng, 6)};
    case 7:
        return Dead{rand_u32(rng), rand_name(rng), rand_name(rng)};
    default:
        return UserMsg{rand_blob(rng, 300)};
    }
}

} // namespace

TEST(WireMemberlist, SeededRoundTripProperty) {
    base::Rng rng(1234);
    std::array<int, 14> seen{};
    for (int i = 0; i < 3000; ++i) {
        Message m = random_message(rng);
        auto b = encode(m);
        auto d = decode(b);
        ASSERT_TRUE(d.ok()) << "iteration " << i << ": " << d.error().message;
        ASSERT_EQ(*d, m) << "iteration " << i;
        ASSERT_EQ(encode(*d), b);
        ++seen[b[0]];
        // every strict prefix of a msgpack-bodied message is an error, never a crash
        if (b[0] != static_cast<std::uint8_t>(MsgType::User) && i % 10 == 0) {
            for (std::size_t cut = 0; cut < b.size(); ++cut) {
                EXPECT_FALSE(decode(base::ByteView(b).first(cut)).ok()) << "cut " << cut;
            }
        }
    }
    for (int t : {0, 1, 2, 3, 4, 5, 8, 11, 13})
        EXPECT_GT(seen[static_cast<std::size_t>(t)], 0) << t;
}

TEST(WireMemberlist, AcceptsBinAndStr8FromOtherEncoders) {
    // A peer using a newer msgpack (bin8 for bytes, str8 for strings) must still be understood.
    base::Bytes b = hex("0382"
                        "a44e6f6465"
                        "d90141" // Node: str8 "A"
                        "ab496e6361726e6174696f6e"
                        "cd0102"); // Incarnation: uint16 258
    auto d = decode(b);
    ASSERT_TRUE(d.ok()) << d.error().message;
    EXPECT_EQ(std::get<Suspect>(*d).node, "A");
    EXPECT_EQ(std::get<Suspect>(*d).incarnation, 258u);
    base::Bytes a = hex("0281a75061796c6f6164c4020102"); // Ack Payload as bin8
    auto da = decode(a);
    ASSERT_TRUE(da.ok());
    EXPECT_EQ(std::get<Ack>(*da).payload, (base::Bytes{1, 2}));
}

TEST(WireMemberlist, CompoundNeverWritesACorruptCount) {
    std::vector<base::Bytes> many(300, encode(Nack{1}));
    auto c = encode_compound(many);
    auto s = split_compound(c);
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(s->parts.size(), kMaxCompoundParts);
    EXPECT_EQ(s->truncated, 0u);
}

// CompoundBuilder writes encode_compound's bytes, leaving out the same parts (beyond 255, or
// longer than 65535 bytes) while still counting and returning every part added.
TEST(WireMemberlist, CompoundBuilderMatchesEncodeCompound) {
    for (std::size_t count : {1u, 2u, 17u, 255u, 256u, 300u}) {
        std::vector<base::Bytes> parts;
        CompoundBuilder b;
        for (std::size_t i = 0; i < count; ++i) {
            const std::size_t len = i == 3 ? 0x10000 : (i * 7) % 23;
            parts.emplace_back(len, static_cast<std::uint8_t>(i));
            b.add(parts.back());
        }
        ASSERT_EQ(b.parts(), count);
        for (std::size_t i = 0; i < count; ++i)
            EXPECT_TRUE(std::ranges::equal(b.part(i), parts[i]));
        EXPECT_EQ(b.finish(), encode_compound(parts)) << count << " parts";
    }
    CompoundBuilder b;
    b.add(base::to_bytes("x"));
    b.clear();
    EXPECT_EQ(b.parts(), 0u);
    b.add(base::to_bytes("ab"));
    b.add(base::to_bytes("c"));
    EXPECT_EQ(b.finish(), encode_compound({base::to_bytes("ab"), base::to_bytes("c")}));
}
