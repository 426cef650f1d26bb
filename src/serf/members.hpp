// serf::detail::Members: the member table and the intents that drive it (Go serf's
// handleNodeJoin/Leave/Update and handleNodeJoinIntent/LeaveIntent): the member clock, member
// states with their status times, the recent-intent buffer for members not yet known, the
// failed and left lists, forced prunes, the intent broadcast queue, and the members' part of
// push-pull state. Private to src/serf.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "clusterd/swim/broadcast_queue.hpp"
#include "clusterd/swim/member_table.hpp"
#include "clusterd/wire/serf_messages.hpp"
#include "name_table.hpp"
#include "node_core.hpp"

namespace clusterd::serf::detail {

class Members {
  public:
    /// One member, compact (issue 19): its address, port, versions and tags (the encoded meta)
    /// are one interned "where" string, the same one memberlist's table holds for it, so the
    /// Serf layer adds ~100 bytes per member. Member values are built on demand (member_of).
    struct State {
        swim::StringPool::Id where = swim::StringPool::kNone;
        MemberStatus status = MemberStatus::None;
        LamportTime status_ltime = 0;
        /// The Lamport time of the leave that made it leaving/left. A later join intent raises
        /// status_ltime past it; such a member is not sent as left in a push-pull.
        LamportTime leave_ltime = 0;
        base::Instant leave_time{};
    };

    explicit Members(Core& core);
    ~Members();
    Members(const Members&) = delete;
    Members& operator=(const Members&) = delete;

    // memberlist events (the endpoint's delegate forwards them)
    void on_join(const swim::Node& n);
    void on_leave(const swim::Node& n);
    void on_update(const swim::Node& n);

    // intents; true = new information to rebroadcast
    bool join_intent(const wire::SerfJoin& msg);
    bool leave_intent(const wire::SerfLeave& msg);
    /// Queues a join intent for this node at `ltime` (after a join, or to refute a leave).
    void broadcast_join(LamportTime ltime);
    /// Queues an already-applied intent for gossip (`sent` runs once it is transmitted).
    void queue_intent(base::Bytes raw, std::function<void()> sent = {});

    // push-pull
    void fill_state(wire::SerfPushPull& pp) const;
    void merge_state(const wire::SerfPushPull& pp);

    // reaping
    void run_prunes(base::Instant t);
    base::Instant next_prune() const;
    /// Erases failed members older than `failed_timeout` and left ones older than `left_timeout`.
    void reap(base::Instant t, base::Duration failed_timeout, base::Duration left_timeout,
              base::Duration intent_timeout);

    // lookups
    LamportClock& clock() { return clock_; }
    const LamportClock& clock() const { return clock_; }
    const NameTable<State>& table() const { return members_; }
    /// Moves on every change a member_of() value could show (a member added, erased, its status
    /// or its address/versions/tags changed); equal generations mean equal member lists.
    std::uint64_t generation() const { return generation_; }
    /// The member as a value (tags decoded), or nullopt.
    std::optional<Member> find(const std::string& name) const;
    MemberStatus status_of(const std::string& name) const;
    Member member_of(std::string_view name, const State& s) const;
    const std::vector<std::string>& failed() const { return failed_; }
    std::size_t num_left() const { return left_.size(); }
    std::size_t intent_buffer_size() const { return intents_.size(); }
    bool has_alive_peers() const;
    /// Our own tags changed: `meta` is their encoding (as node_meta() gives memberlist).
    void set_local_meta(base::ByteView meta);
    swim::BroadcastQueue& queue() { return queue_; }
    const swim::BroadcastQueue& queue() const { return queue_; }

  private:
    swim::StringPool::Id acquire_where(const swim::Node& n) const;
    swim::StringPool& blobs() const { return pools_->blobs; }
    void prune(const std::string& name);
    void erase(const std::string& name);

    Core& core_;
    std::shared_ptr<swim::InternPools> pools_;
    LamportClock clock_;
    NameTable<State> members_;
    std::uint64_t generation_ = 0;
    std::vector<std::string> failed_, left_;
    IntentBuffer intents_;
    swim::BroadcastQueue queue_;
    std::map<std::string, base::Instant> pending_prunes_;
};

} // namespace clusterd::serf::detail
