// Envelopes, keyring, LZW and CRC: seeded round-trip properties and one distinct error per
// failure mode (wrong key, truncated, bad CRC, oversized length prefix, ...).
#include <gtest/gtest.h>

#include "clusterd/base/bytes.hpp"
#include "clusterd/base/rng.hpp"
#include "clusterd/wire/crc32.hpp"
#include "clusterd/wire/envelope.hpp"
#include "clusterd/wire/lzw.hpp"
#include "clusterd/wire/memberlist.hpp"

using namespace clusterd;
using namespace clusterd::wire;

namespace {

base::Bytes random_bytes(base::Rng& rng, std::size_t n, int alphabet) {
    base::Bytes b(n);
    for (auto& x : b)
        x = static_cast<std::uint8_t>(rng.below(static_cast<std::uint64_t>(alphabet)));
    return b;
}

NonceSource counter_nonce() {
    auto n = std::make_shared<std::uint64_t>(0);
    return [n](std::span<std::uint8_t> out) {
        ++*n;
        for (std::size_t i = 0; i < out.size(); ++i)
            out[i] = static_cast<std::uint8_t>(*n >> (8 * (i % 8)));
    };
}

Keyring make_ring(std::initializer_list<std::size_t> sizes, std::uint8_t seed) {
    Keyring r;
    for (std::size_t s : sizes) {
        base::Bytes k(s);
        for (std::size_t i = 0; i < s; ++i)
            k[i] = static_cast<std::uint8_t>(seed + i);
        EXPECT_TRUE(r.install(k).ok());
        ++seed;
    }
    return r;
}

template <typename T> std::string code(const base::Result<T>& r) {
    return r.ok() ? std::string("ok") : r.error().code;
}

} // namespace

TEST(WireLzw, KnownVectorAndRoundTrips) {
    // Go: lzw.NewWriter(LSB, 8) on "TOBEORNOTTOBEORTOBEORNOT" starts with a clear code (256, 9 bits).
    auto c = lzw_compress(base::to_bytes("TOBEORNOTTOBEORTOBEORNOT"));
    ASSERT_GE(c.size(), 2u);
    EXPECT_EQ(c[0], 0x00);        // low 8 bits of 256
    EXPECT_EQ(c[1] & 0x01, 0x01); // 9th bit of 256
    auto d = lzw_decompress(c, 1 << 20);
    ASSERT_TRUE(d.ok());
    EXPECT_EQ(base::to_string(*d), "TOBEORNOTTOBEORTOBEORNOT");
    EXPECT_EQ(base::to_hex(lzw_compress({})), "000302"); // clear(256) + eof(257), 9 bits each, LSB first

    base::Rng rng(42);
    for (int i = 0; i < 200; ++i) {
        // small alphabets exercise long chains and the 12-bit table reset
        std::size_t n = static_cast<std::size_t>(rng.below(i < 20 ? 20000 : 3000));
        int alphabet = 1 + static_cast<int>(rng.below(256));
        auto in = random_bytes(rng, n, alphabet);
        auto out = lzw_decompress(lzw_compress(in), n + 1);
        ASSERT_TRUE(out.ok()) << out.error().message;
        ASSERT_EQ(*out, in) << "iteration " << i;
    }
}

TEST(WireLzw, RejectsBadStreams) {
    auto c = lzw_compress(base::Bytes(1000, 'x'));
    auto cut = c;
    cut.resize(cut.size() / 2);
    EXPECT_EQ(code(lzw_decompress(cut, 1 << 20)), "bad_compression");
    EXPECT_EQ(code(lzw_decompress(c, 10)), "too_large");
    // code 300 right after clear: refers to an undefined table entry
    base::Bytes bad = {0x00, 0x59, 0x02}; // 256, then 300 (9 bits each)
    EXPECT_EQ(code(lzw_decompress(bad, 100)), "bad_compression");
}

TEST(WireCrc, MatchesIeeeCheckValue) {
    EXPECT_EQ(crc32_ieee(base::to_bytes("123456789")), 0xCBF43926u);
    EXPECT_EQ(crc32_ieee({}), 0u);
}

