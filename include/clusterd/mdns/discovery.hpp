// Serf's mDNS discovery (`serf agent -discover=NAME`) as a pure state machine: the responder
// that answers for this node and the browser that finds peers, with time passed in.
//
// The service is "_serf_<NAME>._tcp.local."; this node is the instance "<node>._serf_<NAME>._tcp.local."
// with an SRV record (priority 10, weight 1, the gossip port, target "<host>."), a TXT record
// ("Serf '<NAME>' cluster") and one A or AAAA record for "<host>." holding the advertise address;
// TTL 120 s. A PTR question for the service (or ANY) is answered with PTR + SRV + A/AAAA + TXT, as
// hashicorp/mdns does. The browser sends a PTR question for the service at start and every
// poll interval (60 s), reads every response it sees (answers to its own queries and anybody's
// multicast responses), and after a quiet interval (100 ms) with no new peer asks to join the
// peers found since the last join; a peer whose join worked is not joined again.
//
// Outputs are polled: poll_transmit() (datagrams for the edge to send), poll_join(), poll_log().
// next_deadline() says when tick() wants to run next.
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/result.hpp"
#include "clusterd/base/time.hpp"
#include "clusterd/mdns/message.hpp"

namespace clusterd::mdns {

constexpr std::uint16_t kPort = 5353;
/// 224.0.0.251 and ff02::fb.
constexpr std::array<std::uint8_t, 4> kGroupV4{224, 0, 0, 251};
constexpr std::array<std::uint8_t, 16> kGroupV6{0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xfb};

/// Peers remembered at most (a flood of made-up answers cannot grow the table past it).
constexpr std::size_t kMaxPeers = 1024;

struct Options {
    std::string cluster;  ///< the -discover NAME
    std::string instance; ///< this node's name
    std::string host;     ///< the SRV target / A owner, without the trailing dot (Serf: the host name)
    std::uint16_t port = 7946;
    base::Bytes addr; ///< the advertise address: 4 or 16 bytes
    base::Duration poll_interval = std::chrono::seconds(60);
    base::Duration quiet_interval = std::chrono::milliseconds(100);
    /// Unsolicited announcements (RFC 6762 §8.3) at start, one second apart; 0 = none.
    int announcements = 2;
    std::uint32_t ttl = 120;
    /// The ID of this node's queries (hashicorp/mdns uses a random one too); with the ports
    /// given to set_own_ports it lets the responder recognise its own query looped back.
    std::uint16_t query_id = 0;
};

/// Where a datagram goes: a group (224.0.0.251 or ff02::fb, port 5353) or back to one sender.
struct Endpoint {
    base::Bytes ip; ///< 4 or 16 bytes
    std::uint16_t port = 0;
    friend auto operator<=>(const Endpoint&, const Endpoint&) = default;
};

struct Datagram {
    enum class Kind { Query, Response };
    Kind kind = Kind::Query; ///< a query goes out from the edge's unicast socket, a response from 5353
    Endpoint to;
    base::Bytes data;
};

/// Peers to join: "ip:port" texts (IPv6 in brackets), with the instance names for the log.
struct JoinRequest {
    std::uint64_t id = 0;
    std::vector<std::string> addresses;
    std::vector<std::string> names;
};

struct Stats {
    std::uint64_t packets = 0;   ///< datagrams handed to on_packet
    std::uint64_t malformed = 0; ///< dropped: not a DNS message (decode error)
    std::uint64_t ignored = 0;   ///< well-formed but not for us (opcode, rcode, truncated, our own query)
    std::uint64_t queries_answered = 0; ///< queries this node sent an answer to
    std::uint64_t queries_sent = 0;
    std::uint64_t peers_found = 0; ///< distinct peer addresses seen in responses
    std::uint64_t joins_requested = 0;
    std::string last_error; ///< the last decode error
};

class Discovery {
  public:
    /// Fails when the records cannot be encoded (a node name label over 63 octets, ...);
    /// `announce_error` then holds why, and the node only browses.
    explicit Discovery(Options o);

    const Options& options() const { return o_; }
    /// "" when this node's records are encodable (the responder answers).
    const std::string& announce_error() const { return announce_error_; }
    Name service_name() const;
    Name instance_name() const;

    /// The local ports this node's queries leave from (the edge's query sockets): a query with
    /// our ID from one of them is our own, looped back, and is not answered.
    void set_own_ports(std::vector<std::uint16_t> ports) { own_ports_ = std::move(ports); }
    /// Schedules the first query (now) and the announcements.
    void start(base::Instant now);
    /// One datagram that arrived from `from`.
    void on_packet(std::span<const std::uint8_t> bytes, const Endpoint& from, base::Instant now);
    /// The outcome of a join the machine asked for: how many of its addresses answered.
    void on_join_result(std::uint64_t id, int joined);
    /// Runs what is due (queries, announcements, the quiet interval).
    void tick(base::Instant now);
    base::Instant next_deadline() const;

    std::optional<Datagram> poll_transmit();
    std::optional<JoinRequest> poll_join();
    std::optional<std::string> poll_log();

    const Stats& stats() const { return stats_; }
    /// The peers known ("ip:port" -> instance), joined or not.
    const std::map<std::string, std::string>& peers() const { return peers_; }

    /// The answer records for one question (empty: not ours). Public for tests.
    std::vector<Record> answer(const Question& q) const;
    /// The query this machine sends.
    Message query() const;

  private:
    void handle_query(const Message& m, const Endpoint& from);
    void handle_response(const Message& m, base::Instant now);
    void send(Datagram::Kind kind, const Endpoint& to, const Message& m);
    void send_both(Datagram::Kind kind, const Message& m);
    Record srv() const;
    Record txt() const;
    std::optional<Record> address() const;

    Options o_;
    std::string announce_error_;
    std::vector<std::uint16_t> own_ports_;
    bool started_ = false;
    base::Instant next_query_ = base::Instant::max();
    base::Instant next_announce_ = base::Instant::max();
    int announcements_left_ = 0;
    base::Instant quiet_until_ = base::Instant::max();
    std::map<std::string, std::string> peers_; ///< ip:port -> instance
    std::set<std::string> joined_;             ///< asked to join (pending or done)
    std::vector<std::string> batch_;           ///< found since the last join
    std::map<std::uint64_t, std::vector<std::string>> pending_;
    std::uint64_t next_id_ = 1;
    std::deque<Datagram> out_;
    std::deque<JoinRequest> joins_;
    std::deque<std::string> logs_;
    Stats stats_;
};

/// "ip:port" for 4- or 16-byte addresses ("[v6]:port").
std::string endpoint_text(const base::Bytes& ip, std::uint16_t port);

} // namespace clusterd::mdns
