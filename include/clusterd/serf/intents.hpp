// serf::IntentBuffer: join/leave intents about nodes we do not know yet (they can arrive
// before memberlist tells us about the node). One entry per node, newest Lamport time wins,
// entries expire after RecentIntentTimeout (5 minutes in Serf).
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>

#include "clusterd/base/time.hpp"
#include "clusterd/serf/lamport.hpp"

namespace clusterd::serf {

enum class IntentType : std::uint8_t { Join, Leave };

inline constexpr base::Duration kRecentIntentTimeout = std::chrono::minutes(5);

class IntentBuffer {
  public:
    /// Records the intent if it is newer than what is held for the node; true if recorded
    /// (that is also Serf's "rebroadcast it" answer).
    bool upsert(const std::string& node, IntentType type, LamportTime ltime, base::Instant now);
    /// The Lamport time of a held intent of this type for the node.
    std::optional<LamportTime> recent(const std::string& node, IntentType type) const;
    /// Drops entries recorded more than `timeout` before `now`.
    void reap(base::Instant now, base::Duration timeout = kRecentIntentTimeout);
    void erase(const std::string& node) { intents_.erase(node); }
    std::size_t size() const { return intents_.size(); }

  private:
    struct Entry {
        IntentType type;
        base::Instant wall;
        LamportTime ltime;
    };
    std::map<std::string, Entry> intents_;
};

} // namespace clusterd::serf
