// swim::Endpoint: a sans-I/O memberlist node (SWIM + Lifeguard). It never reads a clock or
// touches a socket: the driver (asio in src/net, or the simulator) feeds it packets, stream
// requests/replies and timeouts with the current Instant, and drains poll_transmit(). Messages
// in and out are *plaintext* memberlist messages (type byte first); the driver applies the
// wire envelope (wire::seal_packet/open_packet, seal_stream/open_stream) around them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <array>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/latency.hpp"
#include "clusterd/base/result.hpp"
#include "clusterd/base/time.hpp"
#include "clusterd/swim/config.hpp"
#include "clusterd/swim/delegate.hpp"
#include "clusterd/swim/node.hpp"

namespace clusterd::swim {

/// How a Stream transmit failed, as far as failure detection cares.
enum class StreamFailure : std::uint8_t {
    Other,   ///< timeout, reset, read/decode error, anything else
    Refused, ///< the peer's host answered the connect: nothing listens on that TCP port
};

/// Something the driver must send.
struct Transmit {
    enum class Kind : std::uint8_t {
        Packet, ///< one UDP packet: `msg` is a single message or a compound (type 7)
        Stream, ///< a TCP request: connect to `to`, send `msg` (push-pull or ping), read one
                ///< reply frame, then call handle_stream_reply(stream_id, reply) or
                ///< stream_failed(stream_id) (also when `timeout` passes first)
    };
    Kind kind = Kind::Packet;
    Address to;
    std::string node;            ///< the target's node name when known ("" for join seeds)
    base::Bytes msg;             ///< plaintext message, type byte first
    bool crc = false;            ///< peer speaks memberlist protocol >= 5: add the CRC header
    std::uint64_t stream_id = 0; ///< Stream only
    base::Duration timeout{0};   ///< Stream only: give up after this long
};

/// The outcome of one seed of a join() call.
struct JoinResult {
    std::uint64_t join_id = 0; ///< as returned by join()
    Address seed;
    bool ok = false;
    std::string error;         ///< why it failed ("" when ok)
    std::size_t remaining = 0; ///< seeds of this join still pending after this one
};

/// Counters for drops and notable events (tests assert them, the agent reports them).
struct Stats {
    std::uint64_t packets_in = 0;
    std::uint64_t packets_out = 0;
    std::uint64_t malformed = 0;        ///< undecodable message / stream request
    std::uint64_t unexpected = 0;       ///< well-formed but not valid here (e.g. push-pull over UDP)
    std::uint64_t pings_wrong_node = 0; ///< ping addressed to another node name
    std::uint64_t probes = 0;
    std::uint64_t probe_failures = 0; ///< probes that ended in suspecting the node
    std::uint64_t indirect_probes = 0;
    std::uint64_t tcp_fallback_probes = 0;
    std::uint64_t probes_refused = 0; ///< probes ended early: the fallback ping was refused
    std::uint64_t nacks_received = 0;
    std::uint64_t suspects = 0;   ///< nodes we moved to suspect
    std::uint64_t deaths = 0;     ///< nodes we moved to dead (not left)
    std::uint64_t refutes = 0;    ///< incarnation bumps to refute suspicion/death of us
    std::uint64_t push_pulls = 0; ///< completed push-pulls (either side)
    std::uint64_t conflicts = 0;
    std::uint64_t incompatible = 0;        ///< push-pulls refused for protocol versions
    std::uint64_t duplicates = 0;          ///< gossip dropped as byte-identical to a recent one
    std::uint64_t stale_alives = 0;        ///< alive messages no newer than what we hold (dropped)
    std::uint64_t early_gossip_rounds = 0; ///< gossip rounds run at once for a new broadcast
    std::uint64_t forgotten = 0;           ///< dead nodes dropped after gossip_to_the_dead_time
    std::uint64_t announcements =
        0; ///< packets sent straight to members (leave, refutations, deaths we declared)
    std::uint64_t suspect_rechecks = 0;   ///< suspects pinged once more before their deadline
    std::uint64_t suspicions_renewed = 0; ///< deaths not declared: the suspect acked meanwhile
    // memberlist's telemetry (docs/metrics.md): alive/suspect/dead messages that changed our
    // view and were re-broadcast (memberlist.msg.*), gossip rounds, probe and push-pull times.
    std::uint64_t msg_alive = 0, msg_suspect = 0, msg_dead = 0;
    std::uint64_t gossip_rounds = 0;
    base::LatencyHistogram probe_time;     ///< a probe's start to its ack or its end (probeNode)
    base::LatencyHistogram push_pull_time; ///< our push-pull request to its reply (pushPullNode)
    /// Plaintext messages and their bytes by memberlist type byte (compound parts counted one by
    /// one; index kOtherMsgType for type bytes past the known ones). UDP and TCP together.
    static constexpr std::size_t kOtherMsgType = 15;
    std::array<std::uint64_t, 16> msgs_in{}, msgs_out{}, msg_bytes_in{}, msg_bytes_out{};
};

class Endpoint {
  public:
    /// `delegate` may be null and must outlive the endpoint. `seed` drives every random choice.
    /// The constructor never calls the delegate (so an owner that is the delegate may construct
    /// the endpoint in its member initialisers). The local node becomes alive (incarnation 1,
    /// meta from node_meta(), notify_join for itself) on the first input or command call;
    /// next_deadline() is `now` until then, so a driver simply calls handle_timeout().
    Endpoint(Config config, Delegate* delegate, std::uint64_t seed, base::Instant now);
    ~Endpoint();
    Endpoint(const Endpoint&) = delete;
    Endpoint& operator=(const Endpoint&) = delete;

