// Address parsing and advertise-address selection for the asio edge.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/result.hpp"

namespace clusterd::net {

/// A parsed "host:port" / "[v6]:port" / "host" string.
struct HostPort {
    std::string host; ///< without brackets; may be empty ("":7946 = all addresses)
    std::uint16_t port = 0;
};

/// Parses `text` as host[:port]; IPv6 must be bracketed when a port is given ("[::1]:7946").
/// A missing port takes `default_port`. Errors name the text and what is wrong.
base::Result<HostPort> parse_host_port(std::string_view text, std::uint16_t default_port);

/// True for a literal IPv4/IPv6 address (no DNS).
bool is_ip_literal(std::string_view host);

/// The 4 (IPv4) or 16 (IPv6) address bytes of a literal, as memberlist carries them.
base::Result<base::Bytes> ip_bytes(std::string_view host);
/// Inverse of ip_bytes: "1.2.3.4" or "::1"; empty for a bad length.
std::string ip_string(base::ByteView bytes);
/// "1.2.3.4:7946" or "[::1]:7946".
std::string join_host_port(std::string_view host, std::uint16_t port);

/// True when the packets of a socket bound to bind_host:bind_port carry exactly the advertised
/// address and port as their source: bound to that one address (not "0.0.0.0", "::" or empty,
/// where the kernel picks the source by route) and port, byte for byte. Then pings can leave
/// their source address out (swim::Config::ping_source_implied).
bool source_is_advertised(std::string_view bind_host, std::uint16_t bind_port,
                          std::string_view advertise_host, std::uint16_t advertise_port);

/// True for a 16-byte IPv4-mapped IPv6 address (::ffff:a.b.c.d). Serf bound to 0.0.0.0 without
/// an advertise address gossips its own address in this form.
bool is_v4_mapped(base::ByteView ip);

/// Which socket a gossip address is about to be used with.
enum class SocketFamily { V4, V6 };
/// The address bytes to build a socket endpoint from, for a gossip address `ip`. Gossip state
/// keeps the bytes a peer announced (memberlist compares them byte for byte); only where a
/// socket address is made are they mapped: an IPv4-mapped address becomes plain IPv4 for an
/// IPv4 socket, and plain IPv4 becomes IPv4-mapped for an IPv6 (dual-stack) socket. Native IPv6
/// bytes are returned unchanged (an IPv4 socket cannot reach them).
base::Bytes endpoint_ip(base::ByteView ip, SocketFamily family);

/// The first global or unique-local IPv6 address of this host's interfaces (no loopback, no
/// link-local), or nullopt: the advertise address of an IPv6-only host bound to "::".
std::optional<std::string> first_ipv6();

/// Resolves a host name or IP literal to its addresses (IPv4 first, then IPv6, each in resolver
/// order, duplicates removed), as address strings. An error names the host and the reason.
base::Result<std::vector<std::string>> resolve_host(const std::string& host);

/// True for RFC 1918 / RFC 6598 private IPv4 addresses.
bool is_private_ipv4(std::string_view ip);
/// True for 127.0.0.0/8 and ::1.
bool is_loopback(std::string_view ip);

/// The first non-loopback private IPv4 address of this host's interfaces (the rule Serf and
/// Kong use when binding 0.0.0.0), or nullopt when there is none.
std::optional<std::string> first_private_ipv4();

} // namespace clusterd::net
