// sim::Simulator: a deterministic discrete-event world for N SimHosts in one process: a virtual
// clock and event heap, a fake UDP network with per-link loss/delay/jitter, one- and two-way
// partitions, paused (stalled) processes whose packets queue, crashes and restarts, and TCP
// streams simulated as request/reply with delay. Every random choice comes from the seed, so a
// run replays bit for bit; trace_hash() fingerprints everything that was delivered.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "clusterd/base/rng.hpp"
#include "clusterd/sim/envelope.hpp"
#include "clusterd/sim/host.hpp"

namespace clusterd::sim {

/// Faults on one directed link (or the default for all links).
struct LinkFaults {
    double loss = 0.0;                                   ///< probability a UDP packet is dropped
    base::Duration delay = std::chrono::milliseconds(1); ///< one-way latency
    base::Duration jitter{0};                            ///< extra uniform [0, jitter) latency
    /// `loss` also hits TCP segments, as real packet loss does: a lost SYN or SYN-ACK costs a
    /// retransmission timeout of 1 s (doubling), a lost data segment 200 ms (Linux's minimum
    /// RTO, doubling), so a stream under loss arrives late rather than never (and then fails at
    /// its timeout). Off: streams ignore `loss`.
    bool tcp_loss = false;
};

/// A node's local monotonic clock: local = start + (t - t0) * (1 + ppm / 1e6), where t is the
/// simulator's (global) time. The host only ever sees its local clock; its deadlines are mapped
/// back to global time. The default (offset 0, ppm 0) is the global clock itself.
struct NodeClock {
    base::Duration offset{0}; ///< local time at global time 0 (a boot-time epoch)
    std::int64_t ppm = 0;     ///< rate error in parts per million (> -1e6)
};

struct NetStats {
    std::uint64_t packets_sent = 0;
    std::uint64_t packets_delivered = 0;
    std::uint64_t packets_lost = 0;        ///< random loss
    std::uint64_t packets_blocked = 0;     ///< partition / crashed target
    std::uint64_t packets_undecodable = 0; ///< envelope open failed
    std::uint64_t streams_opened = 0;
    std::uint64_t streams_failed = 0;
    std::uint64_t bytes_sent = 0;
};

class Simulator {
  public:
    /// Builds the host for node `index` at `addr`; `seed` is derived from the master seed, the
    /// index and the restart count.
    using HostFactory = std::function<std::unique_ptr<SimHost>(std::size_t index, const swim::Address& addr,
                                                               std::uint64_t seed, base::Instant now)>;

    explicit Simulator(std::uint64_t seed);
    ~Simulator();

    /// `fallback`, or the CLUSTERD_SIM_SEED environment variable when it is set.
    static std::uint64_t seed_from_env(std::uint64_t fallback);
    std::uint64_t seed() const { return seed_; }

    // ---- topology --------------------------------------------------------------------------
    /// Adds a node at 10.(i/250).(i%250+1).x:7946 and returns its index.
    std::size_t add_node(HostFactory factory, NodeClock clock = {});
    std::size_t size() const { return nodes_.size(); }
    swim::Address address(std::size_t i) const;
    /// The live host of node i (null when crashed).
    SimHost* host(std::size_t i);
    template <typename T> T* host_as(std::size_t i) { return dynamic_cast<T*>(host(i)); }
    bool is_up(std::size_t i) const { return nodes_[i].host != nullptr; }
    /// Node i's local clock now (what its host is given as `now`). Equal to now() unless the node
    /// has a NodeClock offset or rate.
    base::Instant local_now(std::size_t i) const { return local_time(i, now_); }
    /// Change node i's clock rate from now on (the local clock stays continuous). It survives
    /// restarts: the clock belongs to the machine, not the process.
    void set_clock_rate(std::size_t i, std::int64_t ppm);
    std::int64_t clock_rate(std::size_t i) const { return nodes_[i].clock_ppm; }
    /// Called after every event a live host handled (packet, stream, timer), with its index.
    std::function<void(std::size_t)> on_step;

    // ---- faults ----------------------------------------------------------------------------
    void set_default_link(const LinkFaults& f) { default_link_ = f; }
    void set_link(std::size_t from, std::size_t to, const LinkFaults& f) { links_[{from, to}] = f; }
    void clear_links() { links_.clear(); }
    /// Drop everything from `from` to `to` (one way).
    void block(std::size_t from, std::size_t to) { blocked_.insert({from, to}); }
    void unblock(std::size_t from, std::size_t to) { blocked_.erase({from, to}); }
    /// Two-way partition between two groups (one_way: only a -> b is cut).
    void partition(const std::vector<std::size_t>& a, const std::vector<std::size_t>& b,
                   bool one_way = false);
    void heal() { blocked_.clear(); }
    /// A stalled process: nothing it receives is handled and its timers do not run until resume;
    /// what arrived meanwhile is handled then, in order.
    void pause(std::size_t i);
    void resume(std::size_t i);
    bool is_paused(std::size_t i) const { return nodes_[i].paused; }
    /// Kill the process: its state is lost; packets to it vanish, streams to it fail.
    void crash(std::size_t i);
    /// Start a fresh process (new host from the factory, or the original factory) at the same address.
    void restart(std::size_t i, HostFactory factory = {});

