// Serf message codecs: seeded round trips over every type, tags, filters, relay and size limits.
#include <gtest/gtest.h>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/rng.hpp"
#include "clusterd/wire/serf_messages.hpp"

using namespace clusterd;
using namespace clusterd::wire;

namespace {

std::string rand_str(base::Rng& rng, std::size_t max) {
    std::string s(rng.below(max + 1), 'a');
    for (auto& c : s)
        c = static_cast<char>('a' + rng.below(26));
    return s;
}

base::Bytes rand_bytes(base::Rng& rng, std::size_t max) {
    base::Bytes b(rng.below(max + 1));
    for (auto& x : b)
        x = static_cast<std::uint8_t>(rng.next());
    return b;
}

SerfMessage random_message(base::Rng& rng) {
    switch (rng.below(10)) {
    case 0:
        return SerfLeave{rng.next(), rand_str(rng, 40), rng.chance(0.5)};
    case 1:
        return SerfJoin{rng.next(), rand_str(rng, 40)};
    case 2: {
        SerfPushPull pp;
        pp.ltime = rng.next();
        for (std::size_t i = rng.below(20); i > 0; --i)
            pp.status_ltimes[rand_str(rng, 10)] = rng.next();
        for (std::size_t i = rng.below(5); i > 0; --i)
            pp.left_members.push_back(rand_str(rng, 10));
        pp.event_ltime = rng.below(1000);
        for (std::size_t i = rng.below(40); i > 0; --i) {
            if (rng.chance(0.6)) {
                pp.events.emplace_back(std::nullopt);
            } else {
                SerfUserEvents e{rng.below(1000), {}};
                for (std::size_t k = 1 + rng.below(3); k > 0; --k)
                    e.events.push_back({rand_str(rng, 8), rand_bytes(rng, 20)});
                pp.events.emplace_back(std::move(e));
            }
        }
        pp.query_ltime = rng.below(1000);
        return pp;
    }
    case 3:
        return SerfUserEvent{rng.next(), rand_str(rng, 30), rand_bytes(rng, 600), rng.chance(0.5)};
    case 4: {
        SerfQuery q{rng.next(),
                    static_cast<std::uint32_t>(rng.next()),
                    {10, 1, 2, 3},
                    7946,
                    rand_str(rng, 10),
                    {},
                    static_cast<std::uint32_t>(rng.below(4)),
                    static_cast<std::uint8_t>(rng.below(3)),
                    base::Duration{static_cast<std::int64_t>(rng.below(1ULL << 40))},
                    rand_str(rng, 20),
                    rand_bytes(rng, 100)};
        if (rng.chance(0.5))
            q.filters.push_back(encode_filter(FilterNodes{{"a", "b"}}));
        if (rng.chance(0.5))
            q.filters.push_back(encode_filter(FilterTag{"role", "web.*"}));
        return q;
    }
    case 5:
        return SerfQueryResponse{rng.next(), static_cast<std::uint32_t>(rng.next()), rand_str(rng, 10),
                                 static_cast<std::uint32_t>(rng.below(2)), rand_bytes(rng, 100)};
    case 6: {
        SerfConflictResponse c{rand_str(rng, 10),
                               {127, 0, 0, 1},
                               7946,
                               {},
                               static_cast<std::int64_t>(rng.below(5)),
                               1,
                               5,
                               2,
                               2,
                               5,
                               4};
        c.tags["role"] = rand_str(rng, 5);
        return c;
    }
    case 7: {
        base::Bytes key(16 + 8 * rng.below(3));
        for (auto& x : key)
            x = static_cast<std::uint8_t>(rng.next());
        return SerfKeyRequest{key};
    }
    case 8:
        return SerfKeyResponse{rng.chance(0.5), rand_str(rng, 30), {"a2V5", "b3RoZXI="}, "a2V5"};
    default: {
        SerfQueryResponse inner{rng.next(), 5, "n", 1, {}};
        return SerfRelay{{127, 0, 0, 2}, 7946, "", rand_str(rng, 10), encode_serf(inner)};
    }
    }
}

template <typename T> std::string code(const base::Result<T>& r) {
    return r.ok() ? std::string("ok") : r.error().code;
}

} // namespace

TEST(WireSerf, RoundTripEveryTypeSeeded) {
    base::Rng rng(2024);
    std::array<int, 10> seen{};
    for (int i = 0; i < 2000; ++i) {
        SerfMessage m = random_message(rng);
        auto b = encode_serf(m);
        EXPECT_EQ(b[0], static_cast<std::uint8_t>(serf_message_type(m)));
        auto d = decode_serf(b);
        ASSERT_TRUE(d.ok()) << d.error().message;
        ASSERT_EQ(*d, m) << "iteration " << i;
        // deterministic: encoding the decoded value gives the same bytes
        EXPECT_EQ(encode_serf(*d), b);
        ++seen[static_cast<std::size_t>(b[0])];
        // every strict prefix fails cleanly (or, for relay, may lose only inner bytes)
        if (i % 50 == 0) {
            for (std::size_t cut = 0; cut + 1 < b.size(); cut += 1 + b.size() / 40) {
                auto p = decode_serf(base::ByteView(b).first(cut));
                if (p.ok()) {
                    EXPECT_EQ(b[0], static_cast<std::uint8_t>(SerfMsgType::Relay));
                }
            }
        }
    }
    for (int t = 0; t < 10; ++t)
        EXPECT_GT(seen[static_cast<std::size_t>(t)], 0) << "type " << t;
}

