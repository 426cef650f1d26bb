// Names of statuses and event types; Go-style host:port formatting.
#include "clusterd/serf/member.hpp"
#include "clusterd/serf/event.hpp"

#include <arpa/inet.h>

#include <charconv>
#include <cstdio>

namespace clusterd::serf {

const char* status_name(MemberStatus s) {
    switch (s) {
    case MemberStatus::None:
        return "none";
    case MemberStatus::Alive:
        return "alive";
    case MemberStatus::Leaving:
        return "leaving";
    case MemberStatus::Left:
        return "left";
    case MemberStatus::Failed:
        return "failed";
    }
    return "unknown";
}

const char* event_type_name(EventType t) {
    switch (t) {
    case EventType::MemberJoin:
        return "member-join";
    case EventType::MemberLeave:
        return "member-leave";
    case EventType::MemberFailed:
        return "member-failed";
    case EventType::MemberUpdate:
        return "member-update";
    case EventType::MemberReap:
        return "member-reap";
    case EventType::User:
        return "user";
    case EventType::Query:
        return "query";
    }
    return "unknown";
}

EventType event_type(const Event& e) {
    if (const auto* m = std::get_if<MemberEvent>(&e))
        return m->type;
    if (std::holds_alternative<UserEvent>(e))
        return EventType::User;
    return EventType::Query;
}

namespace {
std::string ipv4(const std::uint8_t* b) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
    return buf;
}

std::string ipv6(const base::Bytes& ip) {
    std::uint16_t g[8];
    for (int i = 0; i < 8; ++i)
        g[i] = static_cast<std::uint16_t>((ip[2 * i] << 8) | ip[2 * i + 1]);
    // Longest run (>= 2) of zero groups becomes "::", the first one on ties.
    int best = -1, best_len = 0;
    for (int i = 0; i < 8;) {
        if (g[i] != 0) {
            ++i;
            continue;
        }
        int j = i;
        while (j < 8 && g[j] == 0)
            ++j;
        if (j - i > best_len && j - i >= 2) {
            best = i;
            best_len = j - i;
        }
        i = j;
    }
    std::string out;
    char buf[8];
    for (int i = 0; i < 8; ++i) {
        if (i == best) {
            out += "::";
            i += best_len - 1;
            continue;
        }
        if (!out.empty() && out.back() != ':')
            out += ':';
        std::snprintf(buf, sizeof buf, "%x", g[i]);
        out += buf;
    }
    return out;
}
} // namespace

namespace {
bool v4_mapped(const base::Bytes& ip) {
    if (ip.size() != 16 || ip[10] != 0xff || ip[11] != 0xff)
        return false;
    for (int i = 0; i < 10; ++i)
        if (ip[i] != 0)
            return false;
    return true;
}
} // namespace

std::string ip_string(const base::Bytes& ip) {
    if (ip.size() == 4)
        return ipv4(ip.data());
    if (ip.size() == 16)
        return v4_mapped(ip) ? ipv4(ip.data() + 12) : ipv6(ip);
    return ip.empty() ? "<nil>" : "?";
}

std::string host_port(const base::Bytes& ip, std::uint16_t port) {
    std::string host;
    if (ip.size() == 16 && !v4_mapped(ip))
        host = "[" + ipv6(ip) + "]";
    else if (ip.empty())
        host = "";
    else
        host = ip_string(ip);
    return host + ":" + std::to_string(port);
}

std::optional<std::pair<base::Bytes, std::uint16_t>> parse_host_port(const std::string& text) {
    auto colon = text.rfind(':');
    if (colon == std::string::npos || colon + 1 >= text.size())
        return std::nullopt;
    unsigned port = 0;
    const char* pb = text.data() + colon + 1;
    const char* pe = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(pb, pe, port);
    if (ec != std::errc() || ptr != pe || port == 0 || port > 65535)
        return std::nullopt;
    std::string host = text.substr(0, colon);
    base::Bytes ip;
    if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
        ip.resize(16);
        if (inet_pton(AF_INET6, host.substr(1, host.size() - 2).c_str(), ip.data()) != 1)
            return std::nullopt;
    } else {
        ip.resize(4);
        if (inet_pton(AF_INET, host.c_str(), ip.data()) != 1)
            return std::nullopt;
    }
    return std::make_pair(std::move(ip), static_cast<std::uint16_t>(port));
}

} // namespace clusterd::serf
