// Private state of swim::Endpoint, shared by the endpoint_*.cpp files: the node table in probe
// order, timers, pending probes/streams/acks, the broadcast queue and the outbound queue.
#pragma once

#include <absl/container/flat_hash_map.h>

#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "clusterd/base/rng.hpp"
#include "clusterd/swim/awareness.hpp"
#include "clusterd/swim/broadcast_queue.hpp"
#include "clusterd/swim/endpoint.hpp"
#include "clusterd/swim/member_table.hpp"
#include "clusterd/swim/suspicion.hpp"
#include "clusterd/wire/memberlist.hpp"

namespace clusterd::swim {

struct Endpoint::Impl {
    Impl(Config c, Delegate* d, std::uint64_t seed, base::Instant now);

    // ---- timers -------------------------------------------------------------------------------
    enum class TimerKind : std::uint8_t {
        Start,
        ProbeTick,
        GossipTick,
        PushPullTick,
        ProbeTimeout,
        ProbeEnd,
        AckExpire,
        RelayNack,
        SuspicionCheck,
        SuspicionRecheck,
        GossipEarly
    };
    struct Timer {
        TimerKind kind;
        std::uint64_t id = 0; ///< seq number for probe/ack timers
        std::string name;     ///< node name for suspicion timers
    };
    using TimerMap = std::multimap<base::Instant, Timer>;
    TimerMap::iterator schedule(base::Instant at, Timer t) { return timers.emplace(at, std::move(t)); }
    void fire(const Timer& t, base::Instant now);

    // ---- node table ----------------------------------------------------------------------------
    MemberRec* lookup(std::string_view name) { return nodes.find(name); }
    const MemberRec* lookup(std::string_view name) const { return nodes.find(name); }
    MemberRec& self() { return *lookup(cfg.name); }
    bool is_self(const MemberRec& r) const { return r.name == self_id; }
    /// Up to k distinct random members (positions in `nodes`) for which `exclude` is false.
    std::vector<std::uint32_t> k_random_nodes(std::size_t k,
                                              const std::function<bool(const MemberRec&)>& exclude);
    void reset_nodes(base::Instant now);

    // ---- state transitions (memberlist state.go) ------------------------------------------
    void ensure_started(base::Instant now);
    void alive_node(const wire::Alive& a, base::Instant now, bool bootstrap,
                    BroadcastQueue::Finished notify = {});
    void suspect_node(const wire::Suspect& s, base::Instant now);
    void dead_node(const wire::Dead& d, base::Instant now);
    void refute(MemberRec& me, std::uint32_t accused);
    wire::Alive alive_msg_for(const MemberRec& n) const;
    void broadcast(const std::string& node, const wire::Message& m, BroadcastQueue::Finished f = {});

    // ---- probing (state.go probe/probeNode, net.go ping handlers) --------------------------
    void probe(base::Instant now);
    void probe_node(MemberRec& node, base::Instant now);
    /// Names us as the sender of a ping or an indirect ping (Config::ping_source_implied).
    template <class M> void set_source(M& m) const {
        if (!cfg.ping_source_implied) {
            m.source_addr = cfg.advertise_addr;
            m.source_port = cfg.advertise_port;
        }
        m.source_node = cfg.name;
    }
    void probe_timeout(std::uint64_t seq, base::Instant now);
    void probe_end(std::uint64_t seq, base::Instant now);
    /// The TCP fallback ping of probe `seq` was refused (Config::end_probe_on_refused).
    void fallback_refused(std::uint64_t seq, base::Instant now);
    void handle_ack(const wire::Ack& a, base::Instant now);
    void handle_nack(const wire::Nack& n);
    void handle_ping(const wire::Ping& p, const Address& from);
    void handle_indirect_ping(const wire::IndirectPing& p, const Address& from, base::Instant now);

    // ---- dissemination (gossip, push-pull, join) ------------------------------------------
    /// Appends the broadcasts (memberlist's, then the delegate's) that fit in `limit` to `parts`.
    void get_broadcasts(std::size_t overhead, std::size_t limit, std::string_view target,
                        wire::CompoundBuilder& parts);
    /// One gossip round; returns the packets it sent.
    std::size_t gossip(base::Instant now);
    void push_pull_tick(base::Instant now);
    std::uint64_t start_push_pull(const Address& to, const std::string& node, bool join,
                                  std::uint64_t join_id);
    base::Bytes local_push_pull(bool join);
    base::Status merge_remote(const wire::PushPullView& pp, base::Instant now);
    base::Status verify_protocol(const std::vector<wire::PushNodeStateView>& remote) const;

    // ---- sending -------------------------------------------------------------------------------
    /// Sends one message, piggybacking broadcasts (net.go sendMsg).
    void send_msg(const Address& to, const std::string& node, base::Bytes msg);
    void send_raw(const Address& to, const std::string& node, base::Bytes msg, bool crc);
    std::uint64_t send_stream(const Address& to, const std::string& node, base::Bytes msg);

    /// `alive`: `msg` already viewed as an alive message (a compound's part), or null.
    void dispatch(const Address& from, base::ByteView msg, base::Instant now, int depth,
                  const wire::AliveView* alive = nullptr);

