// The agent's edge of Serf's mDNS discovery (-discover=NAME): multicast UDP sockets on the
// agent's io_context around the pure mdns::Discovery machine. Private to src/agent.
//
// Sockets, per address family that works on the chosen interface: a listener on port 5353
// (SO_REUSEADDR + SO_REUSEPORT, so it shares the port with avahi-daemon or a Serf agent on the
// same host) that joined 224.0.0.251 / ff02::fb, which receives queries and multicast answers
// and sends our answers; and a query socket on an ephemeral port, from which the queries go out
// and to which responders such as hashicorp/mdns answer by unicast. Multicast loopback is on, so
// agents on the same host find each other.
#pragma once

#include <asio.hpp>
#include <functional>
#include <memory>
#include <string>

#include "clusterd/agent/log.hpp"
#include "clusterd/base/result.hpp"
#include "clusterd/mdns/discovery.hpp"

namespace clusterd::agent {

class MdnsEdge {
  public:
    struct Hooks {
        /// Join these peers; call `done(joined)` when the join finishes.
        std::function<void(const mdns::JoinRequest&, std::function<void(int)> done)> join;
        std::function<void(LogLevel, const std::string&)> log;
    };
    /// Opens the sockets on `iface` ("" = the interface that holds the advertise address, else
    /// the kernel's choice) and starts querying and answering. An error when no family works.
    static base::Result<std::unique_ptr<MdnsEdge>> start(asio::io_context& io, mdns::Options opts,
                                                         const std::string& iface, Hooks hooks);
    ~MdnsEdge();
    void stop();

    const mdns::Stats& stats() const;
    /// "eth0 (IPv4, IPv6)" or "default (IPv4)": where it listens.
    const std::string& where() const;

    struct State;

  private:
    explicit MdnsEdge(std::shared_ptr<State> s) : s_(std::move(s)) {}
    std::shared_ptr<State> s_;
};

} // namespace clusterd::agent
