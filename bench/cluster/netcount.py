"""Gossip byte counting with nftables counters on the loopback input hook.

Owns: one private nft table per cluster (named after the harness PID), with three counters per
agent gossip port: UDP datagrams to the port, TCP segments to the port and TCP segments from the
port (the answering half of streams the agent accepted). Each loopback packet is counted once,
so the per-agent figures add up to the cluster's total gossip traffic (IP-layer bytes).
"""
import json
import os
import shutil
import subprocess


class NftCounters:
    def __init__(self, ports):
        self.table = "cdbench_%d" % os.getpid()
        self.ports = list(ports)
        self.ok = False
        self.reason = ""
        if shutil.which("nft") is None:
            self.reason = "nft not installed"
            return
        lines = ["table inet %s {" % self.table,
                 "  chain input { type filter hook input priority -300; policy accept;"]
        for p in self.ports:
            lines.append('    iif "lo" udp dport %d counter comment "u%d"' % (p, p))
            lines.append('    iif "lo" tcp dport %d counter comment "t%d"' % (p, p))
            lines.append('    iif "lo" tcp sport %d counter comment "s%d"' % (p, p))
        lines += ["  }", "}"]
        self.delete()
        r = subprocess.run(["nft", "-f", "-"], input="\n".join(lines) + "\n", text=True,
                           capture_output=True, timeout=30)
        if r.returncode != 0:
            self.reason = "nft failed: " + r.stderr.strip()[:200]
            return
        self.ok = True

    def read(self):
        """Returns {port: bytes} (cumulative), or None if counting is unavailable."""
        if not self.ok:
            return None
        r = subprocess.run(["nft", "-j", "list", "table", "inet", self.table], text=True,
                           capture_output=True, timeout=30)
        if r.returncode != 0:
            return None
        out = {p: 0 for p in self.ports}
        for item in json.loads(r.stdout).get("nftables", []):
            rule = item.get("rule")
            if not rule or not rule.get("comment"):
                continue
            port = int(rule["comment"][1:])
            for e in rule.get("expr", []):
                if "counter" in e and port in out:
                    out[port] += int(e["counter"]["bytes"])
        return out

    def delete(self):
        subprocess.run(["nft", "delete", "table", "inet", self.table], capture_output=True,
                       timeout=30)

    def close(self):
        if self.ok:
            self.delete()
            self.ok = False
