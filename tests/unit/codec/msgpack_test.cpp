// The msgpack core: writer forms per dialect, every reader error path (truncation, over-cap
// lengths, wrong types, nesting depth, need-more), field lists with hints and error paths.
#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "clusterd/base/bytes.hpp"
#include "clusterd/codec/msgpack/fields.hpp"
#include "clusterd/codec/msgpack/value.hpp"

namespace clusterd::codec::msgpack {

// A small message family for the field-list tests.
struct Inner {
    std::string tag;
    base::Bytes blob;
    friend bool operator==(const Inner&, const Inner&) = default;
};
constexpr auto msgpack_fields(const Inner*) {
    return fields(field("Blob", &Inner::blob), field("Tag", &Inner::tag));
}
struct Outer {
    std::uint16_t port = 0;
    std::int32_t delta = 0;
    std::vector<Inner> members;
    std::map<std::string, std::string> tags;
    std::optional<Inner> extra;
    std::string note;
    double x = 0;
    friend bool operator==(const Outer&, const Outer&) = default;
};
constexpr auto msgpack_fields(const Outer*) {
    return fields(field("Delta", &Outer::delta), constant("Kind", "outer"),
                  field("Members", &Outer::members, kNilIfEmpty), field("Note", &Outer::note, kOmitEmpty),
                  field("Port", &Outer::port), field("Tags", &Outer::tags), field("X", &Outer::x),
                  field("Extra", &Outer::extra));
}

namespace {

std::string hex(const base::Bytes& b) {
    return base::to_hex(b);
}

base::Bytes bytes_of(std::initializer_list<int> v) {
    base::Bytes b;
    for (int x : v)
        b.push_back(static_cast<std::uint8_t>(x));
    return b;
}

TEST(MsgpackWriter, IntegersUseTheSmallestForm) {
    base::Bytes out;
    Writer w(out);
    w.uint(0x7f);
    w.uint(0x80);
    w.uint(0x100);
    w.uint(0x10000);
    w.uint(0x100000000ULL);
    w.sint(-1);
    w.sint(-33);
    w.sint(-129);
    w.sint(-32769);
    w.sint(INT64_MIN);
    EXPECT_EQ(hex(out), "7fcc80cd0100ce00010000cf0000000100000000ffd0dfd1ff7fd2ffff7fffd38000000000000000");
    EXPECT_EQ(w.size(), out.size());
}

TEST(MsgpackWriter, DialectsDifferInStr8AndBytes) {
    const std::string s40(40, 'a');
    base::Bytes g, i;
    Writer wg(g, Dialect::Gossip), wi(i, Dialect::Ipc);
    wg.str(s40);
    wi.str(s40);
    EXPECT_EQ(g[0], 0xda); // go-msgpack without WriteExt: no str8
    EXPECT_EQ(i[0], 0xd9);
    g.clear();
    i.clear();
    const base::Bytes b{1, 2};
    wg.bytes(b);
    wi.bytes(b);
    EXPECT_EQ(hex(g), "a20102");
    EXPECT_EQ(hex(i), "c4020102");
    g.clear();
    wg.bytes_or_nil({});
    EXPECT_EQ(hex(g), "c0");
}

TEST(MsgpackWriter, CountingWriterMatchesBufferWriter) {
    Outer o;
    o.members = {{"a", {1}}, {"b", {}}};
    o.tags = {{"k", "v"}};
    EXPECT_EQ(encoded_size(o, Dialect::Gossip), encode(o, Dialect::Gossip).size());
    EXPECT_EQ(encoded_size(o, Dialect::Ipc), encode(o, Dialect::Ipc).size());
}

TEST(MsgpackReader, ReadsEveryIntegerFormAndChecksRange) {
    auto in = bytes_of({0xd0, 0x80, 0xcd, 0x01, 0x00, 0xcf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
    Reader r(in);
    EXPECT_EQ(*r.sint(), -128);
    auto small = r.uint(0xff);
    ASSERT_FALSE(small.ok());
    EXPECT_EQ(small.error().code, "malformed");
    Reader r2(in);
    (void)r2.sint();
    EXPECT_EQ(*r2.uint(), 256u);
    EXPECT_EQ(*r2.uint(), UINT64_MAX);
    EXPECT_TRUE(r2.at_end());
}

TEST(MsgpackReader, WrongTypesAreMalformedAndDoNotConsume) {
    auto in = bytes_of({0x93, 0x01, 0x02, 0x03});
    Reader r(in);
    EXPECT_EQ(r.str().error().code, "malformed");
    EXPECT_EQ(r.map_header().error().code, "malformed");
    EXPECT_EQ(r.boolean().error().code, "malformed");
    EXPECT_EQ(r.sint().error().code, "malformed");
    EXPECT_EQ(r.pos(), 0u);
    EXPECT_EQ(*r.array_header(), 3u);
    auto c1 = bytes_of({0xc1});
    Reader bad(c1);
    EXPECT_EQ(bad.peek().error().code, "malformed");
    EXPECT_EQ(bad.skip().error().code, "malformed");
}

TEST(MsgpackReader, TruncationIsReportedAtEveryCut) {
    Outer o;
    o.port = 7946;
    o.members = {{"tag", {9, 9, 9}}};
    o.tags = {{"role", "web"}};
    o.note = "hello";
    const auto full = encode(o, Dialect::Gossip);
    for (std::size_t cut = 0; cut < full.size(); ++cut) {
        Reader r(base::ByteView(full.data(), cut));
        Outer back;
        auto st = read(r, back);
        ASSERT_FALSE(st.ok()) << cut;
        EXPECT_EQ(st.error().code, "truncated") << cut;
        Reader m(base::ByteView(full.data(), cut));
        auto e = m.measure();
        ASSERT_TRUE(e.ok()) << cut;
        EXPECT_FALSE(e->complete);
        EXPECT_GT(e->need, cut) << "need-more must ask for more than is there";
        EXPECT_LE(e->need, full.size()) << cut;
    }
    Reader whole(full);
    auto e = whole.measure();
    ASSERT_TRUE(e.ok());
    EXPECT_TRUE(e->complete);
    EXPECT_EQ(e->size, full.size());
    EXPECT_EQ(whole.pos(), 0u) << "measure does not consume";
}

TEST(MsgpackReader, LengthClaimsAreCheckedBeforeAllocation) {
    // str32 claiming 4 GiB, array32 and map32 claiming 4 G elements, in a few bytes.
    for (auto in :
         {bytes_of({0xdb, 0xff, 0xff, 0xff, 0xff, 'a'}), bytes_of({0xdd, 0xff, 0xff, 0xff, 0xff, 0x01}),
          bytes_of({0xdf, 0xff, 0xff, 0xff, 0xff, 0x01})}) {
        Reader r(in);
        EXPECT_EQ(r.skip().error().code, "truncated");
        Reader m(in);
        EXPECT_FALSE(m.measure()->complete);
        auto v = msgpack::decode<Outer>(in);
        EXPECT_FALSE(v.ok());
    }
}

TEST(MsgpackReader, OverCapLengthsAreTooLarge) {
    auto in = bytes_of({0xa5, 'h', 'e', 'l', 'l', 'o'});
    Reader r(in, Limits{4, 32});
    EXPECT_EQ(r.str().error().code, "too_large");
    auto arr = bytes_of({0x95, 1, 2, 3, 4, 5});
    Reader ra(arr, Limits{4, 32});
    EXPECT_EQ(ra.array_header().error().code, "too_large");
    Reader rm(arr, Limits{4, 32});
    EXPECT_EQ(rm.measure().error().code, "too_large") << "over-cap is an error, not need-more";
}

TEST(MsgpackReader, NestingDepthIsBounded) {
    base::Bytes deep(100, 0x91);
    deep.push_back(0x01);
    Reader r(deep);
    EXPECT_EQ(r.skip().error().code, "too_deep");
    Reader v(deep);
    EXPECT_EQ(read_value(v).error().code, "too_deep");
    Reader ok(deep, Limits{SIZE_MAX, 200});
    EXPECT_TRUE(ok.skip().ok());
}

TEST(MsgpackReader, SkipsExtAndFloatForms) {
    auto in = bytes_of({0xd4, 1, 2, 0xc7, 2, 5, 1, 2, 0xca, 0, 0, 0, 0, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0, 0xc0});
    Reader r(in);
    for (int i = 0; i < 5; ++i)
        ASSERT_TRUE(r.skip().ok()) << i;
    EXPECT_TRUE(r.at_end());
}

TEST(MsgpackFields, RoundTripInBothDialects) {
    Outer o;
    o.port = 65535;
    o.delta = -5;
    o.members = {{"a", {1, 2}}, {"b", {}}};
    o.tags = {{"dc", "x"}, {"role", "web"}};
    o.extra = Inner{"e", {3}};
    o.x = 1.5;
    for (auto d : {Dialect::Gossip, Dialect::Ipc}) {
        auto back = msgpack::decode<Outer>(encode(o, d));
        ASSERT_TRUE(back.ok()) << back.error().message;
        EXPECT_EQ(*back, o);
    }
}

TEST(MsgpackFields, HintsShapeTheEncoding) {
    Outer o; // empty: Members nil, Note left out, Extra nil
    EXPECT_EQ(hex(encode(o, Dialect::Gossip)),
              "87" // 7 fields (Note omitted)
              "a5"
              "44656c7461"
              "00" // Delta 0
              "a4"
              "4b696e64"
              "a56f75746572" // Kind "outer"
              "a7"
              "4d656d62657273"
              "c0" // Members nil
              "a4"
              "506f7274"
              "00" // Port 0
              "a4"
              "54616773"
              "80" // Tags {}
              "a1"
              "58"
              "cb0000000000000000" // X 0.0
              "a5"
              "4578747261"
              "c0"); // Extra nil
}

TEST(MsgpackFields, DecodeSkipsUnknownFieldsAndTreatsNilAsZero) {
    // {"Zzz": [1,2], "Port": nil, "Delta": 3}
    auto in = bytes_of({0x83, 0xa3, 'Z',  'z',  'z', 0x92, 1,   2,   0xa4, 'P', 'o',
                        'r',  't',  0xc0, 0xa5, 'D', 'e',  'l', 't', 'a',  0x03});
    auto o = msgpack::decode<Outer>(in);
    ASSERT_TRUE(o.ok()) << o.error().message;
    EXPECT_EQ(o->delta, 3);
    EXPECT_EQ(o->port, 0);
}

// The reader tries the field after the last one matched first: keys in the list's order, in
// reverse, shuffled, repeated (the last wins) and mixed with unknown keys all decode as a full
// scan of the list would.
TEST(MsgpackFields, KeysDecodeInAnyOrder) {
    auto key = [](base::Bytes& b, std::string_view k) {
        b.push_back(static_cast<std::uint8_t>(0xa0 | k.size()));
        b.insert(b.end(), k.begin(), k.end());
    };
    // Fields as (key, encoded value); Port 7, Delta -2, Note "n", X 0.5 (f64), Kind ignored.
    std::vector<std::pair<std::string, base::Bytes>> kv = {
        {"Delta", bytes_of({0xfe})},
        {"Kind", bytes_of({0xa1, 'k'})},
        {"Note", bytes_of({0xa1, 'n'})},
        {"Port", bytes_of({0x07})},
        {"X", bytes_of({0xcb, 0x3f, 0xe0, 0, 0, 0, 0, 0, 0})},
        {"Zzz", bytes_of({0x01})},
    };
    auto build = [&](const std::vector<std::size_t>& order) {
        base::Bytes b{static_cast<std::uint8_t>(0x80 | order.size())};
        for (std::size_t i : order) {
            key(b, kv[i].first);
            b.insert(b.end(), kv[i].second.begin(), kv[i].second.end());
        }
        return b;
    };
    Outer want;
    want.delta = -2;
    want.note = "n";
    want.port = 7;
    want.x = 0.5;
    for (const auto& order : std::vector<std::vector<std::size_t>>{
             {0, 1, 2, 3, 4}, {4, 3, 2, 1, 0}, {2, 0, 4, 1, 3}, {5, 0, 5, 2, 3, 5, 4}, {3, 0, 2, 4}}) {
        auto o = msgpack::decode<Outer>(build(order));
        ASSERT_TRUE(o.ok()) << o.error().message;
        EXPECT_EQ(*o, want);
    }
    // A repeated key: the last value wins, as in go-msgpack.
    base::Bytes rep{0x83};
    key(rep, "Port");
    rep.push_back(1);
    key(rep, "Delta");
    rep.push_back(2);
    key(rep, "Port");
    rep.push_back(3);
    auto r = msgpack::decode<Outer>(rep);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->port, 3);
    EXPECT_EQ(r->delta, 2);
}

TEST(MsgpackFields, ErrorsCarryTheFieldPath) {
    Outer o;
    o.members = {{"a", {}}, {"b", {}}};
    auto b = encode(o, Dialect::Gossip);
    // Corrupt the second member's "Tag" value type: find "a1 62" ("b") and make it an array.
    for (std::size_t i = 0; i + 1 < b.size(); ++i)
        if (b[i] == 0xa1 && b[i + 1] == 'b')
            b[i] = 0x91;
    auto r = msgpack::decode<Outer>(b);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().code, "malformed");
    EXPECT_EQ(r.error().message.rfind("Members[1].Tag: ", 0), 0u) << r.error().message;

    auto port = bytes_of({0x81, 0xa4, 'P', 'o', 'r', 't', 0xce, 0, 1, 0, 0});
    auto p = msgpack::decode<Outer>(port);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.error().message.rfind("Port: integer 65536 out of range", 0), 0u) << p.error().message;

