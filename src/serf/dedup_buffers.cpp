// User-event and query dedup rings (see dedup_buffers.hpp).
#include "clusterd/serf/dedup_buffers.hpp"

#include <algorithm>

namespace clusterd::serf {
namespace {
bool too_old(LamportTime ltime, LamportTime clock_now, std::size_t slots) {
    auto window = static_cast<LamportTime>(slots);
    return clock_now > window && ltime < clock_now - window;
}
} // namespace

DedupVerdict UserEventBuffer::record(LamportTime ltime, const std::string& name, base::ByteView payload,
                                     LamportTime clock_now, LamportTime min_time) {
    if (ltime < min_time)
        return DedupVerdict::BeforeMin;
    if (too_old(ltime, clock_now, slots_.size()))
        return DedupVerdict::TooOld;
    auto& slot = slots_[ltime % slots_.size()];
    if (slot && slot->ltime == ltime) {
        for (const auto& prev : slot->events)
            if (prev.name == name &&
                std::equal(prev.payload.begin(), prev.payload.end(), payload.begin(), payload.end()))
                return DedupVerdict::Duplicate;
    } else {
        slot = wire::SerfUserEvents{ltime, {}};
    }
    slot->events.push_back(wire::SerfEventEntry{name, base::Bytes(payload.begin(), payload.end())});
    return DedupVerdict::New;
}

DedupVerdict QueryBuffer::record(LamportTime ltime, std::uint32_t id, LamportTime clock_now,
                                 LamportTime min_time) {
    if (ltime < min_time)
        return DedupVerdict::BeforeMin;
    if (too_old(ltime, clock_now, slots_.size()))
        return DedupVerdict::TooOld;
    auto& slot = slots_[ltime % slots_.size()];
    if (slot && slot->ltime == ltime) {
        if (std::find(slot->ids.begin(), slot->ids.end(), id) != slot->ids.end())
            return DedupVerdict::Duplicate;
    } else {
        slot = Slot{ltime, {}};
    }
    slot->ids.push_back(id);
    return DedupVerdict::New;
}

} // namespace clusterd::serf
