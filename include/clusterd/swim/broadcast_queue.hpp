// swim::BroadcastQueue: memberlist's TransmitLimitedQueue (queue.go). Messages are retransmitted
// up to RetransmitMult × ceil(log10(N+1)) times, fewest-transmits first (then larger, then
// newer); a new message about a node name replaces the queued one about the same name.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include "clusterd/base/bytes.hpp"

namespace clusterd::swim {

class BroadcastQueue {
  public:
    /// Called once when a broadcast leaves the queue (sent enough times, replaced or pruned).
    using Finished = std::function<void()>;

    explicit BroadcastQueue(int retransmit_mult) : mult_(retransmit_mult) {}

    /// Queue `msg`. A non-empty `name` invalidates a queued broadcast with the same name;
    /// an empty name makes it unique (never invalidated).
    void queue(std::string name, base::Bytes msg, Finished on_finished = {});

    /// Messages that fit in `limit` bytes when each costs len + `overhead`, at most one pass
    /// over the queue; `num_nodes` sets the retransmit limit.
    std::vector<base::Bytes> get(std::size_t overhead, std::size_t limit, std::size_t num_nodes);

    std::size_t size() const { return items_.size(); }
    /// Drop the most-transmitted entries until at most `max_retain` remain.
    void prune(std::size_t max_retain);
    void reset();
    /// Transmit counts in queue order (for tests).
    std::vector<int> transmit_counts() const;

  private:
    struct Item {
        int transmits;
        std::int64_t len;
        std::int64_t id;
        std::string name;
        base::Bytes msg;
        Finished on_finished;
    };
    struct Less {
        bool operator()(const Item* a, const Item* b) const {
            if (a->transmits != b->transmits)
                return a->transmits < b->transmits;
            if (a->len != b->len)
                return a->len > b->len;
            return a->id > b->id;
        }
    };
    void erase(Item* item, bool finished);

    int mult_;
    std::int64_t next_id_ = 0;
    std::set<Item*, Less> items_;
    std::map<std::int64_t, std::unique_ptr<Item>> owned_;
    std::unordered_map<std::string, Item*> by_name_;
};

} // namespace clusterd::swim
