#!/usr/bin/env python3
"""Extracts golden wire vectors from tcpdump captures of real Serf agents.

Independent of clusterd's C++ codecs on purpose: a tiny pcap reader, TCP reassembly, an
AES-GCM opener (python "cryptography"), CRC32 check, a Go compress/lzw (LSB, litWidth 8)
decoder and a minimal msgpack reader are enough to classify every packet by message type.

Writes <out>/<name>.hex (one hex string) and <out>/index.tsv (name, run, proto, src, dst, what).
"""
import argparse
import base64
import binascii
import collections
import os
import struct
import sys

MSG = {0: "ping", 1: "indirect_ping", 2: "ack", 3: "suspect", 4: "alive", 5: "dead", 6: "push_pull",
       7: "compound", 8: "user", 9: "compress", 10: "encrypt", 11: "nack", 12: "has_crc", 13: "err"}
SERF = {0: "leave", 1: "join", 2: "push_pull", 3: "user_event", 4: "query", 5: "query_response",
        6: "conflict_response", 7: "key_request", 8: "key_response", 9: "relay"}
PER_CATEGORY = 2
GOSSIP_PORT = 27946


# ---------------- pcap ----------------
def read_pcap(path):
    with open(path, "rb") as f:
        data = f.read()
    magic = struct.unpack("<I", data[:4])[0]
    if magic == 0xA1B2C3D4:
        endian = "<"
    elif magic == 0xD4C3B2A1:
        endian = ">"
    else:
        raise ValueError("not a pcap file (pcapng is not supported): %s" % path)
    linktype = struct.unpack(endian + "I", data[20:24])[0]
    off = 24
    while off + 16 <= len(data):
        _, _, incl, _ = struct.unpack(endian + "IIII", data[off:off + 16])
        off += 16
        frame = data[off:off + incl]
        off += incl
        if linktype == 1:  # Ethernet (tcpdump -i lo)
            if len(frame) < 14 or struct.unpack(">H", frame[12:14])[0] != 0x0800:
                continue
            ip = frame[14:]
        elif linktype == 113:  # Linux cooked
            ip = frame[16:]
        elif linktype == 276:  # Linux cooked v2
            ip = frame[20:]
        else:
            continue
        if len(ip) < 20 or ip[0] >> 4 != 4:
            continue
        ihl = (ip[0] & 15) * 4
        total = struct.unpack(">H", ip[2:4])[0]
        proto = ip[9]
        src = "%d.%d.%d.%d" % tuple(ip[12:16])
        dst = "%d.%d.%d.%d" % tuple(ip[16:20])
        body = ip[ihl:total]
        if proto == 17 and len(body) >= 8:
            sp, dp = struct.unpack(">HH", body[:4])
            yield ("udp", src, sp, dst, dp, None, None, body[8:])
        elif proto == 6 and len(body) >= 20:
            sp, dp, seq = struct.unpack(">HHI", body[:8])
            doff = (body[12] >> 4) * 4
            flags = body[13]
            yield ("tcp", src, sp, dst, dp, seq, flags, body[doff:])


def tcp_streams(records):
    """Reassembles each TCP direction (loopback: in order; duplicate segments dropped)."""
    streams = collections.OrderedDict()
    for proto, src, sp, dst, dp, seq, flags, payload in records:
        if proto != "tcp":
            continue
        key = (src, sp, dst, dp)
        st = streams.setdefault(key, {"next": None, "data": bytearray()})
        if flags & 0x02:  # SYN
            st["next"] = (seq + 1) & 0xFFFFFFFF
            continue
        if not payload:
            continue
        if st["next"] is None:
            st["next"] = seq
        if seq != st["next"]:
            continue  # retransmission or gap: skip
        st["data"] += payload
        st["next"] = (seq + len(payload)) & 0xFFFFFFFF
    return [(k, bytes(v["data"])) for k, v in streams.items() if v["data"]]


