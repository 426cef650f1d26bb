#include "clusterd/net/address.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <charconv>

namespace clusterd::net {

base::Result<HostPort> parse_host_port(std::string_view text, std::uint16_t default_port) {
    HostPort hp;
    hp.port = default_port;
    std::string_view rest;
    if (!text.empty() && text.front() == '[') {
        auto close = text.find(']');
        if (close == std::string_view::npos)
            return base::make_error("bad_address", "address '" + std::string(text) + "': missing ']'");
        hp.host = std::string(text.substr(1, close - 1));
        rest = text.substr(close + 1);
        if (!rest.empty() && rest.front() != ':')
            return base::make_error("bad_address", "address '" + std::string(text) + "': junk after ']'");
        if (!rest.empty())
            rest.remove_prefix(1);
        else
            rest = {};
        if (text.size() > close + 1 && rest.empty())
            return base::make_error("bad_address", "address '" + std::string(text) + "': empty port");
    } else {
        auto colon = text.rfind(':');
        if (colon != std::string_view::npos && text.find(':') != colon) {
            // Several colons and no brackets: a bare IPv6 address without a port.
            hp.host = std::string(text);
        } else if (colon != std::string_view::npos) {
            hp.host = std::string(text.substr(0, colon));
            rest = text.substr(colon + 1);
            if (rest.empty())
                return base::make_error("bad_address", "address '" + std::string(text) + "': empty port");
        } else {
            hp.host = std::string(text);
        }
    }
    if (!rest.empty()) {
        unsigned value = 0;
        auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), value);
        if (ec != std::errc() || p != rest.data() + rest.size() || value > 65535)
            return base::make_error("bad_address", "address '" + std::string(text) + "': port '" +
                                                       std::string(rest) +
                                                       "' is not a number from 0 to 65535");
        hp.port = static_cast<std::uint16_t>(value);
    }
    return hp;
}

bool is_ip_literal(std::string_view host) {
    std::string h(host);
    in6_addr a6{};
    in_addr a4{};
    return inet_pton(AF_INET, h.c_str(), &a4) == 1 || inet_pton(AF_INET6, h.c_str(), &a6) == 1;
}

base::Result<base::Bytes> ip_bytes(std::string_view host) {
    std::string h(host);
    in_addr a4{};
    if (inet_pton(AF_INET, h.c_str(), &a4) == 1) {
        auto* p = reinterpret_cast<const std::uint8_t*>(&a4);
        return base::Bytes(p, p + 4);
    }
    in6_addr a6{};
    if (inet_pton(AF_INET6, h.c_str(), &a6) == 1) {
        auto* p = reinterpret_cast<const std::uint8_t*>(&a6);
        return base::Bytes(p, p + 16);
    }
    return base::make_error("bad_address", "'" + h + "' is not an IP address");
}

bool source_is_advertised(std::string_view bind_host, std::uint16_t bind_port,
                          std::string_view advertise_host, std::uint16_t advertise_port) {
    if (bind_port == 0 || bind_port != advertise_port)
        return false;
    auto b = ip_bytes(bind_host);
    auto a = ip_bytes(advertise_host);
    if (!b || !a || *b != *a)
        return false;
    return std::any_of(b->begin(), b->end(), [](std::uint8_t x) { return x != 0; }); // not unspecified
}

std::string ip_string(base::ByteView bytes) {
    char buf[INET6_ADDRSTRLEN] = {};
    if (bytes.size() == 4) {
        inet_ntop(AF_INET, bytes.data(), buf, sizeof buf);
    } else if (bytes.size() == 16) {
        // An IPv4-mapped IPv6 address prints as plain IPv4, as Go's net.IP does.
        if (is_v4_mapped(bytes))
            return ip_string(bytes.subspan(12));
        inet_ntop(AF_INET6, bytes.data(), buf, sizeof buf);
    }
    return buf;
}

namespace {
constexpr std::uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
}

bool is_v4_mapped(base::ByteView ip) {
    return ip.size() == 16 && std::equal(kMappedPrefix, kMappedPrefix + 12, ip.begin());
}

