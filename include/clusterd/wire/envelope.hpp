// Packet (UDP) and stream (TCP) envelopes around memberlist messages: LZW compression
// (compress{Algo,Buf}, type 9), the CRC32 header (type 12), AES-GCM encryption with a keyring
// (version byte + 12-byte nonce + ciphertext + 16-byte tag), and compound splitting on receive.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/result.hpp"

namespace clusterd::wire {

/// The AES keys a node accepts; keys()[0] is the primary (the only key used to encrypt).
/// Semantics follow memberlist's Keyring: installing an existing key is a no-op, the first key
/// installed into an empty ring becomes primary, the primary cannot be removed.
class Keyring {
  public:
    Keyring() = default;

    /// Keys must be 16, 24 or 32 bytes (AES-128/192/256). Error code "bad_key".
    static base::Status validate_key(base::ByteView key);
    /// Builds a ring from base64 strings; the first is the primary. Errors "bad_key".
    static base::Result<Keyring> from_base64(const std::vector<std::string>& keys);
    /// Builds a ring from raw keys; the first is the primary.
    static base::Result<Keyring> from_keys(const std::vector<base::Bytes>& keys);

    base::Status install(base::ByteView key);
    /// Makes an installed key the primary. Error "no_key" if it is not installed.
    base::Status use(base::ByteView key);
    /// Removes a key. Error "primary_key" when it is the primary; removing an absent key is a
    /// no-op, like memberlist.
    base::Status remove(base::ByteView key);

    bool empty() const { return keys_.empty(); }
    const std::vector<base::Bytes>& keys() const { return keys_; }
    /// nullptr when the ring is empty.
    const base::Bytes* primary() const { return keys_.empty() ? nullptr : &keys_.front(); }
    /// Base64 of every key, primary first.
    std::vector<std::string> list_base64() const;

    /// Base64 helpers with key validation (the -encrypt flag format).
    static base::Result<base::Bytes> decode_key(const std::string& b64);
    static std::string encode_key(base::ByteView key);

