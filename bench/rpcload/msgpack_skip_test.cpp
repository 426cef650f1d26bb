// Unit tests for rpcload's msgpack skipper / reader (bench/rpcload/msgpack_skip.hpp).
#include "msgpack_skip.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

namespace {

using rpcload::SkipStatus;
using Bytes = std::vector<std::uint8_t>;

Bytes cat(std::initializer_list<Bytes> parts) {
  Bytes out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

Bytes repeat(std::uint8_t b, std::size_t n) { return Bytes(n, b); }

// The object must skip to exactly its size, and every strict prefix must be "incomplete".
void expect_whole(const Bytes& obj) {
  const auto r = rpcload::skip_object(obj.data(), obj.size(), 0);
  ASSERT_EQ(r.status, SkipStatus::ok);
  EXPECT_EQ(r.end, obj.size());
  for (std::size_t n = 0; n < obj.size(); ++n) {
    EXPECT_EQ(rpcload::skip_object(obj.data(), n, 0).status, SkipStatus::incomplete) << "prefix " << n;
  }
  // Trailing bytes (a next object) are not consumed.
  Bytes more = obj;
  more.push_back(0x01);
  const auto r2 = rpcload::skip_object(more.data(), more.size(), 0);
  ASSERT_EQ(r2.status, SkipStatus::ok);
  EXPECT_EQ(r2.end, obj.size());
}

TEST(MsgpackSkip, Scalars) {
  expect_whole({0x00});
  expect_whole({0x7f});
  expect_whole({0xe0});
  expect_whole({0xff});
  expect_whole({0xc0});
  expect_whole({0xc2});
  expect_whole({0xc3});
  expect_whole({0xcc, 1});
  expect_whole({0xcd, 1, 2});
  expect_whole({0xce, 1, 2, 3, 4});
  expect_whole({0xcf, 1, 2, 3, 4, 5, 6, 7, 8});
  expect_whole({0xd0, 0xff});
  expect_whole({0xd1, 1, 2});
  expect_whole({0xd2, 1, 2, 3, 4});
  expect_whole({0xd3, 1, 2, 3, 4, 5, 6, 7, 8});
  expect_whole({0xca, 0x3f, 0x80, 0, 0});
  expect_whole({0xcb, 0x3f, 0xf0, 0, 0, 0, 0, 0, 0});
}

TEST(MsgpackSkip, StringsAndBinary) {
  expect_whole({0xa0});
  expect_whole(cat({{0xa3}, {'a', 'b', 'c'}}));
  expect_whole(cat({{0xbf}, repeat('x', 31)}));
  expect_whole(cat({{0xd9, 40}, repeat('x', 40)}));
  expect_whole(cat({{0xda, 0x01, 0x00}, repeat('x', 256)}));
  expect_whole(cat({{0xdb, 0, 0, 0x01, 0x02}, repeat('x', 258)}));
  expect_whole({0xc4, 0});
  expect_whole(cat({{0xc4, 3}, {1, 2, 3}}));
  expect_whole(cat({{0xc5, 0x01, 0x00}, repeat(7, 256)}));
  expect_whole(cat({{0xc6, 0, 0, 0, 5}, repeat(7, 5)}));
}

TEST(MsgpackSkip, Extensions) {
  expect_whole({0xd4, 1, 0xaa});
  expect_whole({0xd5, 1, 0xaa, 0xbb});
  expect_whole(cat({{0xd6, 1}, repeat(9, 4)}));
  expect_whole(cat({{0xd7, 0xff}, repeat(9, 8)}));
  expect_whole(cat({{0xd8, 2}, repeat(9, 16)}));
  expect_whole({0xc7, 0, 5});
  expect_whole(cat({{0xc7, 3, 5}, {1, 2, 3}}));
  expect_whole(cat({{0xc8, 0x01, 0x00, 5}, repeat(1, 256)}));
  expect_whole(cat({{0xc9, 0, 0, 0, 2, 5}, {1, 2}}));
}

TEST(MsgpackSkip, Containers) {
  expect_whole({0x90});
  expect_whole({0x80});
  expect_whole({0x93, 0x01, 0xa1, 'x', 0xc0});
  expect_whole({0x82, 0xa1, 'a', 0x01, 0xa1, 'b', 0x92, 0x01, 0x80});
  expect_whole(cat({{0xdc, 0x00, 0x03}, {0x01, 0x02, 0x03}}));
  expect_whole(cat({{0xdd, 0, 0, 0, 2}, {0xc3, 0xc2}}));
  expect_whole(cat({{0xde, 0x00, 0x01}, {0xa1, 'k', 0xcc, 0xff}}));
  expect_whole(cat({{0xdf, 0, 0, 0, 1}, {0xa1, 'k', 0x91, 0x90}}));
  expect_whole({0xdc, 0x00, 0x00});
  expect_whole({0xdf, 0, 0, 0, 0});
}

TEST(MsgpackSkip, DeepNestingNeedsNoStack) {
  Bytes deep(100000, 0x91);  // [[[[...0...]]]]
  deep.push_back(0x00);
  const auto r = rpcload::skip_object(deep.data(), deep.size(), 0);
  ASSERT_EQ(r.status, SkipStatus::ok);
  EXPECT_EQ(r.end, deep.size());
  EXPECT_EQ(rpcload::skip_object(deep.data(), deep.size() - 1, 0).status, SkipStatus::incomplete);
}

TEST(MsgpackSkip, MalformedAndHugeCounts) {
  const Bytes bad = {0xc1};
  EXPECT_EQ(rpcload::skip_object(bad.data(), bad.size(), 0).status, SkipStatus::malformed);
  const Bytes nested_bad = {0x92, 0x01, 0xc1};
  EXPECT_EQ(rpcload::skip_object(nested_bad.data(), nested_bad.size(), 0).status, SkipStatus::malformed);
  // A 4 GiB string / 2^32-1 element map announced but not present: incomplete, no overflow.
  const Bytes big_str = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
  EXPECT_EQ(rpcload::skip_object(big_str.data(), big_str.size(), 0).status, SkipStatus::incomplete);
  const Bytes big_map = {0xdf, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02};
  EXPECT_EQ(rpcload::skip_object(big_map.data(), big_map.size(), 0).status, SkipStatus::incomplete);
  const Bytes big_ext = {0xc9, 0xff, 0xff, 0xff, 0xff, 0x01};
  EXPECT_EQ(rpcload::skip_object(big_ext.data(), big_ext.size(), 0).status, SkipStatus::incomplete);
}

TEST(MsgpackSkip, ConcatenatedObjectsAtOffsets) {
  // header {"Error": "", "Seq": 300} + body {"Members": [{}, {}]}
  const Bytes stream = {0x82, 0xa5, 'E', 'r', 'r', 'o', 'r', 0xa0, 0xa3, 'S', 'e', 'q', 0xcd, 0x01, 0x2c,
                        0x81, 0xa7, 'M', 'e', 'm', 'b', 'e', 'r', 's', 0x92, 0x80, 0x80};
  const auto h = rpcload::skip_object(stream.data(), stream.size(), 0);
  ASSERT_EQ(h.status, SkipStatus::ok);
  EXPECT_EQ(h.end, 15u);
  const auto b = rpcload::skip_object(stream.data(), stream.size(), h.end);
  ASSERT_EQ(b.status, SkipStatus::ok);
  EXPECT_EQ(b.end, stream.size());
  EXPECT_EQ(rpcload::skip_object(stream.data(), stream.size(), b.end).status, SkipStatus::incomplete);

  rpcload::Reader r(stream.data(), h.end);
  std::uint64_t pairs = 0;
  ASSERT_TRUE(r.read_map(pairs));
  EXPECT_EQ(pairs, 2u);
  std::string_view s;
  ASSERT_TRUE(r.read_str(s));
  EXPECT_EQ(s, "Error");
  ASSERT_TRUE(r.read_str(s));
  EXPECT_TRUE(s.empty());
  ASSERT_TRUE(r.read_str(s));
  EXPECT_EQ(s, "Seq");
  std::uint64_t seq = 0;
  ASSERT_TRUE(r.read_uint(seq));
  EXPECT_EQ(seq, 300u);
  EXPECT_EQ(r.pos(), h.end);
}

TEST(MsgpackReader, RejectsWrongTypesAndTruncation) {
  const Bytes neg = {0xd0, 0xff};
  rpcload::Reader r1(neg.data(), neg.size());
  std::uint64_t v = 0;
  EXPECT_FALSE(r1.read_uint(v));
  const Bytes trunc = {0xcd, 0x01};
  rpcload::Reader r2(trunc.data(), trunc.size());
  EXPECT_FALSE(r2.read_uint(v));
  const Bytes short_str = {0xa5, 'a', 'b'};
  rpcload::Reader r3(short_str.data(), short_str.size());
  std::string_view s;
  EXPECT_FALSE(r3.read_str(s));
  const Bytes arr16 = {0xdc, 0x01, 0x00};
  rpcload::Reader r4(arr16.data(), arr16.size());
  std::uint64_t n = 0;
  ASSERT_TRUE(r4.read_array(n));
  EXPECT_EQ(n, 256u);
  rpcload::Reader r5(arr16.data(), arr16.size());
  EXPECT_FALSE(r5.read_map(n));
}

TEST(MsgpackWriter, SmallestUintAndStrForms) {
  std::string out;
  rpcload::put_uint(out, 5);
  rpcload::put_uint(out, 200);
  rpcload::put_uint(out, 300);
  rpcload::put_uint(out, 70000);
  rpcload::put_uint(out, 1ull << 40);
  const Bytes want = {0x05, 0xcc, 200, 0xcd, 0x01, 0x2c, 0xce, 0x00, 0x01, 0x11, 0x70,
                      0xcf, 0, 0, 0x01, 0, 0, 0, 0, 0};
  EXPECT_EQ(Bytes(out.begin(), out.end()), want);
  std::string s;
  rpcload::put_str(s, std::string(40, 'k'));
  EXPECT_EQ(static_cast<std::uint8_t>(s[0]), 0xd9);
  EXPECT_EQ(static_cast<std::uint8_t>(s[1]), 40);
  const auto r = rpcload::skip_object(reinterpret_cast<const std::uint8_t*>(s.data()), s.size(), 0);
  ASSERT_EQ(r.status, SkipStatus::ok);
  EXPECT_EQ(r.end, s.size());
}

}  // namespace
