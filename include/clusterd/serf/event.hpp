// serf::Event: what a Node hands to its driver (agent, simulator): member events with member
// lists, user events and queries (which carry what is needed to respond).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/time.hpp"
#include "clusterd/serf/lamport.hpp"
#include "clusterd/serf/member.hpp"

namespace clusterd::serf {

enum class EventType : std::uint8_t {
    MemberJoin,
    MemberLeave,
    MemberFailed,
    MemberUpdate,
    MemberReap,
    User,
    Query
};
/// Serf's names: "member-join", ..., "user", "query".
const char* event_type_name(EventType t);

struct MemberEvent {
    EventType type = EventType::MemberJoin;
    std::vector<Member> members;
    friend bool operator==(const MemberEvent&, const MemberEvent&) = default;
};

struct UserEvent {
    LamportTime ltime = 0;
    std::string name;
    base::Bytes payload;
    bool coalesce = false;
    friend bool operator==(const UserEvent&, const UserEvent&) = default;
};

struct QueryEvent {
    LamportTime ltime = 0;
    std::string name;
    base::Bytes payload;
    std::uint32_t id = 0; ///< with ltime, identifies the query for respond()
    base::Bytes addr;     ///< origin's address for responses
    std::uint16_t port = 0;
    std::string source_node;
    base::Instant deadline{}; ///< responses after this are refused
    std::uint8_t relay_factor = 0;
    friend bool operator==(const QueryEvent&, const QueryEvent&) = default;
};

using Event = std::variant<MemberEvent, UserEvent, QueryEvent>;

EventType event_type(const Event& e);

} // namespace clusterd::serf
