#!/usr/bin/env python3
"""Writes the fuzz regression inputs (issue 16): one file per packet or stream shape that
crashed, hung or over-allocated a decoder here or in Serf/memberlist (hostile lengths, counts
and nesting; the DoS frames of issue 16). Replayed once each by the `<target>_regression`
ctests in the asan tree (label fuzz) under -malloc_limit_mb=64. Deterministic: running it
again rewrites the same bytes. Usage: make_regression.py [OUTDIR] (default: this folder)."""
import os
import struct
import sys

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))

# memberlist message types
PING, IPING, ACK, SUSPECT, ALIVE, DEAD, PUSHPULL, COMPOUND, USER, COMPRESS, ENCRYPT, NACK, CRC = range(13)


def fixmap(n):
    return bytes([0x80 | n])


def s(text):
    b = text.encode()
    return bytes([0xA0 | len(b)]) + b


def str32_claim(n):
    return b"\xdb" + struct.pack(">I", n)


def bin32_claim(n):
    return b"\xc6" + struct.pack(">I", n)


def arr32_claim(n):
    return b"\xdd" + struct.pack(">I", n)


def map32_claim(n):
    return b"\xdf" + struct.pack(">I", n)


def u32(n):
    return b"\xce" + struct.pack(">I", n)


HUGE = 0xFFFFFFFF
GIB = 1 << 30

# Message bodies (type byte + msgpack), shared by several targets.
MESSAGES = {
    # a ping whose node name claims 1 GiB (issue 16 fix 3: small types cannot claim large bodies)
    "ping_name_claims_1gib": bytes([PING]) + fixmap(2) + s("SeqNo") + u32(1) + s("Node") + str32_claim(GIB),
    # strings and byte fields claiming 4 GiB (the pre-auth RPC/gossip over-allocation of issue 16)
    "alive_meta_claims_4gib": bytes([ALIVE]) + fixmap(3) + s("Incarnation") + u32(1) + s("Node") + s("a")
    + s("Meta") + bin32_claim(HUGE),
    "suspect_from_claims_4gib": bytes([SUSPECT]) + fixmap(3) + s("Incarnation") + u32(1) + s("Node") + s("a")
    + s("From") + str32_claim(HUGE),
    "ack_payload_claims_4gib": bytes([ACK]) + fixmap(2) + s("SeqNo") + u32(7) + s("Payload") + bin32_claim(HUGE),
    "iping_target_claims_4gib": bytes([IPING]) + fixmap(2) + s("SeqNo") + u32(1) + s("Target") + bin32_claim(HUGE),
    # a map / array claiming 2^32-1 entries
    "dead_map32_claims_4g_entries": bytes([DEAD]) + map32_claim(HUGE),
    "alive_vsn_array32_claims_4g": bytes([ALIVE]) + fixmap(2) + s("Node") + s("a") + s("Vsn") + arr32_claim(HUGE),
    # deep nesting (recursion depth)
    "ping_nested_arrays_100k": bytes([PING]) + fixmap(1) + s("X") + b"\x91" * 100000,
    "ping_nested_maps_50k": bytes([PING]) + fixmap(1) + s("X") + (fixmap(1) + s("k")) * 50000 + b"\xc0",
    # push-pull header claiming 2^31 nodes and 4 GiB of user state
    "pushpull_header_claims_2g_nodes": bytes([PUSHPULL]) + fixmap(3) + s("Nodes") + u32(1 << 31) + s("UserStateLen")
    + u32(HUGE) + s("Join") + b"\xc2",
    # compound claiming 255 parts with lengths past the end
    "compound_255_parts_past_end": bytes([COMPOUND, 255]) + struct.pack(">H", 0xFFFF) * 255,
    "compound_nested_compounds": (bytes([COMPOUND, 1]) + struct.pack(">H", 3)) * 1 + bytes([COMPOUND, 1, 0, 0]),
    # truncated and empty bodies of every type
    **{f"type_{t}_truncated": bytes([t]) + b"\x83\xa5SeqNo" for t in range(14)},
    "unknown_type_255": bytes([255]) + b"\x80",
}


def lzw_bomb(n_codes):
    """Go compress/lzw LSB, litWidth 8: a stream of the same code repeated, which expands
    quadratically (each code names a longer string)."""
    out = bytearray()
    acc = 0
    nbits = 0
    width = 9
    next_code = 258
    code = 0
    for i in range(n_codes):
        c = 0 if i == 0 else next_code - 1 if next_code - 1 >= 258 else 0
        acc |= c << nbits
        nbits += width
        while nbits >= 8:
            out.append(acc & 0xFF)
            acc >>= 8
            nbits -= 8
        if i > 0:
            next_code += 1
            if next_code == (1 << width) and width < 12:
                width += 1
        if next_code >= 4095:
            break
        code = c
    del code
    if nbits:
        out.append(acc & 0xFF)
    return bytes(out)


