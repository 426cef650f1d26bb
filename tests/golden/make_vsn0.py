#!/usr/bin/env python3
"""Builds enc0_udp_1.hex: an encryption-version-0 packet (memberlist protocol 1 layout), which
real Serf never sends. Layout from memberlist security.go: [0][12-byte nonce][AES-GCM(PKCS7-
padded plaintext)][tag], no additional data. Plaintext = msg_ping_1.hex (a captured ping to beta),
key = bytes 0x00..0x0f, nonce = bytes 0x10..0x1b (fixed so the vector is reproducible)."""
import os
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

here = os.path.dirname(os.path.abspath(__file__))
vec = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, "vectors")
plain = bytes.fromhex(open(os.path.join(vec, "msg_ping_1.hex")).read().strip())
pad = 16 - len(plain) % 16
padded = plain + bytes([pad]) * pad
key = bytes(range(16))
nonce = bytes(range(0x10, 0x1C))
out = bytes([0]) + nonce + AESGCM(key).encrypt(nonce, padded, None)
with open(os.path.join(vec, "enc0_udp_1.hex"), "w") as f:
    f.write(out.hex() + "\n")
print("wrote enc0_udp_1.hex (%d bytes)" % len(out), file=sys.stderr)
