// Recent-intent buffer (see intents.hpp).
#include "clusterd/serf/intents.hpp"

namespace clusterd::serf {

bool IntentBuffer::upsert(const std::string& node, IntentType type, LamportTime ltime, base::Instant now) {
    auto it = intents_.find(node);
    // A join at the very Lamport time of a leave comes from a later process of that node (one
    // process never joins at the time it left: leaving advances its clock), so it wins the tie.
    const bool join_beats_leave = it != intents_.end() && ltime == it->second.ltime &&
                                  type == IntentType::Join && it->second.type == IntentType::Leave;
    if (it != intents_.end() && ltime <= it->second.ltime && !join_beats_leave)
        return false;
    intents_[node] = Entry{type, now, ltime};
    return true;
}

std::optional<LamportTime> IntentBuffer::recent(const std::string& node, IntentType type) const {
    auto it = intents_.find(node);
    if (it == intents_.end() || it->second.type != type)
        return std::nullopt;
    return it->second.ltime;
}

void IntentBuffer::reap(base::Instant now, base::Duration timeout) {
    for (auto it = intents_.begin(); it != intents_.end();) {
        if (now - it->second.wall > timeout)
            it = intents_.erase(it);
        else
            ++it;
    }
}

} // namespace clusterd::serf
