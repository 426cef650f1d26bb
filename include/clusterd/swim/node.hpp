// swim node types: Address (IP bytes + port), member State, and the Node record the Endpoint
// reports to delegates and through members().
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/time.hpp"

namespace clusterd::swim {

/// A UDP/TCP peer address: 4 (IPv4) or 16 (IPv6) address bytes, as Go's net.IP, plus a port.
struct Address {
    base::Bytes ip;
    std::uint16_t port = 0;

    friend bool operator==(const Address&, const Address&) = default;
    friend auto operator<=>(const Address& a, const Address& b) {
        if (auto c = a.ip <=> b.ip; c != 0)
            return c;
        return a.port <=> b.port;
    }
    /// "a.b.c.d:port" or "[v6]:port" (for logs and map keys).
    std::string to_string() const;
};

/// memberlist node states (same numbers as wire::NodeState and Go's NodeStateType).
enum class State : std::uint8_t { Alive = 0, Suspect = 1, Dead = 2, Left = 3 };
const char* state_name(State s);

/// One member as this endpoint knows it.
struct Node {
    std::string name;
    Address addr;
    base::Bytes meta;
    std::uint32_t incarnation = 0;
    State state = State::Dead;
    /// pmin, pmax, pcur, dmin, dmax, dcur
    std::array<std::uint8_t, 6> vsn{};
    base::Instant state_change{};

    std::uint8_t pmin() const { return vsn[0]; }
    std::uint8_t pmax() const { return vsn[1]; }
    std::uint8_t pcur() const { return vsn[2]; }
    std::uint8_t dmin() const { return vsn[3]; }
    std::uint8_t dmax() const { return vsn[4]; }
    std::uint8_t dcur() const { return vsn[5]; }
    bool dead_or_left() const { return state == State::Dead || state == State::Left; }
};

} // namespace clusterd::swim
