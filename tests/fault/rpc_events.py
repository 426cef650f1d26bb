#!/usr/bin/env python3
"""Sends COUNT user events at RATE per second over one Serf RPC connection (127.0.0.1:7373 of
the namespace it runs in), names PREFIX0 .. PREFIX(COUNT-1) (PREFIX default "ev-"), coalescing
off. Usage: rpc_events.py COUNT RATE [PREFIX]. Prints "sent N errors E
seconds S". Minimal msgpack (rpc_load.enc) so it needs only
the standard library; bounded by COUNT and a 10-minute deadline."""
import socket
import sys
import threading
import time


from rpc_load import enc  # the one minimal msgpack encoder of these fault scripts


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