TEST(WireKeyring, MemberlistSemantics) {
    base::Bytes k1(16, 1), k2(24, 2), k3(32, 3), bad(20, 4);
    Keyring r;
    EXPECT_TRUE(r.empty());
    EXPECT_EQ(r.primary(), nullptr);
    EXPECT_EQ(code(r.install(bad)), "bad_key");
    ASSERT_TRUE(r.install(k1).ok());
    ASSERT_TRUE(r.install(k2).ok());
    ASSERT_TRUE(r.install(k2).ok()); // idempotent
    EXPECT_EQ(r.keys().size(), 2u);
    EXPECT_EQ(*r.primary(), k1); // first key stays primary
    EXPECT_EQ(code(r.use(k3)), "no_key");
    ASSERT_TRUE(r.install(k3).ok());
    ASSERT_TRUE(r.use(k3).ok());
    EXPECT_EQ(*r.primary(), k3);
    EXPECT_EQ(r.keys().size(), 3u);
    EXPECT_EQ(code(r.remove(k3)), "primary_key");
    ASSERT_TRUE(r.remove(k1).ok());
    ASSERT_TRUE(r.remove(k1).ok()); // absent: no-op
    EXPECT_EQ(r.keys().size(), 2u);
    auto b64 = r.list_base64();
    EXPECT_EQ(b64[0], base::base64_encode(k3));
    auto r2 = Keyring::from_base64(b64);
    ASSERT_TRUE(r2.ok());
    EXPECT_EQ(r2->keys(), r.keys());
    EXPECT_EQ(code(Keyring::from_base64({"not base64!"})), "bad_key");
    EXPECT_EQ(code(Keyring::from_base64({base::base64_encode(bad)})), "bad_key");
}

TEST(WireEnvelope, PacketRoundTripProperty) {
    base::Rng rng(7);
    Keyring ring16 = make_ring({16}, 1), ring32 = make_ring({32, 24}, 9);
    auto nonce = counter_nonce();
    for (int i = 0; i < 300; ++i) {
        std::vector<base::Bytes> parts;
        std::size_t count = 1 + rng.below(6);
        for (std::size_t p = 0; p < count; ++p) {
            Alive a{static_cast<std::uint32_t>(rng.next()),
                    "node-" + std::to_string(rng.below(1000)),
                    {127, 0, 0, static_cast<std::uint8_t>(rng.below(255))},
                    static_cast<std::uint16_t>(rng.below(65536)),
                    random_bytes(rng, rng.below(40), 4),
                    {1, 5, 2, 2, 5, 4}};
            parts.push_back(rng.chance(0.5)
                                ? encode(a)
                                : encode(Ping{static_cast<std::uint32_t>(rng.next()), a.node, {}, 0, ""}));
        }
        base::Bytes msg = count == 1 ? parts[0] : encode_compound(parts);
        SealOptions opts{rng.chance(0.5), rng.chance(0.5), static_cast<int>(rng.below(2))};
        const Keyring* ring = rng.chance(0.3) ? nullptr : (rng.chance(0.5) ? &ring16 : &ring32);
        auto sealed = seal_packet(msg, opts, ring, nonce);
        ASSERT_TRUE(sealed.ok());
        if (ring) {
            EXPECT_EQ((*sealed)[0], opts.encryption_version);
        } else if (opts.crc) {
            EXPECT_EQ((*sealed)[0], 12);
        }
        auto opened = open_packet(*sealed, ring, ring != nullptr);
        ASSERT_TRUE(opened.ok()) << opened.error().message;
        EXPECT_EQ(*opened, parts) << "iteration " << i;
        for (const auto& m : *opened)
            EXPECT_TRUE(decode(m).ok());
    }
}

TEST(WireEnvelope, CompressionOnlyWhenSmaller) {
    base::Bytes small = encode(Nack{1});
    auto s = seal_packet(small, SealOptions{true, false, 1}, nullptr, {});
    ASSERT_TRUE(s.ok());
    EXPECT_EQ(*s, small); // LZW would grow a 9-byte message
    base::Bytes big = encode(UserMsg{base::Bytes(600, 'a')});
    auto b = seal_packet(big, SealOptions{true, false, 1}, nullptr, {});
    ASSERT_TRUE(b.ok());
    EXPECT_EQ((*b)[0], 9);
    EXPECT_LT(b->size(), big.size());
}

