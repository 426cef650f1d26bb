#!/usr/bin/env python3
"""Seeds tests/fuzz/corpus/fuzz_wire_* from the golden vectors (tests/golden/vectors)."""
import glob
import os

here = os.path.dirname(os.path.abspath(__file__))
vec = os.path.join(here, "..", "golden", "vectors")
corpus = os.path.join(here, "corpus")


def load(pattern):
    out = []
    for p in sorted(glob.glob(os.path.join(vec, pattern))):
        out.append((os.path.basename(p)[:-4], bytes.fromhex(open(p).read().strip())))
    return out


def write(target, items, prefix=b""):
    d = os.path.join(corpus, target)
    os.makedirs(d, exist_ok=True)
    for name, data in items:
        with open(os.path.join(d, name), "wb") as f:
            f.write(prefix + data)


# packet fuzzer: first byte selects the keyring (bit 0) and require_encryption (bit 1)
write("fuzz_wire_packet", load("udp_*.hex"), b"\x00")
write("fuzz_wire_packet", [(n + "_k", d) for n, d in load("enc16_udp_*.hex")[:6]], b"\x03")
write("fuzz_wire_stream", load("tcp_*.hex"), b"\x00")
write("fuzz_wire_stream", [(n + "_k", d) for n, d in load("enc16_tcp_*.hex")], b"\x01")
write("fuzz_wire_stream", [(n + "_p", d) for n, d in load("stream_*.hex")], b"\x00")
write("fuzz_wire_message", [(n, d) for n, d in load("msg_*.hex") if not n.startswith("msg_user")])
write("fuzz_wire_message", load("stream_push_pull_*.hex"))
write("fuzz_wire_serf", [(n, d[1:]) for n, d in load("msg_user_*.hex")])
# LZW: the Buf of a few compressed stream frames (after the msgpack compress{} header) and plain text
lzw = []
for n, d in load("tcp_push_pull_*.hex") + load("udp_*compressed*.hex")[:3]:
    i = d.find(b"\xa3Buf")
    if i >= 0:
        t = d[i + 4]
        if t == 0xda:
            ln = int.from_bytes(d[i + 5:i + 7], "big")
            lzw.append((n, d[i + 7:i + 7 + ln]))
        elif 0xa0 <= t <= 0xbf:
            lzw.append((n, d[i + 5:i + 5 + (t & 31)]))
lzw.append(("text", b"TOBEORNOTTOBEORTOBEORNOT" * 20))
write("fuzz_wire_lzw", lzw)
print("corpus written")