    // ---- data ------------------------------------------------------------------------------
    Config cfg;
    Delegate* delegate;
    base::Rng rng;
    Awareness awareness;
    BroadcastQueue queue;
    Stats stats;
    /// Counts one plaintext message (or each part of a compound) in Stats::msgs_* by type.
    void count_msgs(base::ByteView msg, bool sent, int depth = 0);
    base::Instant created;
    base::Instant last_now;
    bool started = false;
    bool left = false;
    // Immediate dissemination: at most one early gossip round between two regular ticks.
    bool early_gossip_scheduled = false;
    int early_rounds = 0; ///< early rounds since the last regular tick
    void expedite(base::Instant now);
    /// Config::park_idle_gossip: no regular gossip tick is scheduled while parked; gossip_next
    /// is when it would have fired next.
    bool gossip_parked = false;
    base::Instant gossip_next;
    bool nothing_queued() const;
    void wake_gossip(base::Instant now);
    /// After a round that sent something: another early one later in this interval while a
    /// backlog remains.
    void after_gossip_round(base::Instant now, std::size_t sent);
    bool leave_finished = false;
    std::optional<base::Instant> last_refute_announce; ///< see Config::refute_announce_peers
    std::optional<base::Instant> last_dead_announce;   ///< see Config::dead_announce_peers
    /// Sends `packet` once to up to `cap` random live members (leave, refutations).
    void announce(const base::Bytes& packet, std::size_t cap);
    std::size_t packet_overhead = 0;
    std::uint32_t seq_no = 0;
    std::uint32_t incarnation = 0;

    MemberTable nodes;                          ///< probe order (memberlist m.nodes)
    StringPool::Id self_id = StringPool::kNone; ///< our name in the names pool (never erased)
    std::size_t probe_index = 0;
    std::unordered_map<std::string, Suspicion> suspicions;
    base::Bytes alive_scratch; ///< alive_node's encoding buffer
    wire::Alive alive_in;      ///< dispatch's decoded alive message, reused
    bool alive_in_use = false; ///< alive_in is being handled (a delegate may call back)
    /// Recheck pings in flight: our seq -> the suspected node (see Config::recheck_suspects).
    struct Recheck {
        std::string node;
        base::Instant sent;
    };
    std::unordered_map<std::uint32_t, Recheck> rechecks;
    /// Schedules the suspicion's recheck (if on) and its deadline check.
    void schedule_suspicion(const std::string& node, const Suspicion& s, base::Instant now);
    void recheck_suspect(const std::string& node, base::Instant now);
    /// An ack from `node` (a probe's or a recheck's): evidence against its suspicion.
    void note_alive(const std::string& node);

    TimerMap timers;
    /// The current probe's timeout and end timers, while both are still in `timers`: a direct
    /// ack removes them, so an answered probe costs no wake-up at its timeout (an idle node's
    /// every probe).
    TimerMap::iterator probe_timeout_timer, probe_end_timer;
    bool probe_timers_armed = false;
    void disarm_probe_timers() {
        if (!probe_timers_armed)
            return;
        probe_timers_armed = false;
        timers.erase(probe_timeout_timer);
        timers.erase(probe_end_timer);
    }
    base::Duration push_pull_next{0};

    struct Probe {
        std::uint64_t seq = 0;
        std::string node;
        base::Instant sent;
        base::Instant deadline;
        bool acked = false;
        bool fallback_ok = false;
        int expected_nacks = 0;
        int nacks = 0;
        bool indirect_phase = false;
    };
    std::optional<Probe> probe_state;
    bool probe_tick_pending = false;

    /// Acks we wait for on behalf of someone's indirect ping: our seq -> relay target.
    struct Relay {
        std::uint32_t their_seq;
        Address requester;
        std::string requester_node;
        bool nack;
        bool done = false;
    };
    std::unordered_map<std::uint32_t, Relay> relays;

    enum class StreamKind : std::uint8_t { PushPull, Ping, User };
    struct PendingStream {
        StreamKind kind;
        Address to;
        bool join = false;
        std::uint64_t join_id = 0;
        std::uint32_t ping_seq = 0;
        base::Instant started{}; ///< when it was queued (push-pull timing)
    };
    std::uint64_t next_stream_id = 0;
    std::map<std::uint64_t, PendingStream> streams;
    std::uint64_t next_join_id = 0;
    std::unordered_map<std::uint64_t, std::size_t> join_remaining;
    std::deque<JoinResult> join_results;

    std::deque<Transmit> out;

    /// Recently handled gossip messages (hash -> expiry), see Config::dedup_window.
    bool seen_recently(base::ByteView msg, base::Instant now);
    static std::uint64_t seen_hash(base::ByteView msg);
    /// An alive message that cannot change anything (decoded in place, no allocation).
    bool stale_alive(base::ByteView msg, const wire::AliveView* viewed = nullptr) const;
    static bool is_gossip_state(base::ByteView msg) {
        if (msg.empty())
            return false;
        const auto t = static_cast<wire::MsgType>(msg[0]);
        return t == wire::MsgType::Alive || t == wire::MsgType::Suspect || t == wire::MsgType::Dead;
    }
    /// A direct-mapped cache of message hashes and when they were first seen. A collision only
    /// evicts (the message is then decoded again, which is always safe).
    struct SeenSlot {
        std::uint64_t hash = 0;
        base::Instant at{};
    };
    std::vector<SeenSlot> seen;
};

} // namespace clusterd::swim
