// serf::Member and its status, as Serf reports them (RPC members, event handlers, conflicts).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>

#include "clusterd/base/bytes.hpp"

namespace clusterd::serf {

/// Serf MemberStatus numbers (go: StatusNone..StatusFailed).
enum class MemberStatus : std::uint8_t { None = 0, Alive = 1, Leaving = 2, Left = 3, Failed = 4 };
/// "none", "alive", "leaving", "left", "failed".
const char* status_name(MemberStatus s);

struct Member {
    std::string name;
    base::Bytes addr; ///< 4 or 16 bytes
    std::uint16_t port = 0;
    std::map<std::string, std::string> tags;
    MemberStatus status = MemberStatus::None;
    std::uint8_t protocol_min = 0, protocol_max = 0, protocol_cur = 0;
    std::uint8_t delegate_min = 0, delegate_max = 0, delegate_cur = 0;

    friend bool operator==(const Member&, const Member&) = default;
};

/// The address alone as Go's net.IP prints it ("10.0.0.1", "::1").
std::string ip_string(const base::Bytes& ip);
/// "ip:port" / "[ip6]:port" as Go's net.TCPAddr prints it (snapshot lines, logs).
std::string host_port(const base::Bytes& ip, std::uint16_t port);
/// Parses "a.b.c.d:port" or "[v6]:port" (literal addresses only, as snapshot lines hold them).
std::optional<std::pair<base::Bytes, std::uint16_t>> parse_host_port(const std::string& text);

} // namespace clusterd::serf
