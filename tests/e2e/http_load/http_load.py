#!/usr/bin/env python3
"""Issue 17 load test: /metrics scrapers must not delay gossip.

Starts N clusterd agents on 127.0.0.1 (one cluster, lan profile), the first with the HTTP
listener; once agent 0 lists all N alive, SCRAPERS keep-alive connections to agent 0 each
scrape /metrics once a second (random phase, so SCRAPERS requests a second) for SECONDS,
all connections open at once, driven by one selector loop (the measured round trip is not a
thread waiting for the interpreter lock). Pass: every scrape answered 200, p99 < 50 ms, and
no member was suspected or failed during the run: agent 0's counters of suspect messages
received, members it suspected and member-failed events did not move, and /cluster lists N
alive at the end. Every process it starts is stopped by PID; every loop is bounded."""
import argparse
import json
import os
import random
import re
import selectors
import signal
import socket
import subprocess
import sys
import time


def free_port():
    """A port free for both TCP and UDP on 127.0.0.1."""
    for _ in range(200):
        t = socket.socket()
        t.bind(("127.0.0.1", 0))
        port = t.getsockname()[1]
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
            return port, t, u  # held until the agents start, so no two agents get one port
        except OSError:
            t.close()
            u.close()
    raise RuntimeError("no free port")


def get(port, path, timeout=5.0):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    data = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        b = s.recv(65536)
        if not b:
            break
        data += b
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    return status, body.decode(errors="replace")


def series(text, name):
    m = re.search(r"^" + re.escape(name) + r" ([0-9.e+-]+)$", text, re.M)
    return float(m.group(1)) if m else 0.0


def watched(text):
    return {k: series(text, k) for k in (
        'clusterd_messages_received_total{type="suspect"}',
        "memberlist_msg_suspect_total",
        "serf_member_failed_total")}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clusterd", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--nodes", type=int, default=128)
    ap.add_argument("--scrapers", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=30)
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    procs = []
    held = []
    try:
        ports = []
        for _ in range(a.nodes):
            p, t, u = free_port()
            r, rt, ru = free_port()
            ports.append((p, r))
            held += [t, u, rt, ru]
        http_port, ht, hu = free_port()
        held += [ht, hu]
        for s in held:
            s.close()
        t0 = time.time()
        for i, (p, r) in enumerate(ports):
            cmd = [a.clusterd, "agent", f"-node=h{i}", f"-bind=127.0.0.1:{p}", f"-rpc-addr=127.0.0.1:{r}",
                   "-profile=lan", "-log-level=warn"]
            if i == 0:
                cmd.append(f"-http-addr=127.0.0.1:{http_port}")
            else:
                # retry-join: a join that meets a slow start is tried again, not given up
                cmd += [f"-retry-join=127.0.0.1:{ports[0][0]}", "-retry-interval=1s"]
            log = open(os.path.join(a.out, f"h{i}.log"), "w")
            procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT))
            log.close()
            if i == 0:  # the seed listens before anyone joins it
                for _ in range(100):
                    try:
                        if get(http_port, "/v1/health", 1.0)[0] == 200:
                            break
                    except OSError:
                        pass
                    time.sleep(0.1)
        alive = 0
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                st, body = get(http_port, "/cluster?status=alive")
                if st == 200:
                    alive = json.loads(body)["total"]
                    if alive == a.nodes:
                        break
            except OSError:
                pass
            time.sleep(0.5)
        print(f"http_load: {alive} of {a.nodes} alive after {time.time() - t0:.1f} s")
        if alive != a.nodes:
            return 1
        time.sleep(3)  # the join storm's last gossip settles
        st, before_text = get(http_port, "/metrics")
        before = watched(before_text)

        # The scrapers: all connected at once, each scraping once a second.
        req = f"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{http_port}\r\n\r\n".encode()
        sel = selectors.DefaultSelector()
        conns = []
        for k in range(a.scrapers):
            s = socket.create_connection(("127.0.0.1", http_port), timeout=5)
            s.setblocking(False)
            c = {"s": s, "due": time.time() + random.random(), "sent": None, "buf": b""}
            conns.append(c)
            sel.register(s, selectors.EVENT_READ, c)
        lat, errors, statuses = [], [], {}
        end = time.time() + a.seconds
        while time.time() < end + 5:
            now = time.time()
            for c in conns:
                if c["sent"] is None and c["due"] <= now and now < end and c["s"] is not None:
                    try:
                        c["s"].sendall(req)
                        c["sent"] = time.perf_counter()
                    except OSError as e:
                        errors.append(f"send: {e}")
                        c["s"] = None
            if now >= end and all(c["sent"] is None or c["s"] is None for c in conns):
                break
            for key, _ in sel.select(timeout=0.01):
                c = key.data
                try:
                    b = c["s"].recv(262144)
                except BlockingIOError:
                    continue
                except OSError as e:
                    errors.append(f"recv: {e}")
                    sel.unregister(key.fileobj)
                    c["s"] = None
                    continue
                if not b:
                    errors.append("closed by the agent")
                    sel.unregister(key.fileobj)
                    c["s"] = None
                    continue
                c["buf"] += b
                head_end = c["buf"].find(b"\r\n\r\n")
                if head_end < 0:
                    continue
                head = c["buf"][:head_end].decode(errors="replace")
                m = re.search(r"(?im)^content-length: *(\d+)", head)
                if not m:
                    errors.append("no Content-Length: " + head[:80])
                    sel.unregister(key.fileobj)
                    c["s"] = None
                    continue
                total = head_end + 4 + int(m.group(1))
                if len(c["buf"]) < total:
                    continue
                status = int(head.split(" ", 2)[1])
                statuses[status] = statuses.get(status, 0) + 1
                lat.append(time.perf_counter() - c["sent"])
                c["buf"] = c["buf"][total:]
                c["sent"] = None
                c["due"] += 1.0
        for c in conns:
            if c["s"] is not None:
                c["s"].close()
        st, after_text = get(http_port, "/metrics")
        after = watched(after_text)
        st2, body = get(http_port, "/cluster?status=alive")
        alive_end = json.loads(body)["total"] if st2 == 200 else -1
        lat.sort()
        pct = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))] * 1000 if lat else float("nan")
        moved = {k: after[k] - before[k] for k in before}
        print(f"http_load: {a.scrapers} scrapers x 1/s for {a.seconds:.0f} s on a {a.nodes}-member cluster: "
              f"{len(lat)} scrapes, statuses {statuses}, p50 {pct(0.5):.1f} ms, p99 {pct(0.99):.1f} ms, "
              f"max {lat[-1] * 1000 if lat else float('nan'):.1f} ms, errors {len(errors)}; "
              f"during the run: {moved}; alive at the end {alive_end}")
        for e in errors[:5]:
            print("error:", e)
        ok = True
        expected = int(a.scrapers * a.seconds * 0.9)
        if len(lat) < expected or set(statuses) != {200} or errors:
            print(f"FAIL: {len(lat)} scrapes (expected >= {expected}), statuses {statuses}, {len(errors)} errors")
            ok = False
        if pct(0.99) >= 50.0:
            print(f"FAIL: p99 {pct(0.99):.1f} ms >= 50 ms")
            ok = False
        if any(v != 0 for v in moved.values()) or alive_end != a.nodes:
            print(f"FAIL: a member was suspected or failed during the scrapes: {moved}, alive {alive_end}")
            ok = False
        return 0 if ok else 1
    finally:
        for p in procs:
            if p.poll() is None:
                p.send_signal(signal.SIGKILL)
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass


if __name__ == "__main__":
    sys.exit(main())
