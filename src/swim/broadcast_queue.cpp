// memberlist TransmitLimitedQueue over interned messages; see broadcast_queue.hpp.
#include "clusterd/swim/broadcast_queue.hpp"

#include <absl/container/inlined_vector.h>
#include <absl/hash/hash.h>

#include <array>
#include <cstring>
#include <limits>
#include <new>

#include "clusterd/swim/timing.hpp"

namespace clusterd::swim {

// ---- MessagePool --------------------------------------------------------------------------------

MessagePool::~MessagePool() {
    for (Block* b : blocks_)
        destroy(b);
}

std::size_t MessagePool::hash_of(std::string_view name, base::ByteView bytes) {
    return absl::HashOf(name, std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()));
}

MessagePool::Block* MessagePool::make(std::string_view name, base::ByteView bytes, std::size_t hash) {
    void* mem = ::operator new(sizeof(Block) + name.size() + bytes.size());
    auto* b = new (mem) Block;
    b->refs = 1;
    b->name_len = static_cast<std::uint32_t>(name.size());
    b->bytes_len = static_cast<std::uint32_t>(bytes.size());
    b->hash = hash;
    if (!name.empty())
        std::memcpy(b->data(), name.data(), name.size());
    if (!bytes.empty())
        std::memcpy(b->data() + name.size(), bytes.data(), bytes.size());
    return b;
}

void MessagePool::destroy(Block* b) {
    b->~Block();
    ::operator delete(b);
}

MessagePool::Block* MessagePool::acquire(std::string_view name, base::ByteView bytes) {
    const Probe p{name, bytes, hash_of(name, bytes)};
    if (auto it = blocks_.find(p); it != blocks_.end()) {
        ++(*it)->refs;
        return *it;
    }
    Block* b = make(name, bytes, p.hash);
    blocks_.insert(b);
    return b;
}

void MessagePool::release(Block* b) {
    if (--b->refs != 0)
        return;
    blocks_.erase(b);
    destroy(b);
}

// ---- BroadcastQueue -----------------------------------------------------------------------------

BroadcastQueue::BroadcastQueue(int retransmit_mult, std::shared_ptr<MessagePool> pool)
    : mult_(retransmit_mult), pool_(pool ? std::move(pool) : std::make_shared<MessagePool>()),
      by_name_(0, NameHash{this}, NameEq{this}) {}

BroadcastQueue::~BroadcastQueue() {
    // Blocks are shared: give our references back without running callbacks.
    for (const Slot& s : slots_)
        if (s.block != nullptr)
            pool_->release(s.block);
}

namespace {
constexpr std::uint64_t kIdMask = (std::uint64_t{1} << 40) - 1;
constexpr int kMaxTransmits = 255;
constexpr std::size_t kMaxLen = 0xffff;
} // namespace

BroadcastQueue::Key BroadcastQueue::make_key(int transmits, std::size_t len, std::uint64_t id,
                                             std::uint32_t slot) {
    const std::uint64_t inv_id = kIdMask - (id & kIdMask);
    const auto t = static_cast<std::uint32_t>(std::clamp(transmits, 0, kMaxTransmits));
    const auto l = static_cast<std::uint32_t>(kMaxLen - std::min(len, kMaxLen));
    return Key{(t << 24) | (l << 8) | static_cast<std::uint32_t>(inv_id >> 32),
               static_cast<std::uint32_t>(inv_id), slot};
}

void BroadcastQueue::queue(std::string_view name, base::Bytes msg, Finished on_finished) {
    // The block is acquired before the message it replaces (same name) is released: blocks are
    // content-addressed, so which copy of equal bytes a queue holds makes no difference.
    queue_block(name, pool_->acquire(name, base::ByteView(msg)), std::move(on_finished));
    if (on_queued_)
        on_queued_();
}

void BroadcastQueue::queue(std::string_view name, base::ByteView msg, Finished on_finished) {
    queue_block(name, pool_->acquire(name, msg), std::move(on_finished));
    if (on_queued_)
        on_queued_();
}

void BroadcastQueue::queue_block(std::string_view name, MessagePool::Block* block, Finished on_finished) {
    if (!name.empty()) {
        if (auto it = by_name_.find(name); it != by_name_.end())
            erase(*it, true);
    }
    std::uint32_t slot;
    if (!free_.empty()) {
        slot = free_.back();
        free_.pop_back();
    } else {
        slot = static_cast<std::uint32_t>(slots_.size());
        if (slots_.size() == slots_.capacity()) // grow by a quarter (see MemberTable::insert)
            slots_.reserve(slots_.size() + slots_.size() / 4 + 8);
        slots_.emplace_back();
    }
    Slot& s = slots_[slot];
    s.block = block;
    const Key k = make_key(0, s.block->bytes_len, ++next_id_, slot);
    s.hi = k.hi;
    s.lo = k.lo;
    if (on_finished)
        callbacks_[slot] = std::move(on_finished);
    order_.insert(k);
    if (!name.empty())
        by_name_.insert(slot);
}

void BroadcastQueue::erase(std::uint32_t slot, bool finished) {
    order_.erase(key_of(slot));
    release(slot, finished);
}