    /// Envelope applied to every packet and stream (plaintext by default).
    void set_envelope(std::shared_ptr<Envelope> env) { envelope_ = std::move(env); }
    /// A node's own envelope (e.g. its own keyring): it seals what the node sends and opens
    /// what it receives. Null reverts to the shared one.
    void set_node_envelope(std::size_t i, std::shared_ptr<Envelope> env) {
        nodes_[i].envelope = std::move(env);
    }
    Envelope& envelope_of(std::size_t i) { return nodes_[i].envelope ? *nodes_[i].envelope : *envelope_; }

    // ---- running ---------------------------------------------------------------------------
    base::Instant now() const { return now_; }
    /// Process events up to and including `t`; the clock ends at `t`.
    void run_until(base::Instant t);
    void run_for(base::Duration d) { run_until(now_ + d); }
    /// Run until `done()` (checked every `check_every`) or `limit` passes; true if done.
    bool run_until(const std::function<bool()>& done, base::Duration limit,
                   base::Duration check_every = std::chrono::milliseconds(100));

    /// Wake node i now (after an external call on its host, e.g. join), so its transmits are
    /// sent and its timers rescheduled.
    void poke(std::size_t i);

    /// Hash of every delivered packet/stream message with its time and endpoints.
    std::uint64_t trace_hash() const { return trace_; }
    const NetStats& net_stats() const { return stats_; }
    std::uint64_t events_processed() const { return events_processed_; }

  private:
    enum class EvKind : std::uint8_t { Packet, StreamRequest, StreamReply, StreamFail, Timer };
    struct Event {
        base::Instant at;
        std::uint64_t seq;
        EvKind kind;
        std::size_t to;
        std::uint64_t to_gen; ///< generation of the target process (stale after a crash)
        std::size_t from;
        std::uint64_t from_gen;
        std::uint64_t stream; ///< the requester's stream id
        base::Bytes data;
        std::string why;
        bool refused = false; ///< StreamFail: nothing listened (swim::StreamFailure::Refused)
    };
    struct Later {
        bool operator()(const Event& a, const Event& b) const {
            if (a.at != b.at)
                return a.at > b.at;
            return a.seq > b.seq;
        }
    };
    struct NodeSlot {
        HostFactory factory;
        std::unique_ptr<SimHost> host;
        std::uint64_t gen = 0;
        bool paused = false;
        std::vector<Event> held; ///< events that arrived while paused
        base::Instant timer_at = base::Instant::max();
        std::map<std::uint64_t, base::Instant> open_streams; ///< our stream id -> timeout
        std::shared_ptr<Envelope> envelope;
        base::Instant clock_g0{}; ///< global time where the current clock segment starts
        base::Instant clock_l0{}; ///< local time at clock_g0
        std::int64_t clock_ppm = 0;
        swim::Address addr; ///< address(i), kept to hand to the host without building it
    };
    base::Instant local_time(std::size_t i, base::Instant global) const;
    /// The earliest global time at which node i's local clock reads `local` or later.
    base::Instant global_time(std::size_t i, base::Instant local) const;

    void push(Event e);
    void deliver(Event& e);
    void after_call(std::size_t i);
    void send(std::size_t from, swim::Transmit t);
    const LinkFaults& link(std::size_t from, std::size_t to) const;
    base::Duration latency(std::size_t from, std::size_t to);
    /// Retransmission delay of one TCP segment from -> to under the link's loss (tcp_loss).
    base::Duration tcp_segment_delay(std::size_t from, std::size_t to, base::Duration rto);
    std::optional<std::size_t> index_of(const swim::Address& a) const;
    bool cut(std::size_t from, std::size_t to) const { return blocked_.count({from, to}) != 0; }
    void mix(const Event& e);

    std::uint64_t seed_;
    base::Rng net_rng_;
    base::Instant now_{};
    std::uint64_t next_seq_ = 0;
    /// A binary heap under Later (std::push_heap/pop_heap), so the next event is moved out rather
    /// than copied with its payload. (at, seq) is a total order: the pop order does not depend on
    /// the heap's layout.
    std::vector<Event> heap_;
    std::vector<NodeSlot> nodes_;
    LinkFaults default_link_;
    std::map<std::pair<std::size_t, std::size_t>, LinkFaults> links_;
    std::set<std::pair<std::size_t, std::size_t>> blocked_;
    std::shared_ptr<Envelope> envelope_;
    NetStats stats_;
    std::uint64_t trace_ = 0xcbf29ce484222325ULL;
    std::uint64_t events_processed_ = 0;
};

} // namespace clusterd::sim
