// swim::Config: the memberlist tunables and the three timing profiles (lan, wan, local) with
// memberlist's own numbers. Pure data; the Endpoint reads it once at construction.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/time.hpp"
#include "clusterd/base/version.hpp"

namespace clusterd::swim {

class MessagePool;
struct InternPools;

struct Config {
    // ---- identity -------------------------------------------------------------------------
    std::string name;           ///< unique node name
    base::Bytes advertise_addr; ///< 4 or 16 bytes (Go net.IP as []byte)
    std::uint16_t advertise_port = 7946;
    /// Our packets leave from the advertised address and port (the socket is bound to exactly
    /// them): pings and indirect pings leave out SourceAddr and SourcePort (omitempty fields),
    /// and the receiver answers to the packet's source, which is that same address
    /// (memberlist's handlePing and handleIndirectPing do). 30 bytes less per probe of a 4-byte
    /// address. SourceNode is always sent (a memberlist with RequireNodeNames needs it). Off:
    /// as memberlist, every ping names our advertised address.
    bool ping_source_implied = false;

    // ---- protocol versions (the Vsn array of alive messages) ------------------------------
    std::uint8_t protocol_version = static_cast<std::uint8_t>(base::kMemberlistProtocolDefault);
    std::uint8_t protocol_min = static_cast<std::uint8_t>(base::kMemberlistProtocolMin);
    std::uint8_t protocol_max = static_cast<std::uint8_t>(base::kMemberlistProtocolMax);
    std::uint8_t delegate_protocol_version = 0;
    std::uint8_t delegate_protocol_min = 0;
    std::uint8_t delegate_protocol_max = 0;

    // ---- timing (memberlist DefaultLANConfig unless a profile says otherwise) -------------
    base::Duration tcp_timeout = std::chrono::seconds(10);
    int indirect_checks = 3;
    int retransmit_mult = 4;
    /// Interns queued broadcasts; endpoints and Serf queues given the same pool keep one copy of
    /// identical messages (the simulator shares one across all nodes). Null: one per endpoint.
    std::shared_ptr<MessagePool> message_pool;
    /// Interns member names and alive payloads (address, versions, meta) of the member table;
    /// shared like message_pool (the simulator: one for all nodes). Null: one per endpoint.
    std::shared_ptr<InternPools> intern_pools;
    int suspicion_mult = 4;
    int suspicion_max_timeout_mult = 6;
    base::Duration push_pull_interval = std::chrono::seconds(30);
    base::Duration probe_interval = std::chrono::seconds(1);
    base::Duration probe_timeout = std::chrono::milliseconds(500);
    bool disable_tcp_pings = false;
    int awareness_max_multiplier = 8;
    int gossip_nodes = 3;
    base::Duration gossip_interval = std::chrono::milliseconds(200);
    /// Run one early gossip round when a high-value broadcast is queued (see
    /// Endpoint::expedite_gossip). Wire-identical to memberlist; only the send time differs.
    bool expedite_broadcasts = true;
    /// Idle gossip ticks are skipped: after a regular round that leaves nothing queued (here
    /// or in the delegate's queues) the tick is parked until a broadcast is queued, and then
    /// resumes on the same gossip_interval grid, so every round with something to send happens
    /// exactly when it would have. A round with nothing queued sends nothing (memberlist's
    /// gossip() returns before sending), so the wire is unchanged; an idle node wakes up five
    /// times a second less (lan). The probe tick wakes a parked tick too, should anything be
    /// queued without telling (at most one probe interval late). Off: a tick every interval.
    bool park_idle_gossip = true;
    /// Early gossip rounds allowed between two regular ticks (expedite_broadcasts on): one at
    /// once for a new high-value broadcast, and more, gossip_interval / (max + 1) apart, while
    /// the delegate's (Serf's) queues still hold broadcasts to (re)transmit after a round. So a burst
    /// sends at most (1 + max) × gossip_nodes packets per gossip interval; each message is still
    /// sent at most the retransmit limit times (docs/protocol.md).
    int max_early_rounds = 3;
    /// Members told of a graceful leave directly, one packet for the intent and one for the
    /// leave each (Endpoint::announce_leave_intent, leave); picked at random when there are
    /// more. 0 = off (leave by gossip only, as memberlist).
    std::size_t leave_announce_peers = 512;
    base::Duration gossip_to_the_dead_time = std::chrono::seconds(30);
    /// 0 = a dead node's name can never be reclaimed by a new address (memberlist default).
    base::Duration dead_node_reclaim_time{0};

    // ---- sizes -----------------------------------------------------------------------------
    std::size_t udp_buffer_size = 1400; ///< UDP packet budget before the envelope
    std::size_t meta_max_size = 512;    ///< memberlist MetaMaxSize

    // ---- clusterd switches (not in memberlist) --------------------------------------------
    /// Lifeguard on: awareness scales probe interval/timeout, nacks are requested, and suspicion
    /// timeouts start at max and shrink with confirmations. Off: classic SWIM (fixed interval,
    /// suspicion timeout = min, no nacks). memberlist always has it on.
    bool lifeguard = true;
    /// A suspect/dead message byte-identical to one handled within this window is dropped before
    /// decoding; an identical alive message is dropped as long as no node has been forgotten since
    /// (re-handling it could not change anything: incarnations only grow). Saves most decoding in
    /// large clusters, where each update arrives many times. 0 = off (no dedup at all).
    base::Duration dedup_window = std::chrono::seconds(5);

    /// Recheck before death: in the last recheck_attempts × probe_timeout before a suspicion
    /// timer runs out, ping the suspect once per probe_timeout (directly, with the suspicion
    /// attached so that it can refute, and through indirect_checks relays). If it answered any
    /// of them (or any probe) since the suspicion began, it is not declared dead: the suspicion
    /// starts again at the minimum timeout, at most max_suspicion_renewals times. A node that
    /// really is down never answers, so its death is declared exactly when it would have been.
    /// Only pings are added (wire-identical).
    bool recheck_suspects = true;
    /// A probe whose TCP fallback ping is refused (the target's host answered that nothing
    /// listens on its gossip port: a live agent always listens there, so its process is gone)
    /// ends as failed at once instead of at the end of the probe interval: the suspicion starts
    /// about half a probe interval sooner after a crash on a live host. Lifeguard's timeouts
    /// and confirmations are unchanged, and no awareness penalty is taken for nacks that had no
    /// time to come. Wire-identical (memberlist does not look at the kind of failure).
    bool end_probe_on_refused = true;
    /// Members sent a refutation of a suspicion or death of us straight away, one packet each,
    /// besides its broadcast (random ones when there are more), at most once per probe_timeout
    /// (so a stream of forged suspicions cannot turn one packet into many). 0 = by gossip only
    /// (memberlist).
    std::size_t refute_announce_peers = 64;
    /// Members sent our declaration of a death straight away when one of our suspicion timers
    /// runs out, one packet each, besides its broadcast (random ones when there are more), at
    /// most once per probe_interval: a failure is seen by all about one RTT after the first
    /// member declares it instead of after log(N) gossip rounds. Deaths only learned from others
    /// are gossiped as usual. 0 = by gossip only (memberlist).
    std::size_t dead_announce_peers = 128;
    int recheck_attempts = 2;
    int max_suspicion_renewals = 10;

    /// memberlist DefaultLANConfig().
    static Config lan();
    /// memberlist DefaultWANConfig().
    static Config wan();
    /// memberlist DefaultLocalConfig().
    static Config local();
    /// Profile by name ("lan", "wan", "local"); false if unknown.
    static bool from_profile(const std::string& profile, Config& out);
};

} // namespace clusterd::swim