base::Bytes endpoint_ip(base::ByteView ip, SocketFamily family) {
    if (family == SocketFamily::V4 && is_v4_mapped(ip))
        return base::Bytes(ip.begin() + 12, ip.end());
    if (family == SocketFamily::V6 && ip.size() == 4) {
        base::Bytes out(kMappedPrefix, kMappedPrefix + 12);
        out.insert(out.end(), ip.begin(), ip.end());
        return out;
    }
    return base::Bytes(ip.begin(), ip.end());
}

namespace {

/// The first address of `family` on the host's interfaces (as text) that `accept` takes.
template <typename Accept> std::optional<std::string> first_interface_address(int family, Accept accept) {
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0)
        return std::nullopt;
    std::optional<std::string> found;
    for (ifaddrs* it = list; it != nullptr && !found; it = it->ifa_next) {
        if (it->ifa_addr == nullptr || it->ifa_addr->sa_family != family)
            continue;
        char buf[INET6_ADDRSTRLEN] = {};
        const void* raw =
            family == AF_INET6
                ? static_cast<const void*>(&reinterpret_cast<const sockaddr_in6*>(it->ifa_addr)->sin6_addr)
                : static_cast<const void*>(&reinterpret_cast<const sockaddr_in*>(it->ifa_addr)->sin_addr);
        inet_ntop(family, raw, buf, sizeof buf);
        if (accept(raw, std::string(buf)))
            found = buf;
    }
    freeifaddrs(list);
    return found;
}

} // namespace

std::optional<std::string> first_ipv6() {
    return first_interface_address(AF_INET6, [](const void* raw, const std::string&) {
        const auto& a = *static_cast<const in6_addr*>(raw);
        return !(IN6_IS_ADDR_LOOPBACK(&a) || IN6_IS_ADDR_LINKLOCAL(&a) || IN6_IS_ADDR_V4MAPPED(&a) ||
                 IN6_IS_ADDR_MULTICAST(&a) || IN6_IS_ADDR_UNSPECIFIED(&a));
    });
}

base::Result<std::vector<std::string>> resolve_host(const std::string& host) {
    if (is_ip_literal(host))
        return std::vector<std::string>{host};
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    addrinfo* res = nullptr;
    const int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0 || res == nullptr)
        return base::make_error(
            "resolve", "cannot resolve '" + host +
                           "': " + (rc == 0 ? std::string("no address") : std::string(gai_strerror(rc))));
    std::vector<std::string> v4, v6;
    for (addrinfo* it = res; it != nullptr; it = it->ai_next) {
        char buf[INET6_ADDRSTRLEN] = {};
        if (it->ai_family == AF_INET) {
            inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(it->ai_addr)->sin_addr, buf, sizeof buf);
            if (std::find(v4.begin(), v4.end(), buf) == v4.end())
                v4.emplace_back(buf);
        } else if (it->ai_family == AF_INET6) {
            inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(it->ai_addr)->sin6_addr, buf, sizeof buf);
            if (std::find(v6.begin(), v6.end(), buf) == v6.end())
                v6.emplace_back(buf);
        }
    }
    ::freeaddrinfo(res);
    v4.insert(v4.end(), v6.begin(), v6.end());
    if (v4.empty())
        return base::make_error("resolve", "cannot resolve '" + host + "': no IPv4 or IPv6 address");
    return v4;
}

std::string join_host_port(std::string_view host, std::uint16_t port) {
    std::string out;
    if (host.find(':') != std::string_view::npos) {
        out = "[" + std::string(host) + "]";
    } else {
        out = std::string(host);
    }
    return out + ":" + std::to_string(port);
}

bool is_private_ipv4(std::string_view ip) {
    auto b = ip_bytes(ip);
    if (!b || b->size() != 4)
        return false;
    const auto& v = *b;
    return v[0] == 10 || (v[0] == 172 && (v[1] & 0xF0) == 16) || (v[0] == 192 && v[1] == 168) ||
           (v[0] == 100 && (v[1] & 0xC0) == 64);
}

bool is_loopback(std::string_view ip) {
    auto b = ip_bytes(ip);
    if (!b)
        return false;
    if (b->size() == 4)
        return (*b)[0] == 127;
    base::Bytes one(16, 0);
    one[15] = 1;
    return *b == one;
}

std::optional<std::string> first_private_ipv4() {
    return first_interface_address(AF_INET, [](const void*, const std::string& text) {
        return !is_loopback(text) && is_private_ipv4(text);
    });
}

} // namespace clusterd::net
