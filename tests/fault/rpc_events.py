#!/usr/bin/env python3
"""Sends COUNT user events at RATE per second over one Serf RPC connection (127.0.0.1:7373 of
the namespace it runs in), names PREFIX0 .. PREFIX(COUNT-1) (PREFIX default "ev-"), coalescing
off. Usage: rpc_events.py COUNT RATE [PREFIX]. Prints "sent N errors E
seconds S". Minimal msgpack (maps of short strings, bytes, bools, small ints) so it needs only
the standard library; bounded by COUNT and a 10-minute deadline."""
import socket
import struct
import sys
import threading
import time


def enc(o):
    if isinstance(o, bool):
        return b"\xc3" if o else b"\xc2"
    if isinstance(o, int):
        return bytes([o]) if 0 <= o < 128 else b"\xce" + struct.pack(">I", o)
    if isinstance(o, str):
        b = o.encode()
        return (bytes([0xA0 | len(b)]) if len(b) < 32 else b"\xd9" + bytes([len(b)])) + b
    if isinstance(o, bytes):
        return b"\xc4" + bytes([len(o)]) + o
    if isinstance(o, dict):
        return bytes([0x80 | len(o)]) + b"".join(enc(k) + enc(v) for k, v in o.items())
    raise TypeError(type(o))


def main():
    count, rate = int(sys.argv[1]), float(sys.argv[2])
    prefix = sys.argv[3] if len(sys.argv) > 3 else "ev-"
    s = socket.create_connection(("127.0.0.1", 7373), timeout=10)
    s.sendall(enc({"Command": "handshake", "Seq": 0}) + enc({"Version": 1}))
    got = bytearray()
    stop = time.time() + 600

    def drain():  # responses: a header map {Error, Seq} each; count the non-empty errors
        while time.time() < stop:
            try:
                b = s.recv(65536)
            except OSError:
                return
            if not b:
                return
            got.extend(b)

    t = threading.Thread(target=drain, daemon=True)
    t.start()
    t0 = time.time()
    for i in range(count):
        due = t0 + i / rate
        now = time.time()
        if due > now:
            time.sleep(due - now)
        if now > stop:
            break
        s.sendall(enc({"Command": "event", "Seq": i + 1}) + enc({"Name": f"{prefix}{i}", "Payload": b"x", "Coalesce": False}))
    took = time.time() - t0
    time.sleep(1.0)
    # An error response carries a non-empty Error string: "\xa5Error" followed by a non-empty str.
    errors = bytes(got).count(b"\xa5Error") - bytes(got).count(b"\xa5Error\xa0")
    print(f"sent {count} errors {errors} seconds {took:.2f}")
    s.close()


if __name__ == "__main__":
    main()
