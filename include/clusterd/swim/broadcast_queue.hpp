// swim::BroadcastQueue: memberlist's TransmitLimitedQueue (queue.go). Messages are retransmitted
// up to RetransmitMult × ceil(log10(N+1)) times, fewest-transmits first (then larger, then
// newer); a new message about a node name replaces the queued one about the same name.
//
// Memory (issue 19): during a join storm every node queues one alive message per member, so the
// queue holds about N items per node for a minute (N² items in a simulated cluster). An item is
// a 16-byte slot, a 12-byte order key in a B-tree and a 4-byte name-index entry; the name and the
// encoded bytes live in a reference-counted block interned in a MessagePool, so every queue
// sharing a pool (all simulated nodes; the three Serf queues and memberlist's in one agent) keeps
// one copy of identical messages. Transmit counts saturate at 255 (the retransmit limit is
// capped there). docs/performance.md has the figures.
#pragma once

#include <absl/container/btree_set.h>
#include <absl/container/flat_hash_map.h>
#include <absl/container/flat_hash_set.h>
#include <absl/functional/function_ref.h>
#include <absl/hash/hash.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "clusterd/base/bytes.hpp"

namespace clusterd::swim {

/// Interned (name, bytes) messages, reference-counted; shared by every queue given the same
/// pool. Single-threaded like the queues that use it.
class MessagePool {
  public:
    /// One message: a header and, in the same allocation right after it, the name's and the
    /// message's bytes (one heap block per message, and the bytes are on the header's cache
    /// lines: a queue reading a message misses once, not on the header and then the bytes).
    struct Block {
        std::uint32_t refs = 0;
        std::uint32_t name_len = 0;
        std::uint32_t bytes_len = 0;
        std::size_t hash = 0;

        std::string_view name() const { return {data(), name_len}; }
        base::ByteView bytes() const {
            return {reinterpret_cast<const std::uint8_t*>(data()) + name_len, bytes_len};
        }

      private:
        friend class MessagePool;
        const char* data() const { return reinterpret_cast<const char*>(this + 1); }
        char* data() { return reinterpret_cast<char*>(this + 1); }
    };
    MessagePool() = default;
    MessagePool(const MessagePool&) = delete;
    MessagePool& operator=(const MessagePool&) = delete;
    ~MessagePool();

    /// The block holding (name, bytes) with one more reference; `bytes` copied when new.
    Block* acquire(std::string_view name, base::ByteView bytes);
    void release(Block* b);
    /// Distinct messages held.
    std::size_t size() const { return blocks_.size(); }

  private:
    struct Probe {
        std::string_view name;
        base::ByteView bytes;
        std::size_t hash;
    };
    static std::size_t hash_of(std::string_view name, base::ByteView bytes);
    static Block* make(std::string_view name, base::ByteView bytes, std::size_t hash);
    static void destroy(Block* b);
    struct Hash {
        using is_transparent = void;
        std::size_t operator()(const Block* b) const { return b->hash; }
        std::size_t operator()(const Probe& p) const { return p.hash; }
    };
    struct Eq {
        using is_transparent = void;
        static bool same(const Block* b, std::string_view name, base::ByteView bytes) {
            const base::ByteView mine = b->bytes();
            return b->name() == name && mine.size() == bytes.size() &&
                   std::equal(bytes.begin(), bytes.end(), mine.begin());
        }
        bool operator()(const Block* a, const Block* b) const { return a == b; }
        bool operator()(const Block* a, const Probe& p) const { return same(a, p.name, p.bytes); }
        bool operator()(const Probe& p, const Block* a) const { return same(a, p.name, p.bytes); }
    };
    absl::flat_hash_set<Block*, Hash, Eq> blocks_;
};

class BroadcastQueue {
  public:
    /// Called once when a broadcast leaves the queue (sent enough times, replaced or pruned).
    using Finished = std::function<void()>;

    /// `pool` is shared with other queues (null: a pool of this queue's own).
    explicit BroadcastQueue(int retransmit_mult, std::shared_ptr<MessagePool> pool = {});
    ~BroadcastQueue();
    BroadcastQueue(const BroadcastQueue&) = delete;
    BroadcastQueue& operator=(const BroadcastQueue&) = delete;

    /// Queue `msg`. A non-empty `name` invalidates a queued broadcast with the same name;
    /// an empty name makes it unique (never invalidated).
    void queue(std::string_view name, base::Bytes msg, Finished on_finished = {});
    /// The same with `msg` copied only if no queue sharing the pool holds it already.
    void queue(std::string_view name, base::ByteView msg, Finished on_finished = {});

