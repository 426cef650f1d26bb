// memberlist TransmitLimitedQueue; see broadcast_queue.hpp.
#include "clusterd/swim/broadcast_queue.hpp"

#include <limits>

#include "clusterd/swim/timing.hpp"

namespace clusterd::swim {

void BroadcastQueue::queue(std::string name, base::Bytes msg, Finished on_finished) {
    if (!name.empty()) {
        if (auto it = by_name_.find(name); it != by_name_.end())
            erase(it->second, true);
    }
    auto item = std::make_unique<Item>();
    item->transmits = 0;
    item->len = static_cast<std::int64_t>(msg.size());
    item->id = ++next_id_;
    item->name = std::move(name);
    item->msg = std::move(msg);
    item->on_finished = std::move(on_finished);
    Item* raw = item.get();
    owned_.emplace(raw->id, std::move(item));
    items_.insert(raw);
    if (!raw->name.empty())
        by_name_[raw->name] = raw;
}

void BroadcastQueue::erase(Item* item, bool finished) {
    items_.erase(item);
    if (!item->name.empty()) {
        auto it = by_name_.find(item->name);
        if (it != by_name_.end() && it->second == item)
            by_name_.erase(it);
    }
    Finished fn = finished ? std::move(item->on_finished) : Finished{};
    owned_.erase(item->id);
    if (owned_.empty())
        next_id_ = 0;
    if (fn)
        fn();
}

std::vector<base::Bytes> BroadcastQueue::get(std::size_t overhead, std::size_t limit, std::size_t num_nodes) {
    std::vector<base::Bytes> out;
    if (items_.empty())
        return out;
    const int transmit_limit = retransmit_limit(mult_, num_nodes);
    std::vector<Item*> reinsert;
    std::size_t used = 0;
    int level = (*items_.begin())->transmits;
    const int max_level = (*items_.rbegin())->transmits;
    while (level <= max_level) {
        if (used + overhead >= limit)
            break;
        const auto free = static_cast<std::int64_t>(limit - used - overhead);
        // First item at this level whose length fits (the set orders larger messages first).
        Item probe{level, free, std::numeric_limits<std::int64_t>::max(), {}, {}, {}};
        auto it = items_.lower_bound(&probe);
        if (it == items_.end() || (*it)->transmits != level) {
            ++level;
            continue;
        }
        Item* keep = *it;
        used += overhead + keep->msg.size();
        items_.erase(it);
        if (keep->transmits + 1 >= transmit_limit) {
            out.push_back(keep->msg);
            items_.insert(keep); // erase() expects it in the set
            erase(keep, true);
        } else {
            out.push_back(keep->msg);
            keep->transmits++;
            reinsert.push_back(keep);
        }
    }
    for (Item* item : reinsert)
        items_.insert(item);
    return out;
}

void BroadcastQueue::prune(std::size_t max_retain) {
    while (items_.size() > max_retain)
        erase(*items_.rbegin(), true);
}

void BroadcastQueue::reset() {
    while (!items_.empty())
        erase(*items_.begin(), true);
}

std::vector<int> BroadcastQueue::transmit_counts() const {
    std::vector<int> out;
    for (const Item* item : items_)
        out.push_back(item->transmits);
    return out;
}

} // namespace clusterd::swim
