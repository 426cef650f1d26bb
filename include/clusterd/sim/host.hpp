// sim::SimHost: what one simulated process implements to run inside the Simulator; it is
// swim::Host, the interface net::Driver runs too, so a node type that owns an Endpoint
// (swim::Endpoint itself, or serf::Node) needs only swim::HostAdapter. EndpointHost hosts a bare
// swim::Endpoint and records member events for tests.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/result.hpp"
#include "clusterd/base/time.hpp"
#include "clusterd/swim/endpoint.hpp"
#include "clusterd/swim/host.hpp"

namespace clusterd::sim {

/// A simulated process: the same host interface net::Driver runs (swim/host.hpp).
using SimHost = swim::Host;

/// A bare swim::Endpoint as a simulated process, with a recording Delegate.
class EndpointHost : public SimHost, public swim::Delegate {
  public:
    struct Event {
        enum class Kind : std::uint8_t { Join, Leave, Update } kind;
        std::string node;
        swim::State state; ///< the node's state at the event (Dead vs Left for Leave)
        base::Instant at;
    };

    EndpointHost(swim::Config config, std::uint64_t seed, base::Instant now);

    swim::Endpoint& endpoint() { return ep_; }
    const swim::Endpoint& endpoint() const { return ep_; }
    const std::vector<Event>& events() const { return events_; }
    /// Called on every member event (after it is recorded).
    std::function<void(const Event&)> on_event;
    /// false: events are passed to on_event but not kept (scale runs: N nodes x N joins).
    bool keep_events = true;
    /// Meta this node advertises (node_meta()); change it and call endpoint().update_meta().
    base::Bytes meta;

    // SimHost
    void handle_packet(const swim::Address& from, base::ByteView msg, base::Instant now) override;
    void handle_timeout(base::Instant now) override;
    base::Instant next_deadline() const override { return ep_.next_deadline(); }
    std::optional<swim::Transmit> poll_transmit() override { return ep_.poll_transmit(); }
    void set_packet_overhead(std::size_t bytes) override { ep_.set_packet_overhead(bytes); }
    base::Result<base::Bytes> handle_stream_request(const swim::Address& from, base::ByteView msg,
                                                    base::Instant now) override;
    void handle_stream_reply(std::uint64_t id, base::ByteView msg, base::Instant now) override;
    void stream_failed(std::uint64_t id, base::Instant now, std::string_view why,
                       swim::StreamFailure kind) override;

    // swim::Delegate
    base::Bytes node_meta(std::size_t limit) override;
    void notify_join(const swim::Node& node) override { record(Event::Kind::Join, node); }
    void notify_leave(const swim::Node& node) override { record(Event::Kind::Leave, node); }
    void notify_update(const swim::Node& node) override { record(Event::Kind::Update, node); }

  private:
    void record(Event::Kind kind, const swim::Node& node);
    base::Instant now_{};
    std::vector<Event> events_;
    swim::Endpoint ep_;
};

} // namespace clusterd::sim