bool BroadcastQueue::release(std::uint32_t slot, bool finished) {
    Slot& s = slots_[slot];
    if (s.block->name_len != 0) {
        auto it = by_name_.find(s.block->name());
        if (it != by_name_.end() && *it == slot)
            by_name_.erase(it);
    }
    if (!sent_.empty())
        sent_.erase(slot);
    Finished fn;
    if (!callbacks_.empty()) {
        if (auto it = callbacks_.find(slot); it != callbacks_.end()) {
            if (finished)
                fn = std::move(it->second);
            callbacks_.erase(it);
        }
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
    if (!fn)
        return false;
    fn();
    return true;
}

void BroadcastQueue::prefetch_from(Order::const_iterator it) const {
    // The items a get() takes are mostly the ones that follow in the B-tree; each is a chain of
    // cache misses in a large simulation (its slot, then the pool's block). Walked a link
    // at a time for the next few items, the misses overlap. Changes nothing.
    std::array<std::uint32_t, kPrefetchAhead> ahead;
    std::size_t n = 0;
    for (; n < kPrefetchAhead && it != order_.end(); ++it)
        ahead[n++] = it->slot;
    for (std::size_t i = 0; i < n; ++i)
        __builtin_prefetch(&slots_[ahead[i]]);
    for (std::size_t i = 0; i < n; ++i) { // the block's header and bytes (one allocation)
        const auto* b = reinterpret_cast<const char*>(slots_[ahead[i]].block);
        __builtin_prefetch(b);
        __builtin_prefetch(b + 64);
    }
}

std::vector<base::Bytes> BroadcastQueue::get(std::size_t overhead, std::size_t limit, std::size_t num_nodes,
                                             std::string_view target) {
    std::vector<base::Bytes> out;
    get(overhead, limit, num_nodes, target, [&](base::ByteView m) { out.emplace_back(m.begin(), m.end()); });
    return out;
}

std::size_t BroadcastQueue::get(std::size_t overhead, std::size_t limit, std::size_t num_nodes,
                                std::string_view target, Sink sink) {
    if (order_.empty())
        return 0;
    const int transmit_limit = std::min(retransmit_limit(mult_, num_nodes), kMaxTransmits);
    // Target tracking: a 32-bit hash of the member's name (0 = none; a collision only costs one
    // member a transmission it would otherwise have got).
    std::uint32_t to = 0;
    if (track_targets_ && !target.empty())
        to = static_cast<std::uint32_t>(absl::Hash<std::string_view>{}(target)) | 1u;
    const std::size_t peers = num_nodes > 0 ? num_nodes - 1 : 0;
    absl::InlinedVector<std::uint32_t, 32> reinsert;
    std::size_t used = 0, count = 0;
    int level = order_.begin()->transmits();
    const int max_level = order_.rbegin()->transmits();
    Key cursor{0, 0, 0}; // skipped items of this level lie before it
    // The next candidate: after an item was taken or skipped, its successor is the first item at
    // or after any later start of the same level (the start only moves forward: the budget
    // shrinks, the cursor grows), so lower_bound is only needed when the successor is too long
    // for what is left, at a new level, or after a callback (which may have changed the queue).
    auto it = order_.end();
    bool have_next = false;
    while (level <= max_level) {
        if (used + overhead >= limit)
            break;
        // Items longer than kMaxLen - 1 never fit (no gossip packet is that large).
        const std::size_t free = std::min(limit - used - overhead, kMaxLen - 1);
        // First item at this level whose length fits (larger messages order first).
        const Key from = make_key(level, free, 0, 0);
        Key start{from.hi & 0xffffff00u, 0, 0};
        if (Less{}(start, cursor))
            start = cursor;
        if (!have_next || (it != order_.end() && Less{}(*it, start))) {
            it = order_.lower_bound(start);
            prefetch_from(it);
        }
        have_next = true;
        if (it == order_.end() || it->transmits() != level) {
            ++level;
            cursor = Key{0, 0, 0};
            have_next = false;
            continue;
        }
        const std::uint32_t slot = it->slot;
        Sent* sent = nullptr;
        if (to != 0) {
            sent = &sent_[slot];
            if (std::find(sent->to.begin(), sent->to.end(), to) != sent->to.end()) {
                // Already there: leave it for another target (or finish it if none is left).
                cursor = Key{it->hi, it->lo + 1, 0};
                if (cursor.lo == 0)
                    ++cursor.hi;
                if (++sent->skips >= kMaxSkips) {
                    it = order_.erase(it);
                    if (release(slot, true))
                        have_next = false;
                } else {
                    ++it;
                }
                continue;
            }
            sent->skips = 0;
            sent->to.push_back(to);
        }
        Slot& s = slots_[slot];
        used += overhead + s.block->bytes_len;
        sink(s.block->bytes());
        ++count;
        const int transmits = it->transmits();
        it = order_.erase(it);
        if (transmits + 1 >= transmit_limit || (sent != nullptr && sent->to.size() >= peers)) {
            if (release(slot, true))
                have_next = false;
        } else {
            slots_[slot].hi += 1u << 24;
            reinsert.push_back(slot);
        }
    }
    // Back in key order, each with the place after the previous one as the hint: the items
    // taken were neighbours and mostly stay so a level up, so most inserts skip the descent
    // from the root (a wrong hint costs two compares and a normal insert; the set is the same).
    std::sort(reinsert.begin(), reinsert.end(),
              [&](std::uint32_t a, std::uint32_t b) { return Less{}(key_of(a), key_of(b)); });
    auto hint = order_.end();
    for (std::uint32_t slot : reinsert)
        hint = std::next(order_.insert(hint, key_of(slot)));
    return count;
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
        out.push_back(k.transmits());
    return out;
}

} // namespace clusterd::swim
