#!/usr/bin/env python3
"""RPC load against the Serf RPC at 127.0.0.1:7373 of the namespace it runs in (issue 16):
SLOW stream readers subscribed to user events that read 512 bytes a second, FAST readers that
read everything, CLIENTS clients all connected (and handshaken) at the same time, each then
sending one `members` (the calls spread over the time the events take), and EVENTS user events (256-byte payload, 100/s) from one more connection, all
at once. Usage: rpc_load.py SLOW FAST CLIENTS EVENTS. Prints one line of figures: how many
client connections were held at once, members latency (p50/p99/max of the `members` round trip
after the handshake), client errors, events each fast and slow reader got, slow readers closed
by the agent. Standard library only (a minimal msgpack); every loop is bounded by counts and a
deadline."""
import socket
import struct
import sys
import threading
import time
import re
import resource
import selectors

DEADLINE = time.time() + 600


def enc(o):
    if isinstance(o, bool):
        return b"\xc3" if o else b"\xc2"
    if isinstance(o, int):
        return bytes([o]) if 0 <= o < 128 else b"\xce" + struct.pack(">I", o)
    if isinstance(o, str):
        b = o.encode()
        return (bytes([0xA0 | len(b)]) if len(b) < 32 else b"\xd9" + bytes([len(b)])) + b
    if isinstance(o, bytes):
        return (b"\xc4" + bytes([len(o)]) if len(o) < 256 else b"\xc5" + struct.pack(">H", len(o))) + o
    if isinstance(o, dict):
        return bytes([0x80 | len(o)]) + b"".join(enc(k) + enc(v) for k, v in o.items())
    raise TypeError(type(o))


def skip(b, i):
    """Index just past the msgpack object at b[i]; raises IndexError when incomplete."""
    t = b[i]
    if t <= 0x7F or t >= 0xE0 or t in (0xC0, 0xC2, 0xC3):
        return i + 1
    if 0x80 <= t <= 0x8F:
        j = i + 1
        for _ in range(2 * (t & 0x0F)):
            j = skip(b, j)
        return j
    if 0x90 <= t <= 0x9F:
        j = i + 1
        for _ in range(t & 0x0F):
            j = skip(b, j)
        return j
    if 0xA0 <= t <= 0xBF:
        n = i + 1 + (t & 0x1F)
    elif t in (0xC4, 0xD9):
        n = i + 2 + b[i + 1]
    elif t in (0xC5, 0xDA):
        n = i + 3 + struct.unpack(">H", b[i + 1:i + 3])[0]
    elif t in (0xC6, 0xDB):
        n = i + 5 + struct.unpack(">I", b[i + 1:i + 5])[0]
    elif t in (0xCC, 0xD0):
        n = i + 2
    elif t in (0xCD, 0xD1):
        n = i + 3
    elif t in (0xCE, 0xD2, 0xCA):
        n = i + 5
    elif t in (0xCF, 0xD3, 0xCB):
        n = i + 9
    elif t in (0xDC, 0xDE):
        cnt = struct.unpack(">H", b[i + 1:i + 3])[0]
        j = i + 3
        for _ in range(cnt * (2 if t == 0xDE else 1)):
            j = skip(b, j)
        return j
    elif t in (0xDD, 0xDF):
        cnt = struct.unpack(">I", b[i + 1:i + 5])[0]
        j = i + 5
        for _ in range(cnt * (2 if t == 0xDF else 1)):
            j = skip(b, j)
        return j
    else:
        raise ValueError(f"msgpack type {t:#x}")
    if n > len(b):
        raise IndexError
    return n


def read_objects(s, buf, k):
    """Reads until buf holds k complete objects; returns (objects' raw bytes, rest)."""
    while time.time() < DEADLINE:
        try:
            j = 0
            out = []
            for _ in range(k):
                e = skip(buf, j)
                out.append(bytes(buf[j:e]))
                j = e
            return out, buf[j:]
        except IndexError:
            pass
        b = s.recv(65536)
        if not b:
            raise ConnectionError("closed")
        buf += b
    raise TimeoutError


def connect():
    s = socket.create_connection(("127.0.0.1", 7373), timeout=10)
    s.sendall(enc({"Command": "handshake", "Seq": 0}) + enc({"Version": 1}))
    (hdr,), rest = read_objects(s, bytearray(), 1)
    if b"\xa5Error\xa0" not in hdr:
        raise ConnectionError("handshake: " + repr(hdr))
    return s, rest


NAME = re.compile(rb"ld-(\d+)")