    auto tag = bytes_of({0x81, 0xa4, 'T', 'a', 'g', 's', 0x81, 0xa4, 'r', 'o', 'l', 'e', 0x01});
    auto t = msgpack::decode<Outer>(tag);
    ASSERT_FALSE(t.ok());
    EXPECT_EQ(t.error().message.rfind("Tags.role: ", 0), 0u) << t.error().message;
}

TEST(MsgpackValue, BuildsATreeWithKinds) {
    auto in = bytes_of({0x82, 0xa1, 'a', 0xff, 0xc4, 1, 'b', 0x92, 0xcc, 200, 0xc3});
    Reader r(in);
    auto v = read_value(r);
    ASSERT_TRUE(v.ok()) << v.error().message;
    ASSERT_TRUE(v->is_map());
    std::int64_t i = 0;
    ASSERT_NE(v->find("a"), nullptr);
    EXPECT_TRUE(v->find("a")->as_int(i));
    EXPECT_EQ(i, -1);
    const Value* arr = v->find("b");
    ASSERT_NE(arr, nullptr);
    EXPECT_EQ(arr->items[0].kind, Value::Kind::UInt);
    EXPECT_EQ(arr->items[1].kind, Value::Kind::Bool);
    auto ext = bytes_of({0xd4, 1, 2});
    Reader re(ext);
    EXPECT_EQ(read_value(re).error().code, "malformed");
}

} // namespace
} // namespace clusterd::codec::msgpack
