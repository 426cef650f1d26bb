// The mDNS message codec: a response as hashicorp/mdns (miekg/dns, compressed) writes it,
// round trips, and every error path (truncation at every cut, pointer loops and forward
// pointers, label types, lengths, counts).
#include <gtest/gtest.h>

#include "clusterd/base/bytes.hpp"
#include "clusterd/mdns/message.hpp"

using namespace clusterd;
using namespace clusterd::mdns;

namespace {

base::Bytes hex(const char* h) {
    base::Bytes b;
    EXPECT_TRUE(base::from_hex(h, b)) << h;
    return b;
}

// A query for _serf_lab._tcp.local. PTR (id 0x1234, RD clear), as Serf's client packs it.
const char* kQuery = "123400000001000000000000"
                     "095f736572665f6c6162045f746370056c6f63616c00"
                     "000c0001";

// The answer hashicorp/mdns sends for node "s1" on host "box" at 10.201.0.3:7946, compressed
// as miekg/dns compresses: PTR, SRV, A, TXT, TTL 120.
const char* kResponse = "000084000000000400000000095f736572665f6c6162045f746370056c6f63616c00000c000100000078"
                        "0005027331c00cc02c0021000100000078000b000a00011f0a03626f7800c04300010001000000780004"
                        "0ac90003c02c00100001000000780013125365726620276c61622720636c7573746572";

} // namespace

TEST(MdnsMessage, DecodesSerfsQuery) {
    auto m = decode(hex(kQuery));
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_EQ(m->id, 0x1234);
    EXPECT_FALSE(m->is_response());
    ASSERT_EQ(m->questions.size(), 1u);
    EXPECT_EQ(name_text(m->questions[0].name), "_serf_lab._tcp.local.");
    EXPECT_EQ(m->questions[0].type, kTypePtr);
    EXPECT_EQ(m->questions[0].klass, kClassIn);
    EXPECT_FALSE(m->questions[0].unicast_response);
    auto again = encode(*m);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(base::to_hex(*again), kQuery);
}

TEST(MdnsMessage, DecodesACompressedResponse) {
    auto m = decode(hex(kResponse));
    ASSERT_TRUE(m.ok()) << m.error().message;
    EXPECT_TRUE(m->is_response());
    EXPECT_EQ(m->flags, 0x8400);
    ASSERT_EQ(m->answers.size(), 4u);
    const auto& ptr = m->answers[0];
    EXPECT_EQ(ptr.type, kTypePtr);
    EXPECT_EQ(ptr.ttl, 120u);
    EXPECT_EQ(name_text(ptr.target), "s1._serf_lab._tcp.local.");
    const auto& srv = m->answers[1];
    EXPECT_EQ(srv.type, kTypeSrv);
    EXPECT_EQ(name_text(srv.name), "s1._serf_lab._tcp.local.");
    EXPECT_EQ(srv.priority, 10);
    EXPECT_EQ(srv.weight, 1);
    EXPECT_EQ(srv.port, 7946);
    EXPECT_EQ(name_text(srv.target), "box.");
    const auto& a = m->answers[2];
    EXPECT_EQ(a.type, kTypeA);
    EXPECT_EQ(name_text(a.name), "box.");
    EXPECT_EQ(a.addr[0], 10);
    EXPECT_EQ(a.addr[1], 201);
    EXPECT_EQ(a.addr[3], 3);
    const auto& txt = m->answers[3];
    ASSERT_EQ(txt.txt.size(), 1u);
    EXPECT_EQ(txt.txt[0], "Serf 'lab' cluster");
    // Our encoder compresses the same suffixes: the same bytes.
    auto again = encode(*m);
    ASSERT_TRUE(again.ok());
    EXPECT_EQ(base::to_hex(*again), base::to_hex(hex(kResponse)));
}