    // ---- inputs ----------------------------------------------------------------------------
    /// One plaintext message received by UDP from `from` (compounds may be passed whole or
    /// already split by wire::open_packet). Bad input is dropped and counted.
    void handle_packet(const Address& from, base::ByteView msg, base::Instant now);
    /// Run every timer due at or before `now`.
    void handle_timeout(base::Instant now);
    /// An inbound TCP request: push-pull (type 6), ping (type 0) or user (type 8). Returns the
    /// reply to write back (push-pull state or ack; empty for a user message), or an error.
    base::Result<base::Bytes> handle_stream_request(const Address& from, base::ByteView msg,
                                                    base::Instant now);
    /// The reply to one of our Stream transmits.
    void handle_stream_reply(std::uint64_t stream_id, base::ByteView msg, base::Instant now);
    /// One of our Stream transmits failed (connect/read error or timeout). A refused connect
    /// of the TCP fallback ping ends the probe as failed at once (docs/protocol.md).
    void stream_failed(std::uint64_t stream_id, base::Instant now, std::string_view why = {},
                       StreamFailure kind = StreamFailure::Other);

    // ---- outputs ---------------------------------------------------------------------------
    /// When handle_timeout() must next be called (Instant::max() if never).
    base::Instant next_deadline() const;
    /// The next thing to send, or nullopt.
    std::optional<Transmit> poll_transmit();
    /// The next finished join seed, or nullopt.
    std::optional<JoinResult> poll_join_result();

    // ---- commands --------------------------------------------------------------------------
    /// Push-pull (join=true) with each seed. Returns an id that its JoinResults carry;
    /// an empty list yields no results.
    std::uint64_t join(const std::vector<Address>& seeds, base::Instant now);
    /// Graceful leave: broadcast a dead message about ourselves (From == our name, so peers
    /// record Left), and send it at once to up to Config::leave_announce_peers live members.
    /// Afterwards we answer pings but never refute. See leave_done().
    void leave(base::Instant now);
    /// Leave announcement, first half (clusterd; memberlist has none): `user_msg` (Serf's
    /// leave intent) as one user-message packet straight to up to Config::leave_announce_peers
    /// live members, once, besides its broadcast. leave() sends its dead message the same way
    /// (the second half), so members record the leave one packet after the intent has been
    /// gossiped out instead of after more gossip rounds. Two packets, not one compound: a
    /// memberlist peer handles queued gossip last-in first-out, and a leave seen before the
    /// intent reads as a failure.
    void announce_leave_intent(base::Instant now, base::ByteView user_msg);
    /// Immediate dissemination: a broadcast worth sending now (a user event, a leave, a query,
    /// a refutation) was queued, so run a gossip round at once instead of at the next tick. At
    /// most one such early round happens between two regular gossip ticks, so a burst of any
    /// size adds at most `gossip_nodes` packets per `gossip_interval` (docs/protocol.md). The
    /// round is due at `now` (next_deadline()); no-op when Config::expedite_broadcasts is off.
    void expedite_gossip(base::Instant now);
    /// A broadcast was queued in one of the delegate's queues: resume a parked gossip tick
    /// (Config::park_idle_gossip). The endpoint's own queue does this by itself.
    void wake_gossip(base::Instant now);
    /// True once the leave broadcast has been sent out fully (or there is nobody to tell).
    bool leave_done() const;
    bool has_left() const;
    /// Re-read node_meta() from the delegate and broadcast a new alive (incarnation + 1).
    void update_meta(base::Instant now);
    /// Queue a best-effort user message (type 8 + payload) to `to` by UDP.
    void send_user(const Address& to, base::ByteView payload);
    /// Queue a reliable user message (type 8 + payload) by TCP; no reply is expected, the
    /// stream id is returned for the driver's bookkeeping.
    std::uint64_t send_user_reliable(const Address& to, base::ByteView payload);
    /// The driver's packet envelope overhead (encryption, CRC) in bytes, which the endpoint
    /// subtracts from the UDP budget when building compound packets.
    void set_packet_overhead(std::size_t bytes);

    // ---- queries ---------------------------------------------------------------------------
    /// Every known node (any state), ourselves included.
    std::vector<Node> members() const;
    /// A node by name (a copy), or nullopt.
    std::optional<Node> find(std::string_view name) const;
    /// A node's state by name without copying the node, or nullopt.
    std::optional<State> state_of(std::string_view name) const;
    Node local_node() const;
    /// Nodes that are not dead or left (memberlist NumMembers), ourselves included.
    std::size_t num_alive() const;
    /// memberlist estNumNodes: nodes in the probe list (recently dead included).
    std::size_t estimated_nodes() const;
    /// Lifeguard awareness score (0 = healthy).
    int health_score() const;
    /// Broadcasts waiting in our memberlist queue.
    std::size_t queued_broadcasts() const;
    const Config& config() const;
    const Stats& stats() const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace clusterd::swim
