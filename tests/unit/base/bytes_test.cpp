#include <gtest/gtest.h>

#include "clusterd/base/bytes.hpp"

using namespace clusterd::base;

TEST(Base64, RoundTripsAllLengths) {
    for (std::size_t n = 0; n < 40; ++n) {
        Bytes in;
        for (std::size_t i = 0; i < n; ++i)
            in.push_back(static_cast<std::uint8_t>(i * 37 + 11));
        Bytes out;
        ASSERT_TRUE(base64_decode(base64_encode(in), out)) << n;
        EXPECT_EQ(in, out);
    }
}

TEST(Base64, KnownVectors) {
    EXPECT_EQ(base64_encode(to_bytes("foobar")), "Zm9vYmFy");
    EXPECT_EQ(base64_encode(to_bytes("fo")), "Zm8=");
    Bytes out;
    ASSERT_TRUE(base64_decode("Zm9vYg==", out));
    EXPECT_EQ(to_string(out), "foob");
}

TEST(Base64, RejectsGarbage) {
    Bytes out;
    EXPECT_FALSE(base64_decode("Zm9", out));
    EXPECT_FALSE(base64_decode("Zm9v!mFy", out));
    EXPECT_FALSE(base64_decode("Z===", out));
    EXPECT_FALSE(base64_decode("Zm=vYmFy", out));
}

TEST(Hex, RoundTrip) {
    Bytes b{0x00, 0xff, 0x10, 0xab};
    EXPECT_EQ(to_hex(b), "00ff10ab");
    Bytes out;
    ASSERT_TRUE(from_hex("00 FF 10\nab", out));
    EXPECT_EQ(out, b);
    EXPECT_FALSE(from_hex("abc", out));
    EXPECT_FALSE(from_hex("zz", out));
}