SERF = {
    # Serf messages: type byte + msgpack
    "user_event_payload_claims_4gib": bytes([3]) + fixmap(3) + s("LTime") + u32(1) + s("Name") + s("e") + s("Payload")
    + bin32_claim(HUGE),
    "query_filters_array32_claims_4g": bytes([4]) + fixmap(2) + s("Name") + s("q") + s("Filters") + arr32_claim(HUGE),
    "join_node_claims_1gib": bytes([1]) + fixmap(2) + s("LTime") + u32(1) + s("Node") + str32_claim(GIB),
    "pushpull_statustimes_map32_claims_4g": bytes([2]) + fixmap(2) + s("LTime") + u32(1) + s("StatusLTimes")
    + map32_claim(HUGE),
    "pushpull_events_nested_100k": bytes([2]) + fixmap(1) + s("Events") + b"\x91" * 100000,
    "key_response_keys_array32_claims_4g": bytes([8]) + fixmap(2) + s("Result") + b"\xc3" + s("Keys")
    + arr32_claim(HUGE),
    "relay_inner_claims_4gib": bytes([9]) + fixmap(2) + s("DestAddr") + s("x") + s("Message") + bin32_claim(HUGE),
    "filter_tag_claims_4gib": bytes([1]) + fixmap(2) + s("Tag") + s("t") + s("Expr") + str32_claim(HUGE),
    **{f"type_{t}_truncated": bytes([t]) + b"\x82\xa5LTime" for t in range(11)},
}

TARGETS = {
    "fuzz_wire_message": MESSAGES,
    # fuzz_wire_packet: byte 0 = flags (bit 0: keyed, bit 1: require encryption)
    "fuzz_wire_packet": {
        **{f"plain_{k}": b"\x00" + v for k, v in MESSAGES.items() if not k.startswith("type_")},
        "crc_wrong_then_ping": b"\x00" + bytes([CRC]) + b"\xde\xad\xbe\xef" + MESSAGES["ping_name_claims_1gib"],
        "compress_lzw_bomb": b"\x00" + bytes([COMPRESS]) + fixmap(2) + s("Algo") + b"\x00" + s("Buf")
        + b"\xc5" + struct.pack(">H", len(lzw_bomb(3900))) + lzw_bomb(3900),
        "compress_buf_claims_4gib": b"\x00" + bytes([COMPRESS]) + fixmap(2) + s("Algo") + b"\x00" + s("Buf")
        + bin32_claim(HUGE),
        "compress_in_compress": b"\x00" + (bytes([COMPRESS]) + fixmap(1) + s("Buf")) * 200 + b"\xc0",
        "encrypted_truncated_gcm": b"\x01" + bytes([1]) + b"\x00" * 20,
        "encrypted_wrong_key": b"\x01" + bytes([1]) + bytes(range(12)) + b"\x55" * 64,
        "encrypted_required_plain_ping": b"\x03" + MESSAGES["ping_name_claims_1gib"],
        "encrypted_version_255": b"\x01" + bytes([255]) + b"\x00" * 40,
    },
    # fuzz_wire_stream: byte 0 = flags (bit 0: keyed); then a stream frame
    "fuzz_wire_stream": {
        # issue 16 hole 3: a frame that claims to be encrypted and 20 MiB long
        "encrypt_frame_claims_20mib": b"\x01" + bytes([ENCRYPT]) + struct.pack(">I", 20 << 20) + b"\x01" + b"\x00" * 64,
        "encrypt_frame_claims_4gib": b"\x01" + bytes([ENCRYPT]) + struct.pack(">I", HUGE) + b"\x01",
        "encrypt_frame_to_plain_agent": b"\x00" + bytes([ENCRYPT]) + struct.pack(">I", 64) + b"\x01" + b"\x00" * 64,
        "pushpull_claims_2g_nodes": b"\x00" + MESSAGES["pushpull_header_claims_2g_nodes"],
        "pushpull_userstate_claims_4gib": b"\x00" + bytes([PUSHPULL]) + fixmap(2) + s("Nodes") + u32(0)
        + s("UserStateLen") + u32(HUGE) + b"\x00" * 16,
        "ping_on_stream_claims_1gib": b"\x00" + MESSAGES["ping_name_claims_1gib"],
        "compress_stream_lzw_bomb": b"\x00" + bytes([COMPRESS]) + fixmap(2) + s("Algo") + b"\x00" + s("Buf")
        + b"\xc5" + struct.pack(">H", len(lzw_bomb(3900))) + lzw_bomb(3900),
        "user_stream_claims_4gib": b"\x00" + bytes([USER]) + bin32_claim(HUGE),
        "err_stream_claims_4gib": b"\x00" + bytes([13]) + fixmap(1) + s("Error") + str32_claim(HUGE),
    },
    "fuzz_wire_serf": SERF,
    "fuzz_wire_lzw": {
        "bomb_3900_codes": lzw_bomb(3900),
        "bomb_repeated_x64": lzw_bomb(3900) * 64,
        "code_past_table": struct.pack("<I", 0x1FF << 9 | 0x41) + b"\xff" * 32,
        "eof_code_first": b"\x01\x02",
        "all_ones_64k": b"\xff" * 65536,
    },
}


def main():
    n = 0
    for target, inputs in TARGETS.items():
        d = os.path.join(OUT, target)
        os.makedirs(d, exist_ok=True)
        for name, data in sorted(inputs.items()):
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)
            n += 1
    print(f"make_regression: {n} inputs under {OUT}")


if __name__ == "__main__":
    main()
