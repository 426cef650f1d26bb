// Deadline-driven coalescers (see coalesce.hpp).
#include "clusterd/serf/coalesce.hpp"

#include <algorithm>

namespace clusterd::serf {

bool Coalescer::offer(const Event& e, base::Instant now) {
    if (!handles(e))
        return false;
    if (!armed_) {
        armed_ = true;
        quantum_deadline_ = now + coalesce_;
    }
    quiescent_deadline_ = now + quiescent_;
    absorb(e);
    return true;
}

base::Instant Coalescer::next_deadline() const {
    if (!armed_)
        return base::Instant::max();
    return std::min(quantum_deadline_, quiescent_deadline_);
}

std::vector<Event> Coalescer::poll(base::Instant now) {
    if (!armed_ || now < next_deadline())
        return {};
    return flush();
}

std::vector<Event> Coalescer::flush() {
    std::vector<Event> out;
    emit(out);
    armed_ = false;
    return out;
}

// ---- member events ----------------------------------------------------------------------

bool MemberEventCoalescer::handles(const Event& e) const {
    const auto* m = std::get_if<MemberEvent>(&e);
    return m != nullptr;
}

void MemberEventCoalescer::absorb(const Event& e) {
    const auto& m = std::get<MemberEvent>(e);
    for (const auto& member : m.members)
        latest_[member.name] = {m.type, member};
}

void MemberEventCoalescer::emit(std::vector<Event>& out) {
    static constexpr EventType kOrder[] = {EventType::MemberJoin, EventType::MemberLeave,
                                           EventType::MemberFailed, EventType::MemberUpdate,
                                           EventType::MemberReap};
    std::map<EventType, MemberEvent> by_type;
    for (auto& [name, latest] : latest_) {
        const swim::StringPool::Id held = pools_->names.find(name);
        const std::uint8_t code = static_cast<std::uint8_t>(1 + static_cast<unsigned>(latest.first));
        const std::uint8_t prev = held != swim::StringPool::kNone && held < last_.size() ? last_[held] : 0;
        if (prev == code && latest.first != EventType::MemberUpdate)
            continue;
        if (latest.first == EventType::MemberReap) {
            // Reaped: forget it (any later event of that name differs from a reap anyway).
            if (prev != 0) {
                last_[held] = 0;
                --remembered_;
                pools_->names.release(held);
            }
        } else if (prev != 0) {
            last_[held] = code;
        } else {
            const swim::StringPool::Id id = pools_->names.acquire(name);
            if (id >= last_.size()) {
                if (id >= last_.capacity())
                    last_.reserve(std::max<std::size_t>(id + id / 4 + 8, pools_->names.id_bound()));
                last_.resize(id + 1, 0);
            }
            last_[id] = code;
            ++remembered_;
        }
        auto& ev = by_type[latest.first];
        ev.type = latest.first;
        ev.members.push_back(std::move(latest.second));
    }
    latest_.clear();
    for (EventType t : kOrder) {
        auto it = by_type.find(t);
        if (it != by_type.end())
            out.emplace_back(std::move(it->second));
    }
}

MemberEventCoalescer::~MemberEventCoalescer() {
    for (std::size_t id = 0; id < last_.size(); ++id)
        if (last_[id] != 0)
            pools_->names.release(static_cast<swim::StringPool::Id>(id));
}

// ---- user events ------------------------------------------------------------------------

bool UserEventCoalescer::handles(const Event& e) const {
    const auto* u = std::get_if<UserEvent>(&e);
    return u != nullptr && u->coalesce;
}

void UserEventCoalescer::absorb(const Event& e) {
    const auto& u = std::get<UserEvent>(e);
    auto it = events_.find(u.name);
    if (it == events_.end() || it->second.ltime < u.ltime) {
        events_[u.name] = Latest{u.ltime, {u}};
        return;
    }
    if (it->second.ltime == u.ltime)
        it->second.events.push_back(u);
}

void UserEventCoalescer::emit(std::vector<Event>& out) {
    for (auto& [name, latest] : events_)
        for (auto& u : latest.events)
            out.emplace_back(std::move(u));
    events_.clear();
}

} // namespace clusterd::serf
