// swim::Delegate: the upcalls from the Endpoint to the layer above (Serf), mirroring
// memberlist's Delegate, EventDelegate, PingDelegate and ConflictDelegate. Every call happens
// synchronously inside an Endpoint method, so the `now` of that call is the current time.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/time.hpp"
#include "clusterd/swim/node.hpp"

namespace clusterd::swim {

class Delegate {
  public:
    virtual ~Delegate() = default;

    // ---- memberlist Delegate ---------------------------------------------------------------
    /// Metadata for our alive message; must be at most `limit` bytes (longer is truncated away:
    /// the endpoint then uses empty meta and counts an error).
    virtual base::Bytes node_meta(std::size_t limit) {
        (void)limit;
        return {};
    }
    /// A user message (type 8) arrived; `msg` is the payload after the type byte.
    virtual void notify_msg(base::ByteView msg) { (void)msg; }
    /// Messages to piggyback on gossip; each costs len + `overhead`, all within `limit` bytes.
    virtual std::vector<base::Bytes> get_broadcasts(std::size_t overhead, std::size_t limit) {
        (void)overhead;
        (void)limit;
        return {};
    }
    /// The same for a packet going to the member named `target` (empty: unknown); a delegate
    /// that spreads its broadcasts over distinct members overrides this one.
    virtual std::vector<base::Bytes> get_broadcasts_for(std::string_view target, std::size_t overhead,
                                                        std::size_t limit) {
        (void)target;
        return get_broadcasts(overhead, limit);
    }
    /// True while broadcasts wait for (re)transmission: gossip then runs early rounds.
    virtual bool has_queued_broadcasts() const { return false; }
    /// Opaque state for a push-pull (`join` true when it is part of a join).
    virtual base::Bytes local_state(bool join) {
        (void)join;
        return {};
    }
    /// The remote side's opaque state from a push-pull.
    virtual void merge_remote_state(base::ByteView state, bool join) {
        (void)state;
        (void)join;
    }

    // ---- memberlist EventDelegate ----------------------------------------------------------
    virtual void notify_join(const Node& node) { (void)node; }
    virtual void notify_leave(const Node& node) { (void)node; }
    virtual void notify_update(const Node& node) { (void)node; }

    // ---- memberlist PingDelegate -----------------------------------------------------------
    virtual base::Bytes ack_payload() { return {}; }
    virtual void notify_ping_complete(const Node& node, base::Duration rtt, base::ByteView payload) {
        (void)node;
        (void)rtt;
        (void)payload;
    }

    // ---- memberlist ConflictDelegate -------------------------------------------------------
    virtual void notify_conflict(const Node& existing, const Node& other) {
        (void)existing;
        (void)other;
    }
};

} // namespace clusterd::swim
