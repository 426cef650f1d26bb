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

std::uint64_t UserEventBuffer::key(LamportTime ltime, const std::string& name, base::ByteView payload) {
    // FNV-1a over (ltime, name length, name, payload): deterministic across runs and builds.
    std::uint64_t h = 0xcbf29ce484222325ULL;
    auto put = [&h](std::uint8_t b) { h = (h ^ b) * 0x100000001b3ULL; };
    for (int k = 0; k < 8; ++k)
        put(static_cast<std::uint8_t>(ltime >> (8 * k)));
    for (int k = 0; k < 4; ++k)
        put(static_cast<std::uint8_t>(name.size() >> (8 * k)));
    for (char ch : name)
        put(static_cast<std::uint8_t>(ch));
    for (std::uint8_t b : payload)
        put(b);
    return h;
}

void UserEventBuffer::expire(LamportTime clock_now) {
    // Oldest first in arrival order; a late arrival waits behind newer ones, so the set is
    // also capped at twice the window.
    while (!order_.empty() && (too_old(order_.front().first, clock_now, history_window_) ||
                               order_.size() > 2 * history_window_)) {
        history_.erase(order_.front().second);
        order_.pop_front();
    }
}

DedupVerdict UserEventBuffer::record(LamportTime ltime, const std::string& name, base::ByteView payload,
                                     LamportTime clock_now, LamportTime min_time) {
    if (ltime < min_time)
        return DedupVerdict::BeforeMin;
    if (too_old(ltime, clock_now, history_window_))
        return DedupVerdict::TooOld;
    expire(clock_now);
    const std::uint64_t k = key(ltime, name, payload);
    if (too_old(ltime, clock_now, slots_.size())) {
        // Left the ring: only the history knows whether it ran here.
        if (!history_.insert(k).second)
            return DedupVerdict::Duplicate;
        order_.emplace_back(ltime, k);
        return DedupVerdict::New;
    }
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
    if (history_.insert(k).second)
        order_.emplace_back(ltime, k);
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
