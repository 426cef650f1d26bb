// serf::detail::UserEvents: Serf's user events (Go serf's UserEvent and handleUserEvent): the
// event clock, the minimum time below which events are dropped (a snapshot restore, or a join
// that ignores old events), the dedup ring that push-pull also carries, and the event
// broadcast queue. Private to src/serf.
#pragma once

#include <string>

#include "clusterd/swim/broadcast_queue.hpp"
#include "clusterd/wire/serf_messages.hpp"
#include "node_core.hpp"

namespace clusterd::serf::detail {

class UserEvents {
  public:
    explicit UserEvents(Core& core);
    /// Clocks from a snapshot: events at or below its event clock are not replayed.
    void restore(LamportTime last_event_clock);

    /// An event from the network or a push-pull; true = new (rebroadcast it).
    bool handle(const wire::SerfUserEvent& msg);
    /// Fires a user event from this node (Serf's size limits; errors "too_large").
    base::Status fire(const std::string& name, base::ByteView payload, bool coalesce, base::Instant t);

    void fill_state(wire::SerfPushPull& pp) const;
    /// `raise_min`: the push-pull answers a join that ignores old events.
    void merge_state(const wire::SerfPushPull& pp, bool join, bool raise_min);

    const LamportClock& clock() const { return clock_; }
    LamportTime min_time() const { return min_time_; }
    std::size_t buffer_slots() const { return buffer_.slot_count(); }
    swim::BroadcastQueue& queue() { return queue_; }
    const swim::BroadcastQueue& queue() const { return queue_; }

  private:
    Core& core_;
    LamportClock clock_;
    LamportTime min_time_ = 0;
    UserEventBuffer buffer_;
    swim::BroadcastQueue queue_;
};

} // namespace clusterd::serf::detail
