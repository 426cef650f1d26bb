// swim::Host: the one driver-facing interface of a gossip process, shared by the real transport
// (net::Driver) and the simulator (sim::Simulator). A driver feeds plaintext packets, streams and
// timeouts in with `now`, drains poll_transmit(), and re-arms one timer to next_deadline().
// swim::Endpoint and serf::Node have these methods under the same names; HostAdapter turns any
// such object into a Host without making it inherit from this class.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/result.hpp"
#include "clusterd/base/time.hpp"
#include "clusterd/swim/endpoint.hpp"

namespace clusterd::swim {

class Host {
  public:
    virtual ~Host() = default;
    virtual void handle_packet(const Address& from, base::ByteView msg, base::Instant now) = 0;
    virtual base::Result<base::Bytes> handle_stream_request(const Address& from, base::ByteView msg,
                                                            base::Instant now) = 0;
    virtual void handle_stream_reply(std::uint64_t stream_id, base::ByteView msg, base::Instant now) = 0;
    virtual void stream_failed(std::uint64_t stream_id, base::Instant now, std::string_view why,
                               StreamFailure kind) = 0;
    virtual void handle_timeout(base::Instant now) = 0;
    virtual base::Instant next_deadline() const = 0;
    virtual std::optional<Transmit> poll_transmit() = 0;
    /// Bytes the driver's envelope adds to every packet (encryption), so gossip packs to the
    /// real MTU. A host without a packet budget (a test double) may ignore it.
    virtual void set_packet_overhead(std::size_t /*bytes*/) {}
};

/// Adapts anything with the Endpoint's driver methods (swim::Endpoint, serf::Node, a test
/// double) to Host. It holds a reference: the target must outlive the adapter.
template <typename T> class HostAdapter final : public Host {
  public:
    explicit HostAdapter(T& t) : t_(t) {}
    void handle_packet(const Address& from, base::ByteView msg, base::Instant now) override {
        t_.handle_packet(from, msg, now);
    }
    base::Result<base::Bytes> handle_stream_request(const Address& from, base::ByteView msg,
                                                    base::Instant now) override {
        return t_.handle_stream_request(from, msg, now);
    }
    void handle_stream_reply(std::uint64_t id, base::ByteView msg, base::Instant now) override {
        t_.handle_stream_reply(id, msg, now);
    }
    void stream_failed(std::uint64_t id, base::Instant now, std::string_view why,
                       StreamFailure kind) override {
        t_.stream_failed(id, now, why, kind);
    }
    void handle_timeout(base::Instant now) override { t_.handle_timeout(now); }
    base::Instant next_deadline() const override { return t_.next_deadline(); }
    std::optional<Transmit> poll_transmit() override { return t_.poll_transmit(); }
    void set_packet_overhead(std::size_t bytes) override {
        if constexpr (requires { t_.endpoint().set_packet_overhead(bytes); }) {
            t_.endpoint().set_packet_overhead(bytes);
        } else if constexpr (requires { t_.set_packet_overhead(bytes); }) {
            t_.set_packet_overhead(bytes);
        }
    }

  private:
    T& t_;
};

} // namespace clusterd::swim