  private:
    std::vector<base::Bytes> keys_;
};

/// Fills its argument with random bytes (nonces). The daemon uses system_nonce_source();
/// tests and the simulator pass a deterministic one.
using NonceSource = std::function<void(std::span<std::uint8_t>)>;

/// OpenSSL RAND_bytes; aborts the process if the CSPRNG fails (never silently reuses a nonce).
NonceSource system_nonce_source();

/// memberlist's cluster label header (newer memberlist, label.go): [244][length][label] in front
/// of a whole UDP packet (outside encryption) and once at the start of a TCP stream, from the
/// dialling side. The label is also AES-GCM additional data: a packet's is the label, a stream
/// frame's is its 5-byte [10][u32 length] header followed by the label. An empty label means no
/// header and no change at all to the wire (Serf 0.9.4's memberlist predates labels).
inline constexpr std::uint8_t kLabelMsgType = 244;
inline constexpr std::size_t kMaxLabelBytes = 255;

/// A label fits the one length byte (1..255 bytes; empty means "no label"). Error "bad_label".
base::Status validate_label(std::string_view label);
/// Appends [244][len][label] to `out`; nothing for an empty label.
void append_label_header(base::Bytes& out, std::string_view label);

struct LabelHeader {
    std::string label;    ///< empty when the input does not start with a label header
    std::size_t size = 0; ///< bytes the header occupies (0 without one)
};
/// Parses a label header at the start of `buffered`: {"" , 0} when the first byte is not 244,
/// std::nullopt when more bytes are needed (a stream), errors "malformed" for a zero length.
base::Result<std::optional<LabelHeader>> parse_label_header(base::ByteView buffered);

struct SealOptions {
    bool compress = true;       ///< LZW-wrap when that makes the packet smaller
    bool crc = false;           ///< add the CRC header (peer's PMax >= 5)
    int encryption_version = 1; ///< 0 = PKCS7-padded (memberlist protocol 1), 1 = unpadded
};

/// Seals one plaintext message (or compound) for UDP: compress if smaller -> CRC header ->
/// AES-GCM with the primary key (the cluster label as additional data) -> the label header.
/// Plaintext when keyring is null/empty.
base::Result<base::Bytes> seal_packet(base::ByteView msg, const SealOptions& opts, const Keyring* keyring,
                                      const NonceSource& nonce, std::string_view label = {});

/// Opens a received UDP packet: decrypt (every key tried) -> verify/strip CRC -> decompress ->
/// split compounds recursively. Each returned message starts with its type byte.
/// If a keyring is set and decryption fails, the packet is treated as plaintext only when
/// require_encryption is false (memberlist's GossipVerifyIncoming=false).
/// Errors: "truncated", "bad_crc", "decrypt_failed", "no_key", "malformed", "too_large",
/// "bad_compression", "nesting" (compound/compress nested too deep).
/// With a label configured, a packet must carry exactly that label; without one, a packet must
/// carry none. Otherwise error "label_mismatch" (memberlist drops these too).
base::Result<std::vector<base::Bytes>> open_packet(base::ByteView raw, const Keyring* keyring,
                                                   bool require_encryption, std::string_view label = {});

/// Seals one stream (TCP) message: LZW-wrap (always, as memberlist does when compression is on)
/// -> [10][u32 BE length][AES-GCM payload] with those 5 bytes as additional data.
base::Result<base::Bytes> seal_stream(base::ByteView msg, bool compress, const Keyring* keyring,
                                      const NonceSource& nonce);
/// Same with an explicit encryption version (0 for memberlist protocol 1 peers).
/// `label` is the connection's label, bound into every frame as additional data (the header
/// itself is written once per connection by the caller, see append_label_header).
base::Result<base::Bytes> seal_stream(base::ByteView msg, bool compress, const Keyring* keyring,
                                      const NonceSource& nonce, int encryption_version,
                                      std::string_view label = {});

/// Length of the first complete stream frame in `buffered`, std::nullopt if more bytes are
/// needed. Understands encrypted ([10][len]), compressed ([9][msgpack]), push-pull, user, ping,
/// ack, nack, err and the other msgpack-bodied frames. Error "too_large" when a frame would
/// exceed max_bytes (memberlist uses 20 MiB), "malformed"/"unknown_type" on garbage.
base::Result<std::optional<std::size_t>> stream_frame_length(base::ByteView buffered, std::size_t max_bytes);

/// Opens one complete stream frame: decrypt if [10] (all keys tried, 5-byte header as AAD),
/// then decompress if [9]. Returns the inner message starting with its type byte.
/// Errors as open_packet, plus "not_encrypted" when require_encryption is set and the frame is
/// plaintext, "no_key" when the frame is encrypted and there is no keyring.
/// `label` is the connection's label (checked by the caller when the header was read), used as
/// additional data with the header.
base::Result<base::Bytes> open_stream(base::ByteView frame, const Keyring* keyring, bool require_encryption,
                                      std::string_view label = {});

/// Encryption version memberlist uses for a given memberlist protocol version (security.go,
/// net.go encryptionVersion): 0 (PKCS7-padded) for protocol 1, else 1.
constexpr int encryption_version_for_protocol(int memberlist_protocol) {
    return memberlist_protocol <= 1 ? 0 : 1;
}
/// Bytes encryption adds to a packet: 45 for version 0 (worst-case padding), 29 for version 1.
constexpr std::size_t encryption_overhead(int version) {
    return version == 0 ? 45 : 29;
}
/// A sender adds the CRC header only when the peer understands protocol 5 (its PMax >= 5).
constexpr bool peer_wants_crc(std::uint8_t peer_protocol_max) {
    return peer_protocol_max >= 5;
}

/// Largest memberlist stream (push-pull) accepted: 20 MiB.
inline constexpr std::size_t kMaxStreamBytes = 20u * 1024u * 1024u;
/// Largest stream frame of a single small message (ping, ack, nack, err, suspect, alive, dead):
/// these are a few hundred bytes (an alive carries at most 512 bytes of meta).
inline constexpr std::size_t kMaxSmallStreamFrame = 64u * 1024u;

/// The largest frame a stream starting with `first_byte` may declare, before anything is
/// buffered: `max_stream_bytes` for frames that can carry a push-pull or a user message
/// (push-pull, user, compressed, encrypted), kMaxSmallStreamFrame for the single small
/// messages, 0 for types never sent on streams (stream_frame_length rejects those).
std::size_t stream_frame_limit(std::uint8_t first_byte, std::size_t max_stream_bytes);

} // namespace clusterd::wire
