// sim::WireEnvelope: the daemon's real envelope in the simulator: wire::seal_packet/open_packet
// and seal_stream/open_stream with an optional keyring, nonces drawn from a seeded Rng.
#pragma once

#include <memory>

#include "clusterd/base/rng.hpp"
#include "clusterd/sim/envelope.hpp"
#include "clusterd/wire/envelope.hpp"

namespace clusterd::sim {

class WireEnvelope : public Envelope {
  public:
    /// `keyring` may be null (plaintext). With keys, plaintext input is refused
    /// (memberlist GossipVerifyIncoming).
    WireEnvelope(std::shared_ptr<wire::Keyring> keyring, bool compress, std::uint64_t nonce_seed);

    base::Result<base::Bytes> seal_packet(base::ByteView msg, bool crc) override;
    base::Result<std::vector<base::Bytes>> open_packet(base::ByteView raw) override;
    base::Result<base::Bytes> seal_stream(base::ByteView msg) override;
    base::Result<base::Bytes> open_stream(base::ByteView frame) override;
    std::size_t packet_overhead() const override;

    wire::Keyring* keyring() { return keyring_.get(); }

  private:
    bool encrypted() const { return keyring_ && !keyring_->empty(); }
    std::shared_ptr<wire::Keyring> keyring_;
    bool compress_;
    std::shared_ptr<base::Rng> rng_;
    wire::NonceSource nonce_;
};

} // namespace clusterd::sim
