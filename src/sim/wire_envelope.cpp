// WireEnvelope: the wire envelope codecs with deterministic nonces; see wire_envelope.hpp.
#include "clusterd/sim/wire_envelope.hpp"

namespace clusterd::sim {

namespace {
constexpr std::size_t kEncryptOverheadV1 = 1 + 12 + 16; // version byte, nonce, GCM tag
}

WireEnvelope::WireEnvelope(std::shared_ptr<wire::Keyring> keyring, bool compress, std::uint64_t nonce_seed)
    : keyring_(std::move(keyring)), compress_(compress), rng_(std::make_shared<base::Rng>(nonce_seed)) {
    nonce_ = [rng = rng_](std::span<std::uint8_t> out) {
        for (auto& b : out)
            b = static_cast<std::uint8_t>(rng->next());
    };
}

base::Result<base::Bytes> WireEnvelope::seal_packet(base::ByteView msg, bool crc) {
    wire::SealOptions opts;
    opts.compress = compress_;
    opts.crc = crc;
    return wire::seal_packet(msg, opts, keyring_.get(), nonce_);
}

base::Result<std::vector<base::Bytes>> WireEnvelope::open_packet(base::ByteView raw) {
    return wire::open_packet(raw, keyring_.get(), encrypted());
}

base::Result<base::Bytes> WireEnvelope::seal_stream(base::ByteView msg) {
    return wire::seal_stream(msg, compress_, keyring_.get(), nonce_);
}

base::Result<base::Bytes> WireEnvelope::open_stream(base::ByteView frame) {
    return wire::open_stream(frame, keyring_.get(), encrypted());
}

std::size_t WireEnvelope::packet_overhead() const {
    return encrypted() ? kEncryptOverheadV1 : 0;
}

} // namespace clusterd::sim
