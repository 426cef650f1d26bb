#include <gtest/gtest.h>

#include "clusterd/net/address.hpp"
#include "clusterd/net/driver.hpp"

namespace base = clusterd::base;
namespace net = clusterd::net;
namespace swim = clusterd::swim;

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

// Issue 13: a Serf agent bound to 0.0.0.0 without -advertise gossips its address as 16 bytes
// (::ffff:a.b.c.d). Gossip keeps those bytes; the socket address is mapped to the family of the
// socket it is sent from.
TEST(EndpointIp, Ipv4MappedBecomesIpv4ForAnIpv4Socket) {
    const base::Bytes mapped{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 201, 0, 4};
    EXPECT_TRUE(net::is_v4_mapped(mapped));
    EXPECT_EQ(net::endpoint_ip(mapped, net::SocketFamily::V4), (base::Bytes{10, 201, 0, 4}));
    EXPECT_EQ(net::endpoint_ip(mapped, net::SocketFamily::V6), mapped);
    const swim::Address a{mapped, 7946};
    EXPECT_EQ(net::to_asio(a).to_string(), "10.201.0.4");
    EXPECT_TRUE(net::to_asio(a).is_v4());
    EXPECT_EQ(net::to_asio(a, true).to_string(), "::ffff:10.201.0.4");
}

TEST(EndpointIp, Ipv4BecomesMappedForADualStackSocket) {
    const base::Bytes v4{10, 201, 0, 4};
    EXPECT_FALSE(net::is_v4_mapped(v4));
    EXPECT_EQ(net::endpoint_ip(v4, net::SocketFamily::V4), v4);
    EXPECT_EQ(net::to_asio(swim::Address{v4, 7946}, true).to_string(), "::ffff:10.201.0.4");
    EXPECT_EQ(net::to_asio(swim::Address{v4, 7946}, false).to_string(), "10.201.0.4");
}

TEST(EndpointIp, NativeIpv6IsUnchanged) {
    auto v6 = net::ip_bytes("fd00:cd::1");
    ASSERT_TRUE(v6);
    EXPECT_FALSE(net::is_v4_mapped(*v6));
    EXPECT_EQ(net::endpoint_ip(*v6, net::SocketFamily::V4), *v6);
    EXPECT_EQ(net::endpoint_ip(*v6, net::SocketFamily::V6), *v6);
    EXPECT_EQ(net::to_asio(swim::Address{*v6, 1}).to_string(), "fd00:cd::1");
    // Received packets from a mapped source become plain IPv4 (as memberlist's net.UDPAddr).
    auto src = net::to_swim(asio::ip::make_address("::ffff:10.1.2.3"), 5);
    EXPECT_EQ(src.ip, (base::Bytes{10, 1, 2, 3}));
}

// Literals never reach the resolver. (Names are tested in the lab, where DNS goes nowhere:
// a unit test must not send a query to this machine's real resolver.)
TEST(ResolveHost, LiteralsAreNotLookedUp) {
    auto lit = net::resolve_host("10.1.2.3");
    ASSERT_TRUE(lit);
    EXPECT_EQ(*lit, std::vector<std::string>{"10.1.2.3"});
    auto v6 = net::resolve_host("fd00::1");
    ASSERT_TRUE(v6);
    EXPECT_EQ(*v6, std::vector<std::string>{"fd00::1"});
}

// Pings leave their source address out only when the socket's packets carry exactly the
// advertised address and port (swim::Config::ping_source_implied).
TEST(SourceIsAdvertised, OnlyWhenBoundToTheAdvertisedAddressAndPort) {
    EXPECT_TRUE(net::source_is_advertised("127.0.0.1", 7946, "127.0.0.1", 7946));
    EXPECT_TRUE(net::source_is_advertised("fd00::5", 7946, "fd00:0::5", 7946));
    EXPECT_FALSE(net::source_is_advertised("0.0.0.0", 7946, "10.0.0.5", 7946)); // kernel picks the source
    EXPECT_FALSE(net::source_is_advertised("::", 7946, "fd00::5", 7946));
    EXPECT_FALSE(net::source_is_advertised("0.0.0.0", 7946, "0.0.0.0", 7946));
    EXPECT_FALSE(net::source_is_advertised("10.0.0.5", 7946, "10.0.0.6", 7946)); // advertise differs (NAT)
    EXPECT_FALSE(net::source_is_advertised("10.0.0.5", 7946, "10.0.0.5", 8946)); // port forwarded
    EXPECT_FALSE(net::source_is_advertised("10.0.0.5", 0, "10.0.0.5", 0));
    EXPECT_FALSE(net::source_is_advertised("::ffff:10.0.0.5", 7946, "10.0.0.5", 7946)); // other bytes
    EXPECT_FALSE(net::source_is_advertised("", 7946, "10.0.0.5", 7946));
}