def main():
    slow_n, fast_n, clients, events = (int(a) for a in sys.argv[1:5])
    resource.setrlimit(resource.RLIMIT_NOFILE, (8192, 8192))
    # Readers.
    slow = []
    for _ in range(slow_n):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(10)
        s.connect(("127.0.0.1", 7373))
        s.sendall(enc({"Command": "handshake", "Seq": 0}) + enc({"Version": 1}) + enc({"Command": "stream", "Seq": 1})
                  + enc({"Type": "user"}))
        slow.append(s)
    slow_got = [set() for _ in slow]
    slow_closed = [False] * slow_n
    fast_got = [set() for _ in range(fast_n)]
    fast_socks = []
    for _ in range(fast_n):
        s, _ = connect()
        s.sendall(enc({"Command": "stream", "Seq": 1}) + enc({"Type": "user"}))
        fast_socks.append(s)
    stop = threading.Event()

    def fast_reader(k):
        s = fast_socks[k]
        s.settimeout(0.5)
        buf = b""
        while not stop.is_set() and time.time() < DEADLINE:
            try:
                b = s.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not b:
                break
            buf = buf[-16:] + b
            for m in NAME.finditer(buf):
                fast_got[k].add(int(m.group(1)))

    def slow_reader():
        # 512 bytes a second from each slow reader, round robin.
        tails = [b""] * slow_n
        while not stop.is_set() and time.time() < DEADLINE:
            t0 = time.time()
            for k, s in enumerate(slow):
                if slow_closed[k]:
                    continue
                try:
                    s.settimeout(0.001)
                    b = s.recv(512)
                    if not b:
                        slow_closed[k] = True
                        continue
                    tails[k] = tails[k][-16:] + b
                    for m in NAME.finditer(tails[k]):
                        slow_got[k].add(int(m.group(1)))
                except socket.timeout:
                    pass
                except OSError:
                    slow_closed[k] = True
            time.sleep(max(0.0, 1.0 - (time.time() - t0)))

    threads = [threading.Thread(target=fast_reader, args=(k,), daemon=True) for k in range(fast_n)]
    threads.append(threading.Thread(target=slow_reader, daemon=True))
    for t in threads:
        t.start()
    time.sleep(0.5)

    lat = []
    errors = []
    spread = events / 100.0  # the members calls are spread over the time the events take
    held = [0]

    def clients_at_once():
        """Opens CLIENTS connections (each handshaken) and holds them all open at once, then
        sends one `members` on each, spread over SPREAD seconds, from one selector loop (so the
        measured round trip is not a thread waiting for the GIL); closes them at the end."""
        conns = []
        for _ in range(clients):
            try:
                conns.append(list(connect()))
            except Exception as e:  # noqa: BLE001 - every failure is counted and printed
                errors.append("connect: " + type(e).__name__ + ": " + str(e)[:80])
        held[0] = len(conns)
        sel = selectors.DefaultSelector()
        t_begin = time.time()
        sent = [None] * len(conns)
        next_k = 0
        done = 0
        while done < len(conns) and time.time() < DEADLINE:
            now = time.time()
            while next_k < len(conns) and t_begin + spread * next_k / len(conns) <= now:
                s = conns[next_k][0]
                try:
                    s.setblocking(False)
                    sent[next_k] = time.perf_counter()
                    s.sendall(enc({"Command": "members", "Seq": 1}))
                    sel.register(s, selectors.EVENT_READ, next_k)
                except OSError as e:
                    errors.append("send: " + type(e).__name__ + ": " + str(e)[:80])
                    done += 1
                next_k += 1
            wait = 0.05 if next_k >= len(conns) else max(0.0, t_begin + spread * next_k / len(conns) - time.time())
            for key, _ in sel.select(timeout=min(wait, 0.05)):
                k = key.data
                s, rest = conns[k]
                try:
                    b = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError as e:
                    errors.append("recv: " + type(e).__name__ + ": " + str(e)[:80])
                    sel.unregister(s)
                    done += 1
                    continue
                if not b:
                    errors.append("recv: closed by the agent")
                    sel.unregister(s)
                    done += 1
                    continue
                rest += b
                conns[k][1] = rest
                try:
                    j = skip(rest, 0)
                    skip(rest, j)
                except IndexError:
                    continue
                lat.append(time.perf_counter() - sent[k])
                sel.unregister(s)
                done += 1
        for s, _ in conns:
            s.close()

    def sender():
        s, _ = connect()
        s.settimeout(0.001)
        t0 = time.time()
        for i in range(events):
            due = t0 + i / 100.0
            if due > time.time():
                time.sleep(due - time.time())
            s.sendall(enc({"Command": "event", "Seq": i + 1}) + enc({"Name": f"ld-{i}", "Payload": b"p" * 256,
                                                                       "Coalesce": False}))
            try:
                s.recv(65536)
            except (socket.timeout, BlockingIOError):
                pass
        time.sleep(1)
        s.close()

    st = threading.Thread(target=sender)
    st.start()
    t_clients = time.time()
    clients_at_once()
    t_clients = time.time() - t_clients
    st.join()
    time.sleep(3)  # the last events reach the readers
    stop.set()
    for t in threads:
        t.join(timeout=5)
    lat.sort()

    def pct(p):
        return lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")

    fast = [len(g) for g in fast_got]
    slow_counts = sorted(len(g) for g in slow_got)
    print(f"members held={held[0]} n={len(lat)} p50={pct(0.50):.1f} p99={pct(0.99):.1f} max={lat[-1] * 1000 if lat else float('nan'):.1f} ms "
          f"errors={len(errors)} clients_s={t_clients:.1f} events={events} fast_min={min(fast) if fast else -1} "
          f"fast={fast} slow_min={slow_counts[0] if slow_counts else -1} slow_max={slow_counts[-1] if slow_counts else -1} "
          f"slow_closed={sum(slow_closed)}")
    for e in errors[:5]:
        print("error:", e)


if __name__ == "__main__":
    main()
