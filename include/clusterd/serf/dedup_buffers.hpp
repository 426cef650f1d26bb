// The two Lamport-indexed dedup rings: user events (slot = LTime % 512, equality on
// (name, payload)) and queries (slot = LTime % 512, equality on the query id). Both refuse
// messages before a minimum time (set after a snapshot restore or a join that must not replay).
// Queries older than (clock - slots) are refused as Serf does. User events are accepted for a
// longer window (kEventHistory Lamport ticks, clusterd only): a flood of events saturates gossip,
// a relayed copy can arrive thousands of events late, and Serf would drop it as "old" although
// this node never ran it. Events that left the 512-slot ring are deduplicated by a 64-bit hash of
// (LTime, name, payload); the ring alone is what push-pull carries, as in Serf.
#pragma once

#include <absl/container/flat_hash_set.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <vector>

#include "clusterd/base/bytes.hpp"
#include "clusterd/serf/lamport.hpp"
#include "clusterd/wire/serf_messages.hpp"

namespace clusterd::serf {

inline constexpr std::size_t kEventBufferSize = 512; ///< serf Config.EventBuffer
inline constexpr std::size_t kQueryBufferSize = 512; ///< serf Config.QueryBuffer
/// How many Lamport ticks back a user event is still accepted (and deduplicated).
inline constexpr std::size_t kEventHistory = 16384;

enum class DedupVerdict : std::uint8_t {
    New,       ///< first sighting: deliver and rebroadcast
    Duplicate, ///< seen already
    TooOld,    ///< older than the ring window ("received old event")
    BeforeMin, ///< before the minimum time
};

class UserEventBuffer {
  public:
    explicit UserEventBuffer(std::size_t slots = kEventBufferSize, std::size_t history = kEventHistory)
        : slots_(slots ? slots : 1), history_window_(std::max(history, slots_.size())) {}
    /// `clock_now` is the event clock after witnessing `ltime`.
    DedupVerdict record(LamportTime ltime, const std::string& name, base::ByteView payload,
                        LamportTime clock_now, LamportTime min_time);
    /// The ring as Serf's push-pull sends it: every slot, empty ones as nullopt.
    std::vector<std::optional<wire::SerfUserEvents>> export_slots() const { return slots_; }
    std::size_t slot_count() const { return slots_.size(); }
    /// Events remembered beyond the ring (for tests and gauges).
    std::size_t history_size() const { return history_.size(); }

  private:
    static std::uint64_t key(LamportTime ltime, const std::string& name, base::ByteView payload);
    void expire(LamportTime clock_now);

    std::vector<std::optional<wire::SerfUserEvents>> slots_;
    std::size_t history_window_;
    /// Every accepted event of the last history_window_ ticks, by key; `order_` expires them.
    absl::flat_hash_set<std::uint64_t> history_;
    std::deque<std::pair<LamportTime, std::uint64_t>> order_;
};

class QueryBuffer {
  public:
    explicit QueryBuffer(std::size_t slots = kQueryBufferSize) : slots_(slots ? slots : 1) {}
    DedupVerdict record(LamportTime ltime, std::uint32_t id, LamportTime clock_now, LamportTime min_time);

  private:
    struct Slot {
        LamportTime ltime = 0;
        std::vector<std::uint32_t> ids;
    };
    std::vector<std::optional<Slot>> slots_;
};

} // namespace clusterd::serf
