// The two Lamport-indexed dedup rings: user events (slot = LTime % 512, equality on
// (name, payload)) and queries (slot = LTime % 512, equality on the query id). Both refuse
// messages older than (clock - slots) and messages before a minimum time (set after a
// snapshot restore or a join that must not replay).
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "clusterd/base/bytes.hpp"
#include "clusterd/serf/lamport.hpp"
#include "clusterd/wire/serf_messages.hpp"

namespace clusterd::serf {

inline constexpr std::size_t kEventBufferSize = 512; ///< serf Config.EventBuffer
inline constexpr std::size_t kQueryBufferSize = 512; ///< serf Config.QueryBuffer

enum class DedupVerdict : std::uint8_t {
    New,       ///< first sighting: deliver and rebroadcast
    Duplicate, ///< seen already
    TooOld,    ///< older than the ring window ("received old event")
    BeforeMin, ///< before the minimum time
};

class UserEventBuffer {
  public:
    explicit UserEventBuffer(std::size_t slots = kEventBufferSize) : slots_(slots ? slots : 1) {}
    /// `clock_now` is the event clock after witnessing `ltime`.
    DedupVerdict record(LamportTime ltime, const std::string& name, base::ByteView payload,
                        LamportTime clock_now, LamportTime min_time);
    /// The ring as Serf's push-pull sends it: every slot, empty ones as nullopt.
    std::vector<std::optional<wire::SerfUserEvents>> export_slots() const { return slots_; }
    std::size_t slot_count() const { return slots_.size(); }

  private:
    std::vector<std::optional<wire::SerfUserEvents>> slots_;
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