TEST(WireEnvelope, DistinctErrors) {
    Keyring right = make_ring({16}, 1), wrong = make_ring({16}, 50);
    auto nonce = counter_nonce();
    base::Bytes msg = encode(Ping{9, std::string(60, 'n'), {}, 0, ""}); // longer than the 45-byte minimum

    auto enc = seal_packet(msg, SealOptions{false, true, 1}, &right, nonce);
    ASSERT_TRUE(enc.ok());
    EXPECT_EQ(code(open_packet(*enc, &wrong, true)), "decrypt_failed");
    auto tampered = *enc;
    tampered[20] ^= 1;
    EXPECT_EQ(code(open_packet(tampered, &right, true)), "decrypt_failed");
    EXPECT_EQ(code(open_packet(base::ByteView(*enc).first(20), &right, true)), "truncated");
    EXPECT_EQ(code(open_packet({}, nullptr, false)), "truncated");
    // without require_encryption an undecryptable packet is tried as plaintext (rolling upgrade)
    auto plain_ok = open_packet(msg, &right, false);
    ASSERT_TRUE(plain_ok.ok());
    EXPECT_EQ(code(open_packet(msg, &right, true)), "decrypt_failed");

    auto crc = seal_packet(msg, SealOptions{false, true, 1}, nullptr, {});
    ASSERT_TRUE(crc.ok());
    auto bad = *crc;
    bad.back() ^= 0xff;
    EXPECT_EQ(code(open_packet(bad, nullptr, false)), "bad_crc");
    EXPECT_EQ(code(open_packet(base::ByteView(*crc).first(3), nullptr, false)), "truncated");

    // compress{Algo: 1}
    base::Bytes algo1 = {9, 0x82, 0xa4, 'A', 'l', 'g', 'o', 0x01, 0xa3, 'B', 'u', 'f', 0xa1, 0x00};
    EXPECT_EQ(code(open_packet(algo1, nullptr, false)), "bad_compression");

    // compound nesting bomb
    base::Bytes nested = msg;
    for (int i = 0; i < 10; ++i)
        nested = encode_compound({nested});
    EXPECT_EQ(code(open_packet(nested, nullptr, false)), "nesting");
}

TEST(WireEnvelope, StreamRoundTripAndFraming) {
    base::Rng rng(99);
    Keyring ring = make_ring({32}, 3);
    auto nonce = counter_nonce();
    for (int i = 0; i < 100; ++i) {
        PushPull pp;
        pp.join = rng.chance(0.5);
        std::size_t n = rng.below(20);
        for (std::size_t k = 0; k < n; ++k)
            pp.nodes.push_back({"n" + std::to_string(k),
                                {10, 0, 0, static_cast<std::uint8_t>(k)},
                                7946,
                                random_bytes(rng, rng.below(30), 8),
                                static_cast<std::uint32_t>(rng.below(100)),
                                static_cast<NodeState>(rng.below(4)),
                                {1, 5, 2, 2, 5, 4}});
        pp.user_state = random_bytes(rng, rng.below(500), 256);
        base::Bytes msg = encode_push_pull(pp);
        bool compress = rng.chance(0.5);
        const Keyring* k = rng.chance(0.5) ? &ring : nullptr;
        auto frame = seal_stream(msg, compress, k, nonce, static_cast<int>(rng.below(2)));
        ASSERT_TRUE(frame.ok());
        // append the start of another frame: the length must still be exactly this frame
        base::Bytes buffered = *frame;
        buffered.insert(buffered.end(), {6, 0x83});
        auto len = stream_frame_length(buffered, kMaxStreamBytes);
        ASSERT_TRUE(len.ok()) << len.error().message;
        ASSERT_TRUE(len->has_value());
        EXPECT_EQ(**len, frame->size());
        for (std::size_t cut : {std::size_t{0}, std::size_t{1}, frame->size() / 2, frame->size() - 1}) {
            auto partial = stream_frame_length(base::ByteView(*frame).first(cut), kMaxStreamBytes);
            ASSERT_TRUE(partial.ok()) << "cut " << cut << ": " << partial.error().message;
            EXPECT_FALSE(partial->has_value()) << "cut " << cut;
        }
        auto opened = open_stream(*frame, k, k != nullptr);
        ASSERT_TRUE(opened.ok()) << opened.error().message;
        EXPECT_EQ(*opened, msg);
        auto back = decode_push_pull(*opened);
        ASSERT_TRUE(back.ok());
        EXPECT_EQ(*back, pp);
    }
}

