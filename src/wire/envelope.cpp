// Packet and stream envelopes (memberlist net.go ingestPacket/rawSendMsgPacket/rawSendMsgStream/
// readStream, util.go compressPayload): compress{Algo,Buf}, hasCrc, AES-GCM, compound splitting.
#include "clusterd/wire/envelope.hpp"

#include <algorithm>
#include <array>

#include "aesgcm.hpp"
#include "clusterd/wire/crc32.hpp"
#include "clusterd/wire/lzw.hpp"
#include "clusterd/wire/memberlist.hpp"

#include "wire_internal.hpp"

namespace clusterd::wire {

using namespace detail; // wire_internal.hpp

namespace {

constexpr std::uint8_t kCompress = static_cast<std::uint8_t>(MsgType::Compress);
constexpr std::uint8_t kEncrypt = static_cast<std::uint8_t>(MsgType::Encrypt);
constexpr std::uint8_t kHasCrc = static_cast<std::uint8_t>(MsgType::HasCrc);
constexpr std::uint8_t kCompound = static_cast<std::uint8_t>(MsgType::Compound);
/// Largest plaintext a compressed UDP packet may expand to (a UDP datagram is < 64 KiB; LZW
/// expands at most ~ 4096:1, so this only stops decompression bombs).
constexpr std::size_t kMaxPacketPlain = 1u << 20;
constexpr int kMaxNesting = 4;

bool has_keys(const Keyring* k) {
    return k != nullptr && !k->empty();
}

Bytes compress_wrap(ByteView msg) {
    Bytes out;
    out.push_back(kCompress);
    msgpack::encode_into(out, CompressMsg{0, lzw_compress(msg)}, msgpack::Dialect::Gossip);
    return out;
}

Result<Bytes> decompress_msg(ByteView buf, std::size_t max_out) {
    auto m = msgpack::decode<CompressMsg>(buf.subspan(1));
    if (!m)
        return m.error().with_prefix("compress message");
    if (m->algo != 0)
        return make_error("bad_compression",
                          "Cannot decompress unknown algorithm " + std::to_string(m->algo));
    auto plain = lzw_decompress(m->buf, max_out);
    if (!plain)
        return plain.error();
    if (plain->empty())
        return make_error("truncated", "compressed message expands to nothing");
    return plain;
}

Result<Bytes> seal_encrypted(ByteView plain, const Keyring& ring, const NonceSource& nonce, int version,
                             bool stream, std::string_view label) {
    if (version != 0 && version != 1)
        return make_error("bad_version", "unsupported encryption version " + std::to_string(version));
    std::array<std::uint8_t, detail::kNonceSize> iv{};
    if (!nonce)
        return make_error("no_nonce", "no nonce source for encryption");
    nonce(iv);
    Bytes out;
    Bytes aad;
    if (stream) {
        std::size_t len = detail::encrypted_length(version, plain.size());
        out = {kEncrypt, static_cast<std::uint8_t>(len >> 24), static_cast<std::uint8_t>(len >> 16),
               static_cast<std::uint8_t>(len >> 8), static_cast<std::uint8_t>(len)};
        aad = out;
    }
    aad.insert(aad.end(), label.begin(), label.end());
    if (auto st = detail::aes_gcm_seal(version, *ring.primary(), iv, plain, aad, out); !st)
        return st.error();
    return out;
}

Result<Bytes> decrypt_any(const Keyring& ring, ByteView msg, ByteView aad) {
    base::Error last = make_error("decrypt_failed", "No installed keys could decrypt the message");
    for (const auto& key : ring.keys()) {
        auto p = detail::aes_gcm_open(key, msg, aad);
        if (p)
            return p;
        if (p.error().code != "decrypt_failed")
            return p.error(); // size/version problems: same for every key
    }
    return last;
}

base::Status expand(ByteView buf, int depth, std::vector<Bytes>& out) {
    if (depth > kMaxNesting)
        return make_error("nesting", "compound/compress messages nested too deep");
    if (buf.empty())
        return base::ok_status(); // an empty compound part carries nothing
    if (buf[0] == kCompress) {
        auto plain = decompress_msg(buf, kMaxPacketPlain);
        if (!plain)
            return plain.error();
        return expand(*plain, depth + 1, out);
    }
    if (buf[0] == kCompound) {
        auto parts = split_compound(buf);
        if (!parts)
            return parts.error();
        for (const auto& p : parts->parts) {
            if (auto st = expand(p, depth + 1, out); !st)
                return st;
        }
        return base::ok_status();
    }
    out.emplace_back(buf.begin(), buf.end());
    return base::ok_status();
}

std::uint32_t be32(ByteView b) {
    return (static_cast<std::uint32_t>(b[0]) << 24) | (static_cast<std::uint32_t>(b[1]) << 16) |
           (static_cast<std::uint32_t>(b[2]) << 8) | b[3];
}

} // namespace

base::Status validate_label(std::string_view label) {
    if (label.size() > kMaxLabelBytes)
        return make_error("bad_label", "cluster label is " + std::to_string(label.size()) +
                                           " bytes, longer than the limit of " +
                                           std::to_string(kMaxLabelBytes));
    return base::ok_status();
}

void append_label_header(Bytes& out, std::string_view label) {
    if (label.empty())
        return;
    out.push_back(kLabelMsgType);
    out.push_back(static_cast<std::uint8_t>(label.size()));
    out.insert(out.end(), label.begin(), label.end());
}

Result<std::optional<LabelHeader>> parse_label_header(ByteView buffered) {
    if (buffered.empty())
        return std::optional<LabelHeader>{};
    if (buffered[0] != kLabelMsgType)
        return std::optional<LabelHeader>{LabelHeader{}};
    if (buffered.size() < 2)
        return std::optional<LabelHeader>{};
    const std::size_t n = buffered[1];
    if (n == 0)
        return make_error("malformed", "label header cannot be empty when present");
    if (buffered.size() < 2 + n)
        return std::optional<LabelHeader>{};
    LabelHeader h;
    h.label.assign(reinterpret_cast<const char*>(buffered.data()) + 2, n);
    h.size = 2 + n;
    return std::optional<LabelHeader>{std::move(h)};
}

namespace {

base::Status check_label(std::string_view got, std::string_view want) {
    if (got == want)
        return base::ok_status();
    return make_error("label_mismatch", "discarding data with unacceptable label \"" + std::string(got) +
                                            "\" (want \"" + std::string(want) + "\")");
}

Result<Bytes> labelled(Result<Bytes> sealed, std::string_view label) {
    if (!sealed || label.empty())
        return sealed;
    Bytes out;
    out.reserve(sealed->size() + 2 + label.size());
    append_label_header(out, label);
    out.insert(out.end(), sealed->begin(), sealed->end());
    return out;
}

} // namespace

Result<Bytes> seal_packet(ByteView msg, const SealOptions& opts, const Keyring* keyring,
                          const NonceSource& nonce, std::string_view label) {
    if (msg.empty())
        return make_error("malformed", "cannot seal an empty message");
    if (auto st = validate_label(label); !st)
        return st.error();
    Bytes buf(msg.begin(), msg.end());
    if (opts.compress) {
        Bytes c = compress_wrap(buf);
        if (c.size() < buf.size())
            buf = std::move(c);
    }
    if (opts.crc) {
        std::uint32_t crc = crc32_ieee(buf);
        Bytes h = {kHasCrc, static_cast<std::uint8_t>(crc >> 24), static_cast<std::uint8_t>(crc >> 16),
                   static_cast<std::uint8_t>(crc >> 8), static_cast<std::uint8_t>(crc)};
        h.insert(h.end(), buf.begin(), buf.end());
        buf = std::move(h);
    }
    if (has_keys(keyring))
        return labelled(seal_encrypted(buf, *keyring, nonce, opts.encryption_version, false, label), label);
    return labelled(std::move(buf), label);
}

Result<std::vector<Bytes>> open_packet(ByteView raw, const Keyring* keyring, bool require_encryption,
                                       std::string_view label) {
    if (raw.empty())
        return make_error("truncated", "empty packet");
    auto header = parse_label_header(raw);
    if (!header)
        return header.error();
    if (!header->has_value())
        return make_error("truncated", "cannot decode label; packet has been truncated");
    if (auto st = check_label((*header)->label, label); !st)
        return st.error();
    raw = raw.subspan((*header)->size);
    if (raw.empty())
        return make_error("truncated", "empty packet after the label header");
    const ByteView aad(reinterpret_cast<const std::uint8_t*>(label.data()), label.size());
    Bytes plain_store;
    ByteView buf = raw;
    if (has_keys(keyring)) {
        auto p = decrypt_any(*keyring, raw, aad);
        if (p) {
            plain_store = std::move(*p);
            buf = plain_store;
        } else if (require_encryption) {
            return p.error();
        }
    }
    if (buf.empty())
        return make_error("truncated", "empty packet after decryption");
    if (buf[0] == kHasCrc) {
        if (buf.size() < 5)
            return make_error("truncated", "CRC header is truncated");
        std::uint32_t want = be32(buf.subspan(1, 4));
        std::uint32_t got = crc32_ieee(buf.subspan(5));
        if (want != got)
            return make_error("bad_crc", "packet checksum mismatch");
        buf = buf.subspan(5);
        if (buf.empty())
            return make_error("truncated", "empty packet after the CRC header");
    }
    std::vector<Bytes> out;
    if (auto st = expand(buf, 0, out); !st)
        return st.error();
    return out;
}

Result<Bytes> seal_stream(ByteView msg, bool compress, const Keyring* keyring, const NonceSource& nonce) {
    return seal_stream(msg, compress, keyring, nonce, 1);
}

Result<Bytes> seal_stream(ByteView msg, bool compress, const Keyring* keyring, const NonceSource& nonce,
                          int encryption_version, std::string_view label) {
    if (msg.empty())
        return make_error("malformed", "cannot seal an empty message");
    if (auto st = validate_label(label); !st)
        return st.error();
    Bytes buf = compress ? compress_wrap(msg) : Bytes(msg.begin(), msg.end());
    if (has_keys(keyring)) {
        if (detail::encrypted_length(encryption_version, buf.size()) > kMaxStreamBytes)
            return make_error("too_large", "stream message exceeds the 20 MiB limit");
        return seal_encrypted(buf, *keyring, nonce, encryption_version, true, label);
    }
    return buf;
}

namespace {

using Len = Result<std::optional<std::size_t>>;
Len need_more() {
    return std::optional<std::size_t>{};
}
Len done(std::size_t n) {
    return std::optional<std::size_t>{n};
}

/// Measures one msgpack value at `off`; nullopt when the buffer ends first.
Len value_len(ByteView b, std::size_t off) {
    if (off >= b.size())
        return need_more();
    auto e = msgpack::Reader(b.subspan(off)).measure();
    if (!e)
        return e.error();
    return e->complete ? done(e->size) : need_more();
}

/// Decodes the header struct that starts at `off` and is `len` bytes long.
template <typename H> Result<H> header_at(ByteView b, std::size_t off, std::size_t len, const char* what) {
    auto h = msgpack::decode<H>(b.subspan(off, len));
    if (!h)
        return h.error().with_prefix(what);
    return h;
}

Len push_pull_len(ByteView b, std::size_t max_bytes) {
    std::size_t off = 1;
    auto hl = value_len(b, off);
    if (!hl || !*hl)
        return hl;
    auto h = header_at<PushPullHeader>(b, off, **hl, "push-pull header");
    if (!h)
        return h.error();
    if (h->nodes > kMaxPushPullNodes || h->user_state_len > kMaxStreamBytes)
        return make_error("malformed", "push-pull header: Nodes or UserStateLen out of range");
    const std::uint64_t nodes = h->nodes, ulen = h->user_state_len;
    off += **hl;
    if (off + ulen + nodes > max_bytes)
        return make_error("too_large", "push-pull of " + std::to_string(nodes) + " nodes and " +
                                           std::to_string(ulen) + " bytes of user state exceeds " +
                                           std::to_string(max_bytes) + " bytes");
    for (std::uint64_t i = 0; i < nodes; ++i) {
        auto nl = value_len(b, off);
        if (!nl || !*nl)
            return nl;
        off += **nl;
    }
    off += ulen;
    return off <= b.size() ? done(off) : need_more();
}

Len user_len(ByteView b, std::size_t max_bytes) {
    auto hl = value_len(b, 1);
    if (!hl || !*hl)
        return hl;
    auto h = header_at<UserMsgHeader>(b, 1, **hl, "user message header");
    if (!h)
        return h.error();
    if (h->user_msg_len > kMaxStreamBytes)
        return make_error("malformed", "user message header: UserMsgLen out of range");
    const std::uint64_t ulen = h->user_msg_len;
    std::size_t total = 1 + **hl + ulen;
    if (total > max_bytes)
        return make_error("too_large", "user message of " + std::to_string(ulen) + " bytes exceeds " +
                                           std::to_string(max_bytes) + " bytes");
    return total <= b.size() ? done(total) : need_more();
}

} // namespace

namespace {
/// Stream messages that are one msgpack map after the type byte (small, bounded frames).
bool is_small_frame(std::uint8_t t) {
    switch (static_cast<MsgType>(t)) {
    case MsgType::Ping:
    case MsgType::IndirectPing:
    case MsgType::Ack:
    case MsgType::Suspect:
    case MsgType::Alive:
    case MsgType::Dead:
    case MsgType::Nack:
    case MsgType::Err:
        return true;
    default:
        return false;
    }
}
} // namespace

std::size_t stream_frame_limit(std::uint8_t first_byte, std::size_t max_stream_bytes) {
    switch (first_byte) {
    case kEncrypt:
    case kCompress:
    case static_cast<std::uint8_t>(MsgType::PushPull):
    case static_cast<std::uint8_t>(MsgType::User):
        return std::min(max_stream_bytes, kMaxStreamBytes);
    default:
        return is_small_frame(first_byte) ? std::min(max_stream_bytes, kMaxSmallStreamFrame) : 0;
    }
}

Result<std::optional<std::size_t>> stream_frame_length(ByteView buffered, std::size_t max_bytes) {
    if (buffered.empty())
        return need_more();
    std::uint8_t t = buffered[0];
    Len r = need_more();
    switch (t) {
    case kEncrypt: {
        if (buffered.size() < 5)
            return need_more();
        std::uint32_t len = be32(buffered.subspan(1, 4));
        if (len > kMaxStreamBytes || std::size_t{5} + len > max_bytes)
            return make_error("too_large",
                              "Remote node state is larger than limit (" + std::to_string(len) + ")");
        return buffered.size() >= 5u + len ? done(5u + len) : need_more();
    }
    case static_cast<std::uint8_t>(MsgType::PushPull):
        r = push_pull_len(buffered, max_bytes);
        break;
    case static_cast<std::uint8_t>(MsgType::User):
        r = user_len(buffered, max_bytes);
        break;
    case kCompound:
    case kHasCrc:
        return make_error("unexpected_type", "message type " + std::to_string(t) + " is not sent on streams");
    default: {
        if (t != kCompress && !is_small_frame(t))
            return make_error("unknown_type", "unknown stream message type " + std::to_string(t));
        auto v = value_len(buffered, 1); // one msgpack map after the type byte
        if (!v)
            return v.error();
        r = *v ? done(1 + **v) : need_more();
        break;
    }
    }
    if (!r)
        return r.error();
    if (*r && **r > max_bytes)
        return make_error("too_large", "stream frame exceeds " + std::to_string(max_bytes) + " bytes");
    if (!*r && buffered.size() >= max_bytes)
        return make_error("too_large",
                          "incomplete stream frame already exceeds " + std::to_string(max_bytes) + " bytes");
    return r;
}

Result<Bytes> open_stream(ByteView frame, const Keyring* keyring, bool require_encryption,
                          std::string_view label) {
    if (frame.empty())
        return make_error("truncated", "empty stream frame");
    Bytes plain;
    if (frame[0] == kEncrypt) {
        if (!has_keys(keyring))
            return make_error("no_key", "Remote state is encrypted and encryption is not configured");
        if (frame.size() < 5)
            return make_error("truncated", "encrypted stream header is truncated");
        std::uint32_t len = be32(frame.subspan(1, 4));
        if (len > kMaxStreamBytes)
            return make_error("too_large",
                              "Remote node state is larger than limit (" + std::to_string(len) + ")");
        if (frame.size() < 5u + len)
            return make_error("truncated", "encrypted stream frame is truncated");
        Bytes aad(frame.begin(), frame.begin() + 5);
        aad.insert(aad.end(), label.begin(), label.end());
        auto p = decrypt_any(*keyring, frame.subspan(5, len), aad);
        if (!p)
            return p.error();
        plain = std::move(*p);
    } else {
        if (has_keys(keyring) && require_encryption)
            return make_error("not_encrypted", "Encryption is configured but remote state is not encrypted");
        plain.assign(frame.begin(), frame.end());
    }
    if (plain.empty())
        return make_error("truncated", "empty stream message");
    if (plain[0] == kCompress) {
        auto d = decompress_msg(plain, kMaxStreamBytes);
        if (!d)
            return d.error();
        return d;
    }
    return plain;
}

} // namespace clusterd::wire
