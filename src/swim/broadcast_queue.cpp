// memberlist TransmitLimitedQueue over interned messages; see broadcast_queue.hpp.
#include "clusterd/swim/broadcast_queue.hpp"

#include <absl/hash/hash.h>

#include <limits>

#include "clusterd/swim/timing.hpp"

namespace clusterd::swim {

// ---- MessagePool --------------------------------------------------------------------------------

MessagePool::~MessagePool() {
    for (Block* b : blocks_)
        delete b;
}

std::size_t MessagePool::hash_of(std::string_view name, base::ByteView bytes) {
    return absl::HashOf(name, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

MessagePool::Block* MessagePool::acquire(std::string_view name, base::Bytes&& bytes) {
    const Probe p{name, base::ByteView(bytes), hash_of(name, bytes)};
    if (auto it = blocks_.find(p); it != blocks_.end()) {
        ++(*it)->refs;
        return *it;
    }
    auto* b = new Block{1, p.hash, std::string(name), std::move(bytes)};
    b->bytes.shrink_to_fit();
    blocks_.insert(b);
    return b;
}

void MessagePool::release(Block* b) {
    if (--b->refs != 0)
        return;
    blocks_.erase(b);
    delete b;
}

// ---- BroadcastQueue -----------------------------------------------------------------------------

BroadcastQueue::BroadcastQueue(int retransmit_mult, std::shared_ptr<MessagePool> pool)
    : mult_(retransmit_mult), pool_(pool ? std::move(pool) : std::make_shared<MessagePool>()) {}

BroadcastQueue::~BroadcastQueue() {
    // Blocks are shared: give our references back without running callbacks.
    for (const Slot& s : slots_)
        if (s.block != nullptr)
            pool_->release(s.block);
}

BroadcastQueue::Key BroadcastQueue::key_of(std::uint32_t slot) const {
    const Slot& s = slots_[slot];
    return Key{s.transmits, static_cast<std::uint32_t>(s.block->bytes.size()), s.id, slot};
}

void BroadcastQueue::queue(std::string_view name, base::Bytes msg, Finished on_finished) {
    if (!name.empty()) {
        if (auto it = by_name_.find(name); it != by_name_.end())
            erase(it->second, true);
    }
    std::uint32_t slot;
    if (!free_.empty()) {
        slot = free_.back();
        free_.pop_back();
    } else {
        slot = static_cast<std::uint32_t>(slots_.size());
        slots_.emplace_back();
    }
    Slot& s = slots_[slot];
    s.block = pool_->acquire(name, std::move(msg));
    s.id = ++next_id_;
    s.transmits = 0;
    s.has_callback = static_cast<bool>(on_finished);
    if (s.has_callback)
        callbacks_[slot] = std::move(on_finished);
    order_.insert(key_of(slot));
    if (!name.empty())
        by_name_[std::string_view(s.block->name)] = slot;
}

void BroadcastQueue::erase(std::uint32_t slot, bool finished) {
    Slot& s = slots_[slot];
    order_.erase(key_of(slot));
    if (!s.block->name.empty()) {
        auto it = by_name_.find(std::string_view(s.block->name));
        if (it != by_name_.end() && it->second == slot)
            by_name_.erase(it);
    }
    Finished fn;
    if (s.has_callback) {
        auto it = callbacks_.find(slot);
        if (finished)
            fn = std::move(it->second);
        callbacks_.erase(it);
    }
    pool_->release(s.block);
    s = Slot{};
    free_.push_back(slot);
    if (free_.size() == slots_.size()) { // nothing queued, nothing waiting in get()
        next_id_ = 0;
        slots_.clear();
        free_.clear();
        slots_.shrink_to_fit();
        free_.shrink_to_fit();
    }
    if (fn)
        fn();
}

std::vector<base::Bytes> BroadcastQueue::get(std::size_t overhead, std::size_t limit, std::size_t num_nodes) {
    std::vector<base::Bytes> out;
    if (order_.empty())
        return out;
    const int transmit_limit = retransmit_limit(mult_, num_nodes);
    std::vector<std::uint32_t> reinsert;
    std::size_t used = 0;
    int level = order_.begin()->transmits;
    const int max_level = order_.rbegin()->transmits;
    while (level <= max_level) {
        if (used + overhead >= limit)
            break;
        const std::size_t free = limit - used - overhead;
        const auto len = static_cast<std::uint32_t>(
            std::min<std::size_t>(free, std::numeric_limits<std::uint32_t>::max()));
        // First item at this level whose length fits (larger messages order first).
        auto it = order_.lower_bound(Key{level, len, std::numeric_limits<std::uint64_t>::max(), 0});
        if (it == order_.end() || it->transmits != level) {
            ++level;
            continue;
        }
        const std::uint32_t slot = it->slot;
        Slot& s = slots_[slot];
        used += overhead + s.block->bytes.size();
        out.push_back(s.block->bytes);
        if (s.transmits + 1 >= transmit_limit) {
            erase(slot, true);
        } else {
            order_.erase(it);
            s.transmits++;
            reinsert.push_back(slot);
        }
    }
    for (std::uint32_t slot : reinsert)
        order_.insert(key_of(slot));
    return out;
}

void BroadcastQueue::prune(std::size_t max_retain) {
    while (order_.size() > max_retain)
        erase(std::prev(order_.end())->slot, true);
}

void BroadcastQueue::reset() {
    while (!order_.empty())
        erase(order_.begin()->slot, true);
}

std::vector<int> BroadcastQueue::transmit_counts() const {
    std::vector<int> out;
    for (const Key& k : order_)
        out.push_back(k.transmits);
    return out;
}

} // namespace clusterd::swim
