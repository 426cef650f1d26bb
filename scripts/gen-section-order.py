#!/usr/bin/python3
"""Regenerates bench/lean/clusterd.order: the code sections a running agent executes, which the lean
release link (src/CMakeLists.txt, gold --section-ordering-file) packs together so an idle agent
keeps few text pages resident.

How: runs build/release/src/clusterd under valgrind's callgrind through a short scenario that
touches what a deployed agent runs (YAML config with an encryption key, event handler, a
clusterd peer and a real `serf` peer joining, members/event/query/stats RPCs, a peer killed,
then a graceful leave), then writes one line per executed function for each section name the
compiler may have given it (.text.<sym>, .text.startup.<sym>, .text.hot.<sym>,
.text.unlikely.<sym>). A stale list is harmless: gold ignores names it does not find and
places everything else after the listed sections.

Usage: scripts/gen-section-order.py [--binary build/release/src/clusterd] [--out bench/lean/clusterd.order]
Needs valgrind and serf (scripts/setup.sh installs both). Every process it starts is stopped
by PID before it exits.
"""
import argparse
import base64
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_rpc(port, secs):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.2)
    return False


def run(cmd, timeout=30):
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--binary", default=os.path.join(ROOT, "build/release/src/clusterd"))
    ap.add_argument("--serf", default="/usr/bin/serf")
    ap.add_argument("--out", default=os.path.join(ROOT, "bench/lean/clusterd.order"))
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="clusterd-order-")
    key = base64.b64encode(b"0123456789abcdef").decode()
    gp, rp, gp2, rp2, gp3, rp3 = (free_port() for _ in range(6))
    handler = os.path.join(tmp, "handler.sh")
    with open(handler, "w") as f:
        f.write("#!/bin/sh\ncat >/dev/null\necho \"$SERF_EVENT\" >> %s/events\n" % tmp)
    os.chmod(handler, 0o755)
    conf = os.path.join(tmp, "clusterd.yml")
    with open(conf, "w") as f:
        f.write("cluster_listen: \"127.0.0.1:%d\"\ncluster_listen_rpc: \"127.0.0.1:%d\"\n"
                "cluster:\n  encrypt: \"%s\"\n  ttl_on_failure: 3600\nnode_name: profiled\n"
                "event_handlers:\n  - \"%s\"\n" % (gp, rp, key, handler))
    cg = os.path.join(tmp, "callgrind.out")
    procs = []
    try:
        a = subprocess.Popen(["valgrind", "--tool=callgrind", "--demangle=no",
                              "--compress-strings=no", "--callgrind-out-file=" + cg,
                              args.binary, "agent", "-c", conf],
                             stdout=open(os.path.join(tmp, "a.log"), "w"), stderr=subprocess.STDOUT)
        procs.append(a)
        if not wait_rpc(rp, 60):
            sys.exit("gen-section-order: the profiled agent never opened its RPC port; see " + tmp)
        b = subprocess.Popen([args.binary, "agent", "-node=peer-c", "-bind=127.0.0.1:%d" % gp2,
                              "-rpc-addr=127.0.0.1:%d" % rp2, "-encrypt=" + key,
                              "-join=127.0.0.1:%d" % gp],
                             stdout=open(os.path.join(tmp, "b.log"), "w"), stderr=subprocess.STDOUT)
        procs.append(b)
        s = subprocess.Popen([args.serf, "agent", "-node=peer-s", "-bind=127.0.0.1:%d" % gp3,
                              "-rpc-addr=127.0.0.1:%d" % rp3, "-encrypt=" + key,
                              "-join=127.0.0.1:%d" % gp],
                             stdout=open(os.path.join(tmp, "s.log"), "w"), stderr=subprocess.STDOUT)
        procs.append(s)
        time.sleep(8)
        rpc = "-rpc-addr=127.0.0.1:%d" % rp
        for cmd in (["members"], ["members", "-detailed"], ["members", "-format=json"],
                    ["event", "deploy", "v1"], ["query", "-timeout=3s", "ping", "x"],
                    ["info"], ["tags", "-set", "role=gw"], ["keys", "-list"], ["rtt", "peer-c"]):
            run([args.binary] + cmd[:1] + [rpc] + cmd[1:])
        time.sleep(3)
        b.kill()
        b.wait()
        time.sleep(12)          # failure detection and the member-failed handler
        run([args.binary, "members", rpc])
        a.send_signal(signal.SIGINT)   # graceful leave
        a.wait(timeout=60)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    names = set()
    with open(cg, errors="replace") as f:
        for line in f:
            m = re.match(r"^c?fn=(?:\(\d+\) ?)?(\S+)", line)
            if m and m.group(1).startswith("_Z") or (m and re.match(r"^[A-Za-z_][\w.]*$", m.group(1))):
                names.add(m.group(1))
    # A complete-object constructor/destructor (C1/D1) is an alias in the section of the
    # base-object one (C2/D2), and callgrind may report either name.
    for n in list(names):
        for a, b in (("C1E", "C2E"), ("C2E", "C1E"), ("D1E", "D2E"), ("D2E", "D1E"),
                     ("C1I", "C2I"), ("C2I", "C1I")):
            if a in n:
                names.add(n.replace(a, b, 1))
    lines = set()
    for n in names:
        if n.endswith(".cold"):
            lines.add(".text.unlikely." + n[:-5])
            continue
        for prefix in (".text.", ".text.startup.", ".text.hot.", ".text.unlikely."):
            lines.add(prefix + n)
    with open(args.out, "w") as f:
        f.write("\n".join(sorted(lines)) + "\n")
    print("gen-section-order: %d executed functions -> %s (%d section names); scratch in %s"
          % (len(names), args.out, len(lines), tmp))


if __name__ == "__main__":
    main()
