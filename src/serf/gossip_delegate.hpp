// serf::detail::GossipDelegate: the swim::Delegate serf::Node puts on its endpoint (Go serf's
// delegate.go and ping_delegate.go). It decodes Serf messages and hands each to its seam
// (intents to Members, user events to UserEvents, queries and responses to Queries, relays
// straight out), fills gossip from the three broadcast queues (intents, then queries, then
// events), assembles and merges push-pull state, encodes tags as node meta, reports memberlist
// events to Members, and carries Vivaldi coordinates in ping acks. Private to src/serf.
#pragma once

#include "clusterd/swim/delegate.hpp"
#include "lifecycle.hpp"
#include "members.hpp"
#include "node_core.hpp"
#include "queries.hpp"
#include "user_events.hpp"

namespace clusterd::serf::detail {

class GossipDelegate final : public swim::Delegate {
  public:
    GossipDelegate(Core& core, Members& members, UserEvents& events, Queries& queries,
                   const Lifecycle& lifecycle)
        : core_(core), members_(members), events_(events), queries_(queries), lifecycle_(lifecycle) {}

    base::Bytes node_meta(std::size_t limit) override;
    void notify_msg(base::ByteView msg) override;
    std::vector<base::Bytes> get_broadcasts(std::size_t overhead, std::size_t limit) override {
        return get_broadcasts_for({}, overhead, limit);
    }
    std::vector<base::Bytes> get_broadcasts_for(std::string_view target, std::size_t overhead,
                                                std::size_t limit) override;
    bool has_queued_broadcasts() const override;
    base::Bytes local_state(bool join) override;
    void merge_remote_state(base::ByteView state, bool join) override;
    void notify_join(const swim::Node& node) override { members_.on_join(node); }
    void notify_leave(const swim::Node& node) override { members_.on_leave(node); }
    void notify_update(const swim::Node& node) override { members_.on_update(node); }
    base::Bytes ack_payload() override;
    void notify_ping_complete(const swim::Node& node, base::Duration rtt, base::ByteView payload) override;
    void notify_conflict(const swim::Node& existing, const swim::Node& other) override;

  private:
    Core& core_;
    Members& members_;
    UserEvents& events_;
    Queries& queries_;
    const Lifecycle& lifecycle_;
};

} // namespace clusterd::serf::detail
