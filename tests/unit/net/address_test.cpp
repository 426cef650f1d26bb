#include <gtest/gtest.h>

#include "clusterd/net/address.hpp"

using namespace clusterd::net;

TEST(ParseHostPort, Forms) {
    auto a = parse_host_port("127.0.0.1:7946", 1);
    ASSERT_TRUE(a.ok());
    EXPECT_EQ(a->host, "127.0.0.1");
    EXPECT_EQ(a->port, 7946);
    auto b = parse_host_port("10.0.0.1", 7946);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(b->port, 7946);
    auto c = parse_host_port("[::1]:8000", 1);
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(c->host, "::1");
    EXPECT_EQ(c->port, 8000);
    auto d = parse_host_port("::1", 9);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(d->host, "::1");
    EXPECT_EQ(d->port, 9);
}

TEST(ParseHostPort, Errors) {
    EXPECT_FALSE(parse_host_port("1.2.3.4:", 1).ok());
    EXPECT_FALSE(parse_host_port("1.2.3.4:99999", 1).ok());
    EXPECT_FALSE(parse_host_port("1.2.3.4:ab", 1).ok());
    EXPECT_FALSE(parse_host_port("[::1", 1).ok());
    auto e = parse_host_port("1.2.3.4:70000", 1);
    ASSERT_FALSE(e.ok());
    EXPECT_NE(e.error().message.find("70000"), std::string::npos);
}

TEST(IpBytes, RoundTrip) {
    auto v4 = ip_bytes("127.0.0.5");
    ASSERT_TRUE(v4.ok());
    EXPECT_EQ(v4->size(), 4u);
    EXPECT_EQ(ip_string(*v4), "127.0.0.5");
    auto v6 = ip_bytes("fe80::1");
    ASSERT_TRUE(v6.ok());
    EXPECT_EQ(v6->size(), 16u);
    EXPECT_EQ(ip_string(*v6), "fe80::1");
    auto mapped = ip_bytes("::ffff:10.1.2.3");
    ASSERT_TRUE(mapped.ok());
    EXPECT_EQ(ip_string(*mapped), "10.1.2.3");
    EXPECT_FALSE(ip_bytes("example.com").ok());
}

TEST(Classify, PrivateAndLoopback) {
    EXPECT_TRUE(is_private_ipv4("10.1.1.1"));
    EXPECT_TRUE(is_private_ipv4("172.20.0.1"));
    EXPECT_FALSE(is_private_ipv4("172.32.0.1"));
    EXPECT_TRUE(is_private_ipv4("192.168.3.3"));
    EXPECT_FALSE(is_private_ipv4("8.8.8.8"));
    EXPECT_TRUE(is_loopback("127.9.9.9"));
    EXPECT_TRUE(is_loopback("::1"));
    EXPECT_FALSE(is_loopback("10.0.0.1"));
    EXPECT_EQ(join_host_port("::1", 5), "[::1]:5");
    EXPECT_EQ(join_host_port("1.2.3.4", 5), "1.2.3.4:5");
}