TEST(WireEnvelope, StreamErrors) {
    Keyring ring = make_ring({16}, 1), other = make_ring({16}, 77);
    auto nonce = counter_nonce();
    base::Bytes msg = encode(Ping{1, "x", {}, 0, ""});
    auto frame = seal_stream(msg, true, &ring, nonce);
    ASSERT_TRUE(frame.ok());
    EXPECT_EQ(code(open_stream(*frame, &other, true)), "decrypt_failed");
    EXPECT_EQ(code(open_stream(*frame, nullptr, false)), "no_key");
    EXPECT_EQ(code(open_stream(base::ByteView(*frame).first(frame->size() - 1), &ring, true)), "truncated");
    EXPECT_EQ(code(open_stream(msg, &ring, true)), "not_encrypted");
    EXPECT_EQ(code(open_stream(msg, &ring, false)), "ok");
    // the 5-byte header is authenticated: changing the declared length breaks decryption
    auto longer = *frame;
    longer.push_back(0);
    longer[4] += 1;
    EXPECT_EQ(code(open_stream(longer, &ring, true)), "decrypt_failed");
    // oversized length prefix
    base::Bytes huge = {10, 0x7f, 0xff, 0xff, 0xff};
    EXPECT_EQ(code(stream_frame_length(huge, kMaxStreamBytes)), "too_large");
    EXPECT_EQ(code(open_stream(huge, &ring, true)), "too_large");
    EXPECT_EQ(code(stream_frame_length(*frame, 10)), "too_large");
    EXPECT_EQ(code(stream_frame_length(base::Bytes{42}, kMaxStreamBytes)), "unknown_type");
    EXPECT_EQ(code(stream_frame_length(base::Bytes{7, 1}, kMaxStreamBytes)), "unexpected_type");
    // push-pull header claiming a huge user state: incomplete (not a crash), then too_large at the cap
    base::Bytes pp = {6,   0x83, 0xa4, 'J',  'o',  'i', 'n',  0xc2, 0xa5, 'N',  'o',
                      'd', 'e',  's',  0x00, 0xac, 'U', 's',  'e',  'r',  'S',  't',
                      'a', 't',  'e',  'L',  'e',  'n', 0xce, 0x00, 0x10, 0x00, 0x00};
    auto need = stream_frame_length(pp, kMaxStreamBytes);
    ASSERT_TRUE(need.ok());
    EXPECT_FALSE(need->has_value());
    EXPECT_EQ(code(stream_frame_length(pp, 1000)), "too_large");
    // user stream message
    auto user = encode_stream_user(base::Bytes{3, 1, 2});
    auto ul = stream_frame_length(user, kMaxStreamBytes);
    ASSERT_TRUE(ul.ok() && ul->has_value());
    EXPECT_EQ(**ul, user.size());
}

TEST(WireEnvelope, VersionZeroPadsToBlocks) {
    Keyring ring = make_ring({24}, 5);
    auto nonce = counter_nonce();
    for (std::size_t n = 1; n < 40; ++n) {
        base::Bytes msg = encode(UserMsg{base::Bytes(n, 7)});
        auto s = seal_packet(msg, SealOptions{false, false, 0}, &ring, nonce);
        ASSERT_TRUE(s.ok());
        EXPECT_EQ(s->size(), 1 + 12 + (msg.size() / 16 + 1) * 16 + 16) << n;
        auto o = open_packet(*s, &ring, true);
        ASSERT_TRUE(o.ok());
        EXPECT_EQ((*o)[0], msg);
    }
}

TEST(WireEnvelope, VersionHelpersMatchActualOverhead) {
    EXPECT_EQ(encryption_version_for_protocol(1), 0);
    EXPECT_EQ(encryption_version_for_protocol(2), 1);
    EXPECT_EQ(encryption_version_for_protocol(5), 1);
    EXPECT_TRUE(peer_wants_crc(5));
    EXPECT_FALSE(peer_wants_crc(4));
    Keyring ring = make_ring({16}, 1);
    auto nonce = counter_nonce();
    base::Bytes msg(32, 1); // a whole number of blocks: version 0 pads a full extra block
    for (int v : {0, 1}) {
        auto s = seal_packet(msg, SealOptions{false, false, v}, &ring, nonce);
        ASSERT_TRUE(s.ok());
        EXPECT_EQ(s->size(), msg.size() + encryption_overhead(v)) << v;
    }
}

