// User events: receiving (dedup, old-event checks), firing, and their push-pull state (see
// user_events.hpp).
#include "user_events.hpp"

namespace clusterd::serf::detail {

UserEvents::UserEvents(Core& core)
    : core_(core), buffer_(core.config.event_buffer),
      queue_(core.config.memberlist.retransmit_mult, core.config.memberlist.message_pool) {
    queue_.track_targets(core.config.distinct_targets);
    clock_.increment();
}

void UserEvents::restore(LamportTime last_event_clock) {
    clock_.witness(last_event_clock);
    min_time_ = last_event_clock + 1;
}

bool UserEvents::handle(const wire::SerfUserEvent& msg) {
    clock_.witness(msg.ltime);
    auto verdict = buffer_.record(msg.ltime, msg.name, msg.payload, clock_.time(), min_time_);
    switch (verdict) {
    case DedupVerdict::New:
        break;
    case DedupVerdict::Duplicate:
        ++core_.stats.user_events_duplicate;
        return false;
    case DedupVerdict::TooOld:
        ++core_.stats.user_events_old;
        core_.log(Level::Warn, "serf: received old event " + msg.name + " from time " +
                                   std::to_string(msg.ltime) + " (current: " + std::to_string(clock_.time()) +
                                   ")");
        return false;
    case DedupVerdict::BeforeMin:
        return false;
    }
    ++core_.stats.user_events;
    core_.stats.user_events_by_name.add(msg.name);
    core_.emit(UserEvent{msg.ltime, msg.name, msg.payload, msg.cc});
    return true;
}

base::Status UserEvents::fire(const std::string& ev_name, base::ByteView payload, bool coalesce,
                              base::Instant t) {
    auto st = wire::check_user_event_size(ev_name, payload, core_.config.user_event_size_limit);
    if (!st)
        return st;
    wire::SerfUserEvent msg{clock_.time(), ev_name, base::Bytes(payload.begin(), payload.end()), coalesce};
    auto raw = wire::encode_serf(msg);
    st = wire::check_encoded_user_event_size(raw.size(), core_.config.user_event_size_limit);
    if (!st)
        return st;
    clock_.increment();
    handle(msg);
    queue_.queue("", std::move(raw));
    core_.endpoint->expedite_gossip(t);
    return base::ok_status();
}

void UserEvents::fill_state(wire::SerfPushPull& pp) const {
    pp.event_ltime = clock_.time();
    pp.events = buffer_.export_slots();
}

void UserEvents::merge_state(const wire::SerfPushPull& pp, bool join, bool raise_min) {
    if (pp.event_ltime > 0)
        clock_.witness(pp.event_ltime - 1);
    if (join && raise_min && pp.event_ltime > min_time_)
        min_time_ = pp.event_ltime;
    for (const auto& slot : pp.events) {
        if (!slot)
            continue;
        for (const auto& e : slot->events)
            handle(wire::SerfUserEvent{slot->ltime, e.name, e.payload, false});
    }
}

} // namespace clusterd::serf::detail