TEST(MdnsMessage, RoundTripsEveryFieldAndUnknownTypes) {
    Message m;
    m.id = 7;
    m.flags = Message::kResponse;
    m.questions.push_back(Question{name_from_text("Host.Local"), kTypeAny, kClassIn, true});
    Record aaaa;
    aaaa.name = name_from_text("host.local");
    aaaa.type = kTypeAaaa;
    aaaa.cache_flush = true;
    aaaa.ttl = 1;
    for (int i = 0; i < 16; ++i)
        aaaa.addr[static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(i);
    m.answers.push_back(aaaa);
    Record other;
    other.name = name_from_text("x.local");
    other.type = 47; // NSEC: opaque
    other.rdata = {1, 2, 3};
    m.authorities.push_back(other);
    Record empty_txt;
    empty_txt.name = name_from_text("x.local");
    empty_txt.type = kTypeTxt;
    m.additionals.push_back(empty_txt);
    auto bytes = encode(m);
    ASSERT_TRUE(bytes.ok()) << bytes.error().message;
    auto back = decode(*bytes);
    ASSERT_TRUE(back.ok()) << back.error().message;
    EXPECT_EQ(back->id, 7);
    ASSERT_EQ(back->questions.size(), 1u);
    EXPECT_TRUE(back->questions[0].unicast_response);
    EXPECT_EQ(back->questions[0].type, kTypeAny);
    EXPECT_TRUE(same_name(back->questions[0].name, name_from_text("host.local")));
    ASSERT_EQ(back->answers.size(), 1u);
    EXPECT_TRUE(back->answers[0].cache_flush);
    EXPECT_EQ(back->answers[0].klass, kClassIn);
    EXPECT_EQ(back->answers[0].addr, aaaa.addr);
    ASSERT_EQ(back->authorities.size(), 1u);
    EXPECT_EQ(back->authorities[0].rdata, other.rdata);
    ASSERT_EQ(back->additionals.size(), 1u);
    ASSERT_EQ(back->additionals[0].txt.size(), 1u);
    EXPECT_EQ(back->additionals[0].txt[0], "");
}

TEST(MdnsMessage, EveryTruncationIsAnError) {
    for (const char* h : {kQuery, kResponse}) {
        auto full = hex(h);
        for (std::size_t cut = 0; cut < full.size(); ++cut) {
            base::Bytes part(full.begin(), full.begin() + static_cast<std::ptrdiff_t>(cut));
            auto m = decode(part);
            ASSERT_FALSE(m.ok()) << "cut at " << cut;
            EXPECT_TRUE(m.error().code == "truncated" || m.error().code == "malformed")
                << cut << ": " << m.error().code << " " << m.error().message;
        }
    }
}

TEST(MdnsMessage, PointerLoopsAndForwardPointersAreRefused) {
    // One question whose name is a pointer to itself (offset 12).
    auto self = decode(hex("000000000001000000000000c00c00010001"));
    ASSERT_FALSE(self.ok());
    EXPECT_EQ(self.error().code, "malformed");
    EXPECT_NE(self.error().message.find("does not point backwards"), std::string::npos)
        << self.error().message;
    // A label, then a pointer back to that label: a loop through two hops.
    auto loop = decode(hex("00000000000100000000000001 61 c00c 00010001"));
    ASSERT_FALSE(loop.ok());
    EXPECT_EQ(loop.error().code, "malformed");
    // A forward pointer.
    auto fwd = decode(hex("000000000001000000000000c01000010001 0000"));
    ASSERT_FALSE(fwd.ok());
    EXPECT_EQ(fwd.error().code, "malformed");
}

TEST(MdnsMessage, LabelTypesLengthsAndCountsAreChecked) {
    // Label type 0x40 (extended) is refused.
    auto ext = decode(hex("000000000001000000000000410000010001"));
    ASSERT_FALSE(ext.ok());
    EXPECT_NE(ext.error().message.find("label type"), std::string::npos) << ext.error().message;
    // An A record with 5 bytes of rdata.
    auto a5 = decode(hex("000084000000000100000000"
                         "00"
                         "0001000100000078"
                         "0005"
                         "0102030405"));
    ASSERT_FALSE(a5.ok());
    EXPECT_NE(a5.error().message.find("A rdata of 5 bytes"), std::string::npos) << a5.error().message;
    // A TXT string longer than its rdata.
    auto txt = decode(hex("000084000000000100000000"
                          "00"
                          "0010000100000078"
                          "0002"
                          "0561"));
    ASSERT_FALSE(txt.ok());
    EXPECT_EQ(txt.error().code, "truncated");
    // 65535 answers claimed in a 12-byte message: refused before anything is allocated.
    auto many = decode(hex("00008400"
                           "0000"
                           "ffff"
                           "0000"
                           "0000"));
    ASSERT_FALSE(many.ok());
    EXPECT_EQ(many.error().code, "too_large");
    auto counted = decode(hex("00008400"
                              "0000"
                              "0010"
                              "0000"
                              "0000"));
    ASSERT_FALSE(counted.ok());
    EXPECT_EQ(counted.error().code, "truncated");
    // A name over 255 octets (five 63-octet labels).
    std::string big = "000000000001000000000000";
    for (int i = 0; i < 5; ++i) {
        big += "3f";
        for (int j = 0; j < 63; ++j)
            big += "61";
    }
    big += "0000010001";
    auto longname = decode(hex(big.c_str()));
    ASSERT_FALSE(longname.ok());
    EXPECT_NE(longname.error().message.find("longer than 255"), std::string::npos);
    // Over 9000 bytes.
    auto huge = decode(base::Bytes(9001, 0));
    ASSERT_FALSE(huge.ok());
    EXPECT_EQ(huge.error().code, "too_large");
}

TEST(MdnsMessage, EncodeRefusesWhatCannotBeWritten) {
    Message m;
    m.questions.push_back(Question{Name{std::string(64, 'x'), "local"}, kTypePtr, kClassIn, false});
    auto r = encode(m);
    ASSERT_FALSE(r.ok());
    EXPECT_NE(r.error().message.find("over 63 octets"), std::string::npos);
    m.questions[0].name = Name{"a", "", "local"};
    EXPECT_FALSE(encode(m).ok());
}

TEST(MdnsMessage, NamesCompareWithoutCase) {
    EXPECT_TRUE(same_name(name_from_text("_Serf_LAB._tcp.local."), name_from_text("_serf_lab._tcp.local")));
    EXPECT_FALSE(same_name(name_from_text("a.local"), name_from_text("b.local")));
    EXPECT_TRUE(ends_with(name_from_text("s1._serf_lab._tcp.local"), name_from_text("_serf_lab._tcp.LOCAL")));
    EXPECT_FALSE(ends_with(name_from_text("local"), name_from_text("_tcp.local")));
    EXPECT_EQ(name_text({}), ".");
}