# ---------------- msgpack (reader only) ----------------
class MP:
    def __init__(self, b, pos=0):
        self.b, self.p = b, pos

    def _n(self, n):
        v = self.b[self.p:self.p + n]
        if len(v) != n:
            raise ValueError("truncated msgpack")
        self.p += n
        return v

    def read(self):
        t = self._n(1)[0]
        if t <= 0x7F:
            return t
        if t >= 0xE0:
            return t - 256
        if 0xA0 <= t <= 0xBF:
            return bytes(self._n(t & 31))
        if 0x90 <= t <= 0x9F:
            return [self.read() for _ in range(t & 15)]
        if 0x80 <= t <= 0x8F:
            return self._map(t & 15)
        if t == 0xC0:
            return None
        if t in (0xC2, 0xC3):
            return t == 0xC3
        if t in (0xCC, 0xCD, 0xCE, 0xCF):
            return int.from_bytes(self._n(1 << (t - 0xCC)), "big")
        if t in (0xD0, 0xD1, 0xD2, 0xD3):
            return int.from_bytes(self._n(1 << (t - 0xD0)), "big", signed=True)
        if t in (0xD9, 0xC4):
            return bytes(self._n(self._n(1)[0]))
        if t in (0xDA, 0xC5):
            return bytes(self._n(int.from_bytes(self._n(2), "big")))
        if t in (0xDB, 0xC6):
            return bytes(self._n(int.from_bytes(self._n(4), "big")))
        if t == 0xDC:
            return [self.read() for _ in range(int.from_bytes(self._n(2), "big"))]
        if t == 0xDE:
            return self._map(int.from_bytes(self._n(2), "big"))
        raise ValueError("unsupported msgpack byte %#x" % t)

    def _map(self, n):
        out = {}
        for _ in range(n):
            k = self.read()
            out[k.decode() if isinstance(k, bytes) else k] = self.read()
        return out


# ---------------- Go compress/lzw decoder (LSB, litWidth 8) ----------------
def lzw_decompress(data):
    clear, eof = 256, 257
    width, hi, overflow = 9, 257, 512
    last = None
    table = {}
    out = bytearray()
    bits = nbits = 0
    pos = 0
    while True:
        while nbits < width:
            if pos >= len(data):
                raise ValueError("lzw: unexpected EOF")
            bits |= data[pos] << nbits
            pos += 1
            nbits += 8
        code = bits & ((1 << width) - 1)
        bits >>= width
        nbits -= width
        if code == clear:
            width, hi, overflow, last, table = 9, 257, 512, None, {}
            continue
        if code == eof:
            return bytes(out)
        def expansion(c):
            return bytes([c]) if c < clear else table[c]
        if code < clear:
            entry = bytes([code])
        elif code < hi and code in table:
            entry = table[code]
        elif code == hi and last is not None:
            prev = expansion(last)
            entry = prev + prev[:1]
        else:
            raise ValueError("lzw: invalid code %d (hi %d)" % (code, hi))
        out += entry
        if last is not None:
            table[hi] = expansion(last) + entry[:1]
        last, hi = code, hi + 1
        if hi >= overflow:
            if width == 12:
                last = None
                hi -= 1
            else:
                width += 1
                overflow <<= 1


# ---------------- envelopes ----------------
def decrypt(keys, msg, aad=None):
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    vsn = msg[0]
    for k in keys:
        try:
            plain = AESGCM(k).decrypt(msg[1:13], msg[13:], aad)
        except Exception:
            continue
        if vsn == 0:
            plain = plain[:-plain[-1]]
        return plain
    raise ValueError("no key decrypts")


def split_compound(buf):
    n = buf[1]
    lens = [struct.unpack(">H", buf[2 + 2 * i:4 + 2 * i])[0] for i in range(n)]
    pos = 2 + 2 * n
    parts = []
    for ln in lens:
        if pos + ln > len(buf):
            break
        parts.append(buf[pos:pos + ln])
        pos += ln
    return parts


def describe(msg):
    """Type name of one plain message; user messages get their Serf type appended."""
    t = MSG.get(msg[0], "type%d" % msg[0])
    if msg[0] == 8 and len(msg) > 1:
        inner = msg[1]
        if inner == 9:  # relay: header then inner message
            r = MP(msg, 2)
            r.read()
            return "user_relay_" + SERF.get(msg[r.p], "?")
        name = "user_" + SERF.get(inner, "serf%d" % inner)
        if inner in (4, 5):  # tell internal queries and payload-carrying responses apart
            body = MP(msg, 2).read()
            if inner == 4 and body.get("Name", b"").startswith(b"_serf_"):
                name += "_" + body["Name"].decode()[6:].replace("-", "_")
            elif inner == 5:
                pl = body.get("Payload") or b""
                if body.get("Flags", 0) & 1:
                    name += "_ack"
                elif pl[:1] == b"\x06":  # a _serf_conflict answer
                    name += "_conflict"
                elif pl[:1] == b"\x08":  # a key-manager response
                    name += "_key_list" if MP(pl, 1).read().get("Keys") else "_key"
                else:
                    name += "_payload"
        return name
    return t


def open_packet(raw, keys):
    """Returns (flags, [inner messages]) for a UDP packet."""
    flags = []
    buf = raw
    if keys:
        buf = decrypt(keys, buf)
        flags.append("encrypted_v%d" % raw[0])
    if len(buf) >= 5 and buf[0] == 12:
        if binascii.crc32(buf[5:]) & 0xFFFFFFFF != struct.unpack(">I", buf[1:5])[0]:
            raise ValueError("bad crc")
        flags.append("crc")
        buf = buf[5:]
    return flags, expand(buf, flags)


