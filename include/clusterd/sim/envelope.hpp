// sim::Envelope: how the simulator wraps what hosts send, exactly where the daemon's driver
// applies the wire envelope. Plaintext passes messages through unchanged; WireEnvelope (in
// wire_envelope.hpp) runs wire::seal_packet/open_packet and seal_stream/open_stream.
#pragma once

#include <vector>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/result.hpp"

namespace clusterd::sim {

class Envelope {
  public:
    virtual ~Envelope() = default;
    /// UDP: plaintext message (maybe compound) -> bytes on the wire.
    virtual base::Result<base::Bytes> seal_packet(base::ByteView msg, bool crc) = 0;
    /// UDP: bytes on the wire -> messages for the host.
    virtual base::Result<std::vector<base::Bytes>> open_packet(base::ByteView raw) = 0;
    /// TCP: one message -> one frame, and back.
    virtual base::Result<base::Bytes> seal_stream(base::ByteView msg) = 0;
    virtual base::Result<base::Bytes> open_stream(base::ByteView frame) = 0;
    /// Bytes the envelope adds to a packet (the endpoint's set_packet_overhead).
    virtual std::size_t packet_overhead() const = 0;
    /// True when sealing and opening return the message unchanged (one message per packet), so
    /// the simulator may hand the sent bytes to the receiver without the copies.
    virtual bool passthrough() const { return false; }
};

class PlaintextEnvelope : public Envelope {
  public:
    base::Result<base::Bytes> seal_packet(base::ByteView msg, bool) override {
        return base::Bytes(msg.begin(), msg.end());
    }
    base::Result<std::vector<base::Bytes>> open_packet(base::ByteView raw) override {
        return std::vector<base::Bytes>{base::Bytes(raw.begin(), raw.end())};
    }
    base::Result<base::Bytes> seal_stream(base::ByteView msg) override {
        return base::Bytes(msg.begin(), msg.end());
    }
    base::Result<base::Bytes> open_stream(base::ByteView frame) override {
        return base::Bytes(frame.begin(), frame.end());
    }
    std::size_t packet_overhead() const override { return 0; }
    bool passthrough() const override { return true; }
};

} // namespace clusterd::sim
