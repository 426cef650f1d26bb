// sim::SimHost: what one simulated process must implement to run inside the Simulator. The
// method names match swim::Endpoint's driver-facing API, so a node type that owns an Endpoint
// (swim::Endpoint itself, or serf::Node) needs only a thin adapter. EndpointHost is that
// adapter for a bare swim::Endpoint, recording member events for tests.
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

namespace clusterd::sim {

class SimHost {
public:
    virtual ~SimHost() = default;
    virtual void handle_packet(const swim::Address& from, base::ByteView msg, base::Instant now) = 0;
    virtual void handle_timeout(base::Instant now) = 0;
    virtual base::Instant next_deadline() const = 0;
    virtual std::optional<swim::Transmit> poll_transmit() = 0;
    virtual base::Result<base::Bytes> handle_stream_request(const swim::Address& from, base::ByteView msg,
                                                            base::Instant now) = 0;
    virtual void handle_stream_reply(std::uint64_t id, base::ByteView msg, base::Instant now) = 0;
    virtual void stream_failed(std::uint64_t id, base::Instant now, std::string_view why) = 0;
};

/// Forwards SimHost calls to any object with the Endpoint driver API (a template, so serf::Node
/// or a test double can be hosted without virtual inheritance).
template <typename T>
class ForwardingHost : public SimHost {
public:
    explicit ForwardingHost(T& target) : t_(target) {}
    void handle_packet(const swim::Address& from, base::ByteView msg, base::Instant now) override {
        t_.handle_packet(from, msg, now);
    }
    void handle_timeout(base::Instant now) override { t_.handle_timeout(now); }
    base::Instant next_deadline() const override { return t_.next_deadline(); }
    std::optional<swim::Transmit> poll_transmit() override { return t_.poll_transmit(); }
    base::Result<base::Bytes> handle_stream_request(const swim::Address& from, base::ByteView msg,
                                                    base::Instant now) override {
        return t_.handle_stream_request(from, msg, now);
    }
    void handle_stream_reply(std::uint64_t id, base::ByteView msg, base::Instant now) override {
        t_.handle_stream_reply(id, msg, now);
    }
    void stream_failed(std::uint64_t id, base::Instant now, std::string_view why) override {
        t_.stream_failed(id, now, why);
    }

private:
    T& t_;
};

/// A bare swim::Endpoint as a simulated process, with a recording Delegate.
class EndpointHost : public SimHost, public swim::Delegate {
public:
    struct Event {
        enum class Kind : std::uint8_t { Join, Leave, Update } kind;
        std::string node;
        swim::State state;  ///< the node's state at the event (Dead vs Left for Leave)
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
    base::Result<base::Bytes> handle_stream_request(const swim::Address& from, base::ByteView msg,
                                                    base::Instant now) override;
    void handle_stream_reply(std::uint64_t id, base::ByteView msg, base::Instant now) override;
    void stream_failed(std::uint64_t id, base::Instant now, std::string_view why) override;

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

}  // namespace clusterd::sim