// Issue 18: memberlist's label header. Layout [244][len][label] in front of the packet, the label
// as AES-GCM additional data; a missing, different or unexpected label is "label_mismatch".
TEST(WireLabel, PacketHeaderLayoutAndChecks) {
    const base::Bytes msg = encode(Ping{7, "n1", {}, 0, ""});
    SealOptions plain;
    plain.compress = false;
    auto bare = seal_packet(msg, plain, nullptr, nullptr);
    ASSERT_TRUE(bare.ok());
    auto labelled = seal_packet(msg, plain, nullptr, nullptr, "blue");
    ASSERT_TRUE(labelled.ok());
    base::Bytes want = {kLabelMsgType, 4, 'b', 'l', 'u', 'e'};
    want.insert(want.end(), bare->begin(), bare->end());
    EXPECT_EQ(*labelled, want);

    auto ok = open_packet(*labelled, nullptr, false, "blue");
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    ASSERT_EQ(ok->size(), 1u);
    EXPECT_EQ(ok->front(), msg);
    EXPECT_EQ(open_packet(*labelled, nullptr, false, "bluf").error().code, "label_mismatch");
    EXPECT_EQ(open_packet(*labelled, nullptr, false).error().code, "label_mismatch");     // unexpected
    EXPECT_EQ(open_packet(*bare, nullptr, false, "blue").error().code, "label_mismatch"); // missing
    EXPECT_TRUE(open_packet(*bare, nullptr, false).ok());

    EXPECT_EQ(open_packet(base::Bytes{kLabelMsgType}, nullptr, false, "blue").error().code, "truncated");
    EXPECT_EQ(open_packet(base::Bytes{kLabelMsgType, 0, 1}, nullptr, false, "").error().code, "malformed");
    EXPECT_EQ(open_packet(base::Bytes{kLabelMsgType, 5, 'b', 'l'}, nullptr, false, "blue").error().code,
              "truncated");
    EXPECT_EQ(
        open_packet(base::Bytes{kLabelMsgType, 4, 'b', 'l', 'u', 'e'}, nullptr, false, "blue").error().code,
        "truncated");

    EXPECT_EQ(validate_label(std::string(255, 'x')).ok(), true);
    EXPECT_EQ(validate_label(std::string(256, 'x')).error().code, "bad_label");
    EXPECT_EQ(seal_packet(msg, plain, nullptr, nullptr, std::string(256, 'x')).error().code, "bad_label");
}

TEST(WireLabel, LabelIsAdditionalDataWhenEncrypted) {
    const Keyring ring = make_ring({16}, 3);
    const base::Bytes msg = encode(Ping{9, "n2", {}, 0, ""});
    auto sealed = seal_packet(msg, SealOptions(), &ring, counter_nonce(), "blue");
    ASSERT_TRUE(sealed.ok());
    ASSERT_EQ((*sealed)[0], kLabelMsgType);
    auto ok = open_packet(*sealed, &ring, true, "blue");
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(ok->front(), msg);
    // Same length, other label in the header and expected: the ciphertext was bound to "blue".
    base::Bytes forged = *sealed;
    forged[2] = 'g';
    EXPECT_EQ(open_packet(forged, &ring, true, "glue").error().code, "decrypt_failed");
    // Stripping the header and expecting no label fails too.
    base::Bytes stripped(sealed->begin() + 6, sealed->end());
    EXPECT_EQ(open_packet(stripped, &ring, true).error().code, "decrypt_failed");

    // Streams: the frame's 5-byte header plus the label are the additional data.
    auto frame = seal_stream(msg, true, &ring, counter_nonce(), 1, "blue");
    ASSERT_TRUE(frame.ok());
    auto opened = open_stream(*frame, &ring, true, "blue");
    ASSERT_TRUE(opened.ok()) << opened.error().message;
    EXPECT_EQ(*opened, msg);
    EXPECT_EQ(open_stream(*frame, &ring, true, "red").error().code, "decrypt_failed");
    EXPECT_EQ(open_stream(*frame, &ring, true).error().code, "decrypt_failed");
    // Without a label the frame is what it always was (the golden vectors pin the bytes).
    auto nolabel = seal_stream(msg, true, &ring, counter_nonce(), 1);
    ASSERT_TRUE(nolabel.ok());
    EXPECT_TRUE(open_stream(*nolabel, &ring, true).ok());
}

TEST(WireLabel, StreamHeaderParsingNeedsMoreThenSplits) {
    base::Bytes h;
    append_label_header(h, "");
    EXPECT_TRUE(h.empty());
    append_label_header(h, "ab");
    EXPECT_EQ(h, (base::Bytes{kLabelMsgType, 2, 'a', 'b'}));
    h.push_back(static_cast<std::uint8_t>(MsgType::Encrypt));
    for (std::size_t cut = 0; cut < 4; ++cut) {
        auto r = parse_label_header(base::ByteView(h.data(), cut));
        ASSERT_TRUE(r.ok());
        EXPECT_FALSE(r->has_value()) << cut;
    }
    auto r = parse_label_header(h);
    ASSERT_TRUE(r.ok() && r->has_value());
    EXPECT_EQ((*r)->label, "ab");
    EXPECT_EQ((*r)->size, 4u);
    auto none = parse_label_header(base::Bytes{static_cast<std::uint8_t>(MsgType::Encrypt), 0, 0});
    ASSERT_TRUE(none.ok() && none->has_value());
    EXPECT_EQ((*none)->label, "");
    EXPECT_EQ((*none)->size, 0u);
    EXPECT_EQ(parse_label_header(base::Bytes{kLabelMsgType, 0}).error().code, "malformed");
}