    /// Messages that fit in `limit` bytes when each costs len + `overhead`, at most one pass
    /// over the queue; `num_nodes` sets the retransmit limit. `target` names the member the
    /// packet goes to (empty: unknown); see track_targets().
    std::vector<base::Bytes> get(std::size_t overhead, std::size_t limit, std::size_t num_nodes,
                                 std::string_view target = {});
    /// The same selection without copies: `sink` sees each message in order, its bytes valid only
    /// during the call (the message may leave the queue, and its pool, right after). Returns the
    /// number of messages.
    using Sink = absl::FunctionRef<void(base::ByteView)>;
    std::size_t get(std::size_t overhead, std::size_t limit, std::size_t num_nodes, std::string_view target,
                    Sink sink);

    /// Distinct targets (off by default): every transmission of a message goes to a member it
    /// was not yet sent to by this queue. get() for a named target skips the messages already
    /// sent there, and a message is finished once it reached num_nodes - 1 members (or the
    /// retransmit limit, as always). memberlist picks its targets at random, so at small N a
    /// message's few transmissions often hit the same peer twice and miss another; with this,
    /// at N <= 5 the originator alone reaches every member. A message that was skipped by
    /// kMaxSkips targets in a row (every member it could still go to already has it) is finished.
    /// Costs a small side record per queued message; used for Serf's user events and queries.
    void track_targets(bool on) { track_targets_ = on; }
    static constexpr int kMaxSkips = 32;

    std::size_t size() const { return order_.size(); }
    /// Called after every queue() (the endpoint wakes its parked gossip tick with it).
    void on_queued(std::function<void()> f) { on_queued_ = std::move(f); }
    /// Drop the most-transmitted entries until at most `max_retain` remain.
    void prune(std::size_t max_retain);
    void reset();
    /// Transmit counts in queue order (for tests).
    std::vector<int> transmit_counts() const;

  private:
    std::function<void()> on_queued_;
    // Memory per queued item (issue 19): a 16-byte slot, a 12-byte key in the B-tree and a 4-byte
    // entry in the name index (a set of slot numbers hashed by their block's name).
    struct Slot {
        MessagePool::Block* block = nullptr; ///< null: free slot
        std::uint32_t hi = 0, lo = 0;        ///< the order key (see Key)
    };
    /// Order: fewest transmits, then larger, then newer (memberlist's btree Less), packed into 64
    /// bits: hi = transmits (8 bits) | 0xffff - min(len, 0xffff) (16) | top 8 bits of the inverted
    /// id; lo = the low 32 bits of the inverted id (ids count up from 1 and restart when the queue
    /// empties; 40 bits last beyond any queue's lifetime).
    struct Key {
        std::uint32_t hi, lo, slot;
        int transmits() const { return static_cast<int>(hi >> 24); }
    };
    struct Less {
        bool operator()(const Key& a, const Key& b) const { return a.hi != b.hi ? a.hi < b.hi : a.lo < b.lo; }
    };
    static Key make_key(int transmits, std::size_t len, std::uint64_t id, std::uint32_t slot);
    Key key_of(std::uint32_t slot) const { return Key{slots_[slot].hi, slots_[slot].lo, slot}; }
    void erase(std::uint32_t slot, bool finished);
    /// queue() once the message's block is held.
    void queue_block(std::string_view name, MessagePool::Block* block, Finished on_finished);
    /// erase() for a slot whose key already left the B-tree; true when a callback ran.
    bool release(std::uint32_t slot, bool finished);
    std::string_view name_of(std::uint32_t slot) const { return slots_[slot].block->name(); }

    /// Hashes a slot number by its block's name, so the set doubles as a name -> slot map.
    struct NameHash {
        using is_transparent = void;
        const BroadcastQueue* q;
        std::size_t operator()(std::uint32_t slot) const { return (*this)(q->name_of(slot)); }
        std::size_t operator()(std::string_view name) const { return absl::Hash<std::string_view>{}(name); }
    };
    struct NameEq {
        using is_transparent = void;
        const BroadcastQueue* q;
        bool operator()(std::uint32_t a, std::uint32_t b) const { return a == b; }
        bool operator()(std::uint32_t a, std::string_view b) const { return q->name_of(a) == b; }
        bool operator()(std::string_view a, std::uint32_t b) const { return a == q->name_of(b); }
    };

    int mult_;
    std::shared_ptr<MessagePool> pool_;
    std::uint64_t next_id_ = 0;
    std::vector<Slot> slots_;
    std::vector<std::uint32_t> free_;
    using Order = absl::btree_set<Key, Less>;
    Order order_;
    static constexpr std::size_t kPrefetchAhead = 16;
    void prefetch_from(Order::const_iterator it) const;
    absl::flat_hash_set<std::uint32_t, NameHash, NameEq> by_name_;
    absl::flat_hash_map<std::uint32_t, Finished> callbacks_;
    /// Per queued message (track_targets only): hashes of the members it went to, and how many
    /// targets in a row skipped it.
    struct Sent {
        std::vector<std::uint32_t> to;
        int skips = 0;
    };
    bool track_targets_ = false;
    absl::flat_hash_map<std::uint32_t, Sent> sent_;
};

} // namespace clusterd::swim
