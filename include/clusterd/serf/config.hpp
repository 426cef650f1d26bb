// serf::Config: Serf's tunables (serf/config.go DefaultConfig numbers) plus the memberlist
// config the Node hands to its swim::Endpoint.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "clusterd/base/time.hpp"
#include "clusterd/coord/coordinate.hpp"
#include "clusterd/serf/key_manager.hpp"
#include "clusterd/swim/config.hpp"

namespace clusterd::serf {

inline constexpr std::uint8_t kProtocolVersionMin = 2;
inline constexpr std::uint8_t kProtocolVersionMax = 5;

struct Config {
    /// Node name, advertise address and timings; name/delegate versions are filled in by Node.
    swim::Config memberlist = swim::Config::lan();
    std::map<std::string, std::string> tags;
    std::uint8_t protocol_version = kProtocolVersionMax;

    base::Duration broadcast_timeout = std::chrono::seconds(5);
    base::Duration leave_propagate_delay = std::chrono::seconds(1);
    base::Duration reap_interval = std::chrono::seconds(15);
    base::Duration reconnect_interval = std::chrono::seconds(30);
    base::Duration reconnect_timeout = std::chrono::hours(24);
    base::Duration tombstone_timeout = std::chrono::hours(24);
    base::Duration recent_intent_timeout = std::chrono::minutes(5);
    base::Duration queue_check_interval = std::chrono::seconds(30);
    /// Broadcasts each of the three queues may hold at a queue check before the most-transmitted
    /// ones are dropped (logged and counted). Serf's default is 4,096; clusterd's queue items
    /// cost about a tenth of Serf's, so it keeps 16,384: a 200/s user-event flood backs up for
    /// 80 s before anything is lost (docs/protocol.md, "Queue depth").
    std::size_t max_queue_depth = 16384;
    /// Each transmission of a user event or query goes to a member this node has not sent it
    /// to yet (swim::BroadcastQueue::track_targets): wire-identical, same transmission count as
    /// Serf, but at N <= 5 every member gets every event straight from its origin even when the
    /// queues back up (docs/protocol.md, "Distinct targets"). Off = Serf's random targets.
    bool distinct_targets = true;

    std::size_t event_buffer = 512;
    std::size_t query_buffer = 512;
    int query_timeout_mult = 16;
    std::size_t query_size_limit = 1024;
    std::size_t query_response_size_limit = 1024;
    std::size_t user_event_size_limit = 512;

    /// Coalescing of member / user events before they reach the event queue (0 = off; the
    /// agent uses 3 s / 1 s for both).
    base::Duration coalesce_period{0};
    base::Duration quiescent_period{0};
    base::Duration user_coalesce_period{0};
    base::Duration user_quiescent_period{0};

    bool disable_coordinates = false;
    coord::Config coordinates{};
    bool enable_name_conflict_resolution = true;

    /// Keep the snapshot recorder (records drained with Node::drain_snapshot()).
    bool snapshot = false;
    bool rejoin_after_leave = false;

    /// Keyring for the key-management internal queries (null = encryption off). Not owned.
    KeyringPort* keyring = nullptr;

    const std::string& node_name() const { return memberlist.name; }
};

} // namespace clusterd::serf
