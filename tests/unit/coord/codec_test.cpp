// Golden bytes and bad-input handling for the ping-ack coordinate payload.
#include <gtest/gtest.h>

#include <cstring>

#include "clusterd/coord/codec.hpp"

using namespace clusterd;

namespace {
void put_f64(base::Bytes& out, double d) {
    std::uint64_t bits;
    std::memcpy(&bits, &d, 8);
    out.push_back(0xcb);
    for (int i = 7; i >= 0; --i)
        out.push_back(static_cast<std::uint8_t>(bits >> (8 * i)));
}
void put_str(base::Bytes& out, const char* s) {
    out.push_back(static_cast<std::uint8_t>(0xa0 | std::strlen(s)));
    out.insert(out.end(), s, s + std::strlen(s));
}
} // namespace

TEST(CoordCodec, FreshCoordinateGoldenBytes) {
    auto c = coord::Coordinate::fresh(coord::Config{});
    base::Bytes want{0x01, 0x84};
    put_str(want, "Vec");
    want.push_back(0x98);
    for (int i = 0; i < 8; ++i)
        put_f64(want, 0.0);
    put_str(want, "Error");
    put_f64(want, 1.5);
    put_str(want, "Adjustment");
    put_f64(want, 0.0);
    put_str(want, "Height");
    put_f64(want, 1e-5);
    EXPECT_EQ(base::to_hex(coord::encode_ping_payload(c)), base::to_hex(want));
}

TEST(CoordCodec, RoundTrip) {
    auto c = coord::Coordinate::fresh(coord::Config{});
    c.vec = {0.1, -0.2, 0.3, 1e-9, 0, 0, 5, -7};
    c.error = 0.42;
    c.adjustment = -0.001;
    c.height = 0.0123;
    auto r = coord::decode_ping_payload(coord::encode_ping_payload(c));
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(*r, c);
}

TEST(CoordCodec, AcceptsReorderedKeysIntegersAndUnknownKeys) {
    base::Bytes in{0x85};
    put_str(in, "Height");
    in.push_back(0x01); // positive fixint
    put_str(in, "Extra");
    in.push_back(0xc0);
    put_str(in, "Vec");
    in.push_back(0x92);
    put_f64(in, 0.5);
    in.push_back(0xff); // -1
    put_str(in, "Error");
    put_f64(in, 1.0);
    put_str(in, "Adjustment");
    put_f64(in, 0.25);
    auto r = coord::decode_coordinate(in);
    ASSERT_TRUE(r.ok()) << r.error().message;
    EXPECT_EQ(r->vec, (std::vector<double>{0.5, -1.0}));
    EXPECT_DOUBLE_EQ(r->height, 1.0);
    EXPECT_DOUBLE_EQ(r->adjustment, 0.25);
}

TEST(CoordCodec, BadInputIsAnError) {
    EXPECT_EQ(coord::decode_ping_payload({}).error().code, "empty");
    base::Bytes v2{0x02, 0x80};
    EXPECT_EQ(coord::decode_ping_payload(v2).error().code, "bad_version");
    base::Bytes trunc = coord::encode_ping_payload(coord::Coordinate::fresh(coord::Config{}));
    for (std::size_t cut = 1; cut < trunc.size(); ++cut) {
        auto r = coord::decode_ping_payload(base::ByteView(trunc.data(), cut));
        EXPECT_FALSE(r.ok()) << cut;
    }
    base::Bytes not_map{0x01, 0x93, 0x01, 0x02, 0x03};
    EXPECT_EQ(coord::decode_ping_payload(not_map).error().code, "malformed");
    base::Bytes huge_array{0x01, 0x81, 0xa3, 'V', 'e', 'c', 0xdd, 0xf0, 0, 0, 0};
    EXPECT_FALSE(coord::decode_ping_payload(huge_array).ok());
    base::Bytes vec_str{0x01, 0x81, 0xa3, 'V', 'e', 'c', 0xa1, 'x'};
    EXPECT_FALSE(coord::decode_ping_payload(vec_str).ok());
}