TEST(WireSerf, UserEventFieldOrderMatchesGo) {
    // go-msgpack writes fields sorted by name: CC, LTime, Name, Payload.
    auto b = encode_serf(SerfUserEvent{1, "deploy", base::to_bytes("x"), true});
    EXPECT_EQ(base::to_hex(b), "0384a24343c3a54c54696d6501a44e616d65a66465706c6f79a75061796c6f6164a178");
}

TEST(WireSerf, TagsEncodingAndLegacyRole) {
    std::map<std::string, std::string> tags{{"role", "web"}};
    auto meta = encode_tags(tags);
    EXPECT_EQ(base::to_hex(meta), "ff81a4726f6c65a3776562");
    auto d = decode_tags(meta);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(*d, tags);
    auto legacy = decode_tags(base::to_bytes("web"));
    ASSERT_TRUE(legacy.ok());
    EXPECT_EQ(legacy->at("role"), "web");
    auto none = decode_tags({});
    ASSERT_TRUE(none.ok());
    EXPECT_EQ(none->at("role"), "");
    EXPECT_EQ(encode_tags_legacy(tags), base::to_bytes("web"));
    EXPECT_EQ(base::to_hex(encode_tags({})), "ff80");
    base::Bytes broken = {0xff, 0x81, 0xa4, 'r'};
    EXPECT_EQ(code(decode_tags(broken)), "truncated");
    base::Bytes wrong = {0xff, 0x93};
    EXPECT_EQ(code(decode_tags(wrong)), "malformed");
}

TEST(WireSerf, Filters) {
    QueryFilter nodes = FilterNodes{{"alpha", "beta"}};
    QueryFilter tag = FilterTag{"role", "^web$"};
    auto nb = encode_filter(nodes);
    EXPECT_EQ(base::to_hex(nb), "0092a5616c706861a462657461");
    EXPECT_EQ(*decode_filter(nb), nodes);
    auto tb = encode_filter(tag);
    EXPECT_EQ(tb[0], 1);
    EXPECT_EQ(*decode_filter(tb), tag);
    EXPECT_EQ(code(decode_filter(base::Bytes{5, 0x90})), "unknown_type");
    EXPECT_EQ(code(decode_filter({})), "truncated");
}

TEST(WireSerf, DecodeErrors) {
    EXPECT_EQ(code(decode_serf({})), "truncated");
    EXPECT_EQ(code(decode_serf(base::Bytes{42, 0x80})), "unknown_type");
    EXPECT_EQ(code(decode_serf(base::Bytes{3, 0x81, 0xa2, 'C', 'C', 0x01})), "malformed"); // CC as int
    base::Bytes relay_no_inner = encode_serf(SerfRelay{{1, 2, 3, 4}, 1, "", "x", {}});
    EXPECT_EQ(code(decode_serf(relay_no_inner)), "truncated");
    // an event list that claims 2^32-1 entries in a few bytes is refused before allocating
    base::Bytes lie = {2, 0x81, 0xa6, 'E', 'v', 'e', 'n', 't', 's', 0xdd, 0xff, 0xff, 0xff, 0xff};
    EXPECT_EQ(code(decode_serf(lie)), "truncated");
}

TEST(WireSerf, SizeLimitsNameTheLimit) {
    std::string name = "ev";
    EXPECT_TRUE(check_user_event_size(name, base::Bytes(510, 0), 512).ok());
    auto e = check_user_event_size(name, base::Bytes(511, 0), 512);
    ASSERT_FALSE(e.ok());
    EXPECT_EQ(e.error().code, "too_large");
    EXPECT_NE(e.error().message.find("configured limit of 512 bytes"), std::string::npos);
    auto hard = check_user_event_size(name, base::Bytes(9300, 0), 100000);
    ASSERT_FALSE(hard.ok());
    EXPECT_NE(hard.error().message.find("9216"), std::string::npos);
    EXPECT_FALSE(check_encoded_user_event_size(513, 512).ok());
    EXPECT_TRUE(check_encoded_user_event_size(512, 512).ok());
    auto q = check_query_size(1025, kQuerySizeLimitDefault);
    ASSERT_FALSE(q.ok());
    EXPECT_EQ(q.error().message, "query exceeds limit of 1024 bytes");
    auto r = check_query_response_size(2000, kQueryResponseSizeLimitDefault);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.error().message, "response exceeds limit of 1024 bytes");
    EXPECT_FALSE(check_tags_size(513).ok());
    EXPECT_TRUE(check_tags_size(512).ok());
}

TEST(SerfMessages, FieldListDrivesSizeAndErrorsNameTheFieldPath) {
    SerfPushPull pp;
    pp.ltime = 9;
    pp.events.push_back(std::nullopt);
    pp.events.push_back(SerfUserEvents{3, {SerfEventEntry{"a", base::to_bytes("p")}}});
    auto bytes = encode_serf(pp);
    EXPECT_EQ(bytes[0], static_cast<std::uint8_t>(SerfPushPull::kType));
    EXPECT_EQ(bytes.size(), 1 + codec::msgpack::encoded_size(pp, codec::msgpack::Dialect::Gossip));
    // Make the inner event's name (fixstr "a") an array: the error names where it is.
    for (std::size_t i = 0; i + 1 < bytes.size(); ++i)
        if (bytes[i] == 0xa1 && bytes[i + 1] == 'a')
            bytes[i] = 0x91;
    auto d = decode_serf(bytes);
    ASSERT_FALSE(d.ok());
    EXPECT_EQ(d.error().code, "malformed");
    EXPECT_NE(d.error().message.find("Events[1].Events[0].Name: expected a string or bytes"),
              std::string::npos)
        << d.error().message;
}