def expand(buf, flags):
    if buf[0] == 9:
        c = MP(buf, 1).read()
        flags.append("compressed")
        return expand(lzw_decompress(c["Buf"]), flags)
    if buf[0] == 7:
        flags.append("compound")
        out = []
        for p in split_compound(buf):
            out += expand(p, flags)
        return out
    return [buf]


def stream_frames(data, keys):
    """Splits one TCP direction into memberlist frames; returns [(frame, flags, inner)]."""
    out = []
    pos = 0
    while pos < len(data):
        t = data[pos]
        flags = []
        if t == 10:
            ln = struct.unpack(">I", data[pos + 1:pos + 5])[0]
            frame = data[pos:pos + 5 + ln]
            plain = decrypt(keys, frame[5:], frame[:5])
            flags.append("encrypted_v%d" % frame[5])
            end = pos + 5 + ln
        else:
            # plaintext streams carry exactly one message per connection direction
            frame = data[pos:]
            plain = frame
            end = len(data)
        if plain[0] == 9:
            r = MP(plain, 1)
            c = r.read()
            flags.append("compressed")
            plain = lzw_decompress(c["Buf"])
        out.append((frame, flags, plain))
        pos = end
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--pcap", action="append", default=[], help="run=path")
    ap.add_argument("--key", action="append", default=[], help="run=base64key")
    a = ap.parse_args()
    keys = {}
    for kv in a.key:
        run, k = kv.split("=", 1)
        keys.setdefault(run, []).append(base64.b64decode(k))
    os.makedirs(a.out, exist_ok=True)
    counts = collections.Counter()
    seen = set()
    index = []

    def save(name, data, run, proto, src, dst, what):
        if (name, data) in seen or counts[name] >= PER_CATEGORY:
            return
        seen.add((name, data))
        counts[name] += 1
        fname = "%s_%d" % (name, counts[name])
        with open(os.path.join(a.out, fname + ".hex"), "w") as f:
            f.write(data.hex() + "\n")
        index.append((fname, run, proto, src, dst, what))

    for spec in a.pcap:
        run, path = spec.split("=", 1)
        rk = keys.get(run)
        records = list(read_pcap(path))
        for proto, src, sp, dst, dp, _, _, payload in records:
            if proto != "udp" or not payload:
                continue
            s, d = "%s:%d" % (src, sp), "%s:%d" % (dst, dp)
            try:
                flags, msgs = open_packet(payload, rk)
            except Exception as e:  # noqa: BLE001 - report and keep going
                print("skip udp %s->%s: %s" % (s, d, e), file=sys.stderr)
                continue
            kinds = "+".join(describe(m) for m in msgs)
            tag = "_".join(f for f in dict.fromkeys(flags) if not f.startswith("encrypted")) or "plain"
            what = "_".join(sorted(set(describe(m) for m in msgs)))
            cat = "%s_udp_%s_%s" % (run, tag, what) if rk else "udp_%s_%s" % (tag, what)
            save(cat, payload, run, "udp", s, d, ",".join(flags) + ": " + kinds)
            for m in msgs:
                save("msg_" + describe(m), m, run, "udp", s, d, "inner message of a packet")
        for (src, sp, dst, dp), data in tcp_streams(records):
            if GOSSIP_PORT not in (sp, dp):
                continue  # RPC traffic
            s, d = "%s:%d" % (src, sp), "%s:%d" % (dst, dp)
            try:
                frames = stream_frames(data, rk)
            except Exception as e:  # noqa: BLE001
                print("skip tcp %s->%s: %s" % (s, d, e), file=sys.stderr)
                continue
            for frame, flags, plain in frames:
                kind = describe(plain)
                if plain[0] == 6:
                    hdr = MP(plain, 1).read()
                    kind += "_join" if hdr.get("Join") else "_sync"
                if rk:
                    save("%s_tcp_%s" % (run, kind), frame, run, "tcp", s, d, ",".join(flags) + ": " + kind)
                else:
                    save("tcp_%s" % kind, frame, run, "tcp", s, d, ",".join(flags) + ": " + kind)
                save("stream_" + kind, plain, run, "tcp", s, d, "decrypted/decompressed stream message")
    with open(os.path.join(a.out, "index.tsv"), "w") as f:
        f.write("name\trun\tproto\tsrc\tdst\twhat\n")
        for row in sorted(index):
            f.write("\t".join(row) + "\n")
    print("wrote %d vectors" % len(index))


if __name__ == "__main__":
    main()
