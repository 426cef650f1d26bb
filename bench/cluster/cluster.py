"""One benchmark cluster of N real agents of one kind on 127.0.0.1, and the measurements
taken on it: join convergence, idle RSS/CPU/gossip bytes, user-event propagation, `members`
RPC latency/throughput, failure detection (kill -9) and graceful leave.

Owns: the cluster's lifetime (start() ... stop()); every wait is bounded by a deadline and a
timeout is recorded as a result ("timeout"), never a hang. Results are plain dicts of floats.
"""
import json
import os
import random
import signal
import statistics
import subprocess
import threading
import time

import mpack
import procs
import rpc
from netcount import NftCounters

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
# The C++ members load client (bench/rpcload); CLUSTERD_RPCLOAD overrides where it is looked for.
RPCLOAD_DEFAULT = os.path.join(ROOT, "build/release/bench/rpcload/rpcload")
RPCLOAD_SEQUENTIAL_CALLS = 200


def rpcload_binary():
    """Path of the rpcload executable, or None (then members_rpc uses the Python client)."""
    path = os.environ.get("CLUSTERD_RPCLOAD") or RPCLOAD_DEFAULT
    return path if os.path.isfile(path) and os.access(path, os.X_OK) else None


def rpc_client_name():
    """Which client members_rpc measures with (for figure labels)."""
    return "C++ client rpcload" if rpcload_binary() else "Python client"

HANDLER = """#!/bin/sh
# clusterd benchmark event handler: one line per user event, in a per-agent file.
cat >/dev/null
printf '%s %s\\n' "$SERF_USER_EVENT" "$SERF_USER_LTIME" >> "{dir}/$SERF_SELF_NAME.events"
"""


class Timeout(Exception):
    """A bounded wait ran out (or the agents cannot do the step); `short` goes in the table."""

    def __init__(self, msg, short=None):
        super().__init__(msg)
        self.short = short


class Cluster:
    def __init__(self, kind, binary, n, rundir, log, profile="lan", alternate=None):
        """`alternate` = (kind, binary): odd-numbered agents run that instead (a mixed cluster)."""
        self.kind = kind
        self.binary = binary
        self.alternate = alternate
        self.n = n
        self.rundir = rundir
        self.log = log
        self.profile = profile
        self.agents = []
        self.nft = None
        self.handler = os.path.join(rundir, "handler.sh")
        self.evdir = os.path.join(rundir, "events")
        os.makedirs(self.evdir, exist_ok=True)
        with open(self.handler, "w") as f:
            f.write(HANDLER.replace("{dir}", self.evdir))
        os.chmod(self.handler, 0o755)

    # ---------------------------------------------------------------- lifetime
    def start(self, converge_timeout, seed_timeout=10.0, count_bytes=False, extra=(), join=True,
              before_joiners=None):
        """Starts the seed, then N-1 joiners; returns seconds to convergence (from the first
        joiner's spawn). `extra`: more flags for every agent; `join` False: the joiners get no
        -join (they find the seed some other way, e.g. a -datastore in `extra`);
        `before_joiners(seed)` runs once the seed answers, before the clock starts.
        Raises Timeout (with a reason) when the cluster does not converge in time."""
        ports = procs.alloc_ports(2 * self.n)
        gossip, rpcp = ports[:self.n], ports[self.n:]
        if count_bytes:
            self.nft = NftCounters(gossip)
        tag = "%s%d" % (self.kind[0], self.n)
        seed = procs.spawn_agent(self.binary, self.kind, "%s-0" % tag, gossip[0], rpcp[0],
                                 self.rundir, self.handler, profile=self.profile, extra=extra)
        self.agents.append(seed)
        deadline = time.monotonic() + seed_timeout
        while True:
            if not seed.alive():
                raise Timeout("seed agent exited: " + seed.log_tail(), "agent exited")
            try:
                seed.rpc = rpc.RpcClient("127.0.0.1", seed.rpc_port, timeout=1.0)
                break
            except rpc.RpcError as e:
                if time.monotonic() > deadline:
                    raise Timeout("no RPC handshake from the seed agent within %.0f s (%s)"
                                  % (seed_timeout, e), "no RPC handshake")
                time.sleep(0.1)
        if before_joiners is not None:
            before_joiners(seed)
        t0 = time.monotonic()
        for i in range(1, self.n):
            if time.monotonic() > t0 + converge_timeout:
                raise Timeout("join convergence: only %d of %d agents spawned before the deadline"
                              % (i, self.n), "spawn too slow")
            kind, binary = self.kind, self.binary
            if self.alternate is not None and i % 2 == 1:
                kind, binary = self.alternate
            self.agents.append(procs.spawn_agent(
                binary, kind, "%s-%d" % (tag, i), gossip[i], rpcp[i], self.rundir,
                self.handler, join_port=gossip[0] if join else None, profile=self.profile,
                extra=extra))
        self.spawn_seconds = time.monotonic() - t0
        self.log("  %s N=%d: spawned in %.1f s" % (self.kind, self.n, self.spawn_seconds))
        self._wait(lambda st: len(st) >= self.n and
                   sum(1 for s in st.values() if s == "alive") >= self.n,
                   self.agents, t0 + converge_timeout, "join convergence")
        return time.monotonic() - t0

    def stop(self):
        procs.stop_agents(self.agents)
        self.agents = []
        if self.nft is not None:
            self.nft.close()
            self.nft = None

    # ---------------------------------------------------------------- polling
    def _connect(self, agent, deadline):
        if agent.rpc is not None:
            return True
        if time.monotonic() > deadline:
            return False
        try:
            agent.rpc = rpc.RpcClient("127.0.0.1", agent.rpc_port, timeout=2.0)
            return True
        except rpc.RpcError:
            return False

    def _wait(self, pred, watchers, deadline, what, sample=16):
        """Polls `members` at every watcher until pred(statuses) holds at each one at least
        once. Large clusters poll a random sample first, then sweep everybody."""
        pending = list(watchers)
        big = len(pending) > 128
        seen = {}   # agent name -> how many members it listed alive at its last poll
        while pending:
            if time.monotonic() > deadline:
                dead = [a.name for a in self.agents if not a.alive()]
                counts = [seen[a.name] for a in pending if a.name in seen]
                raise Timeout("%s: %d of %d agents not there after the deadline%s%s"
                              % (what, len(pending), len(watchers),
                                 (" (%d agents exited)" % len(dead)) if dead else "",
                                 (" (pending agents listed %d..%d alive; %d never answered)"
                                  % (min(counts), max(counts), len(pending) - len(counts)))
                                 if counts else " (no pending agent answered)"))
            batch = pending
            if big:
                batch = random.sample(pending, min(sample, len(pending)))
            done = []
            for a in batch:
                if not a.alive():
                    raise Timeout("%s: agent %s exited: %s" % (what, a.name, a.log_tail()),
                              "agent exited")
                if not self._connect(a, deadline):
                    continue
                try:
                    st = rpc.statuses(a.rpc.members(timeout=max(0.5, deadline - time.monotonic())))
                except rpc.RpcError:
                    a.rpc.close()
                    a.rpc = None
                    continue
                seen[a.name] = sum(1 for v in st.values() if v == "alive")
                if pred(st):
                    done.append(a)
            if big and len(done) == len(batch):
                # the sample agrees: sweep the rest once
                for a in pending:
                    if a in done or time.monotonic() > deadline:
                        continue
                    if self._connect(a, deadline):
                        try:
                            if pred(rpc.statuses(a.rpc.members(timeout=5.0))):
                                done.append(a)
                        except rpc.RpcError:
                            a.rpc.close()
                            a.rpc = None
            pending = [a for a in pending if a not in done]
            if pending:
                time.sleep(0.05 if not big else 0.5)

    # ---------------------------------------------------------------- idle
    def idle(self, settle, window):
        """Per-agent CPU %% of one core over `window` s, VmRSS KiB and gossip bytes/s."""
        for a in self.agents:          # idle means no RPC polling either
            if a.rpc is not None:
                a.rpc.close()
                a.rpc = None
        time.sleep(settle)
        t1 = time.monotonic()
        c1 = {a.pid: procs.cpu_ticks(a.pid) for a in self.agents}
        b1 = self.nft.read() if self.nft else None
        time.sleep(window)
        b2 = self.nft.read() if self.nft else None
        c2 = {a.pid: procs.cpu_ticks(a.pid) for a in self.agents}
        dt = time.monotonic() - t1
        cpu, rss, anon, pss, private, bps = [], [], [], [], [], []
        for a in self.agents:
            if c1[a.pid] is None or c2[a.pid] is None:
                raise Timeout("agent %s exited while idle: %s" % (a.name, a.log_tail()))
            cpu.append(100.0 * (c2[a.pid] - c1[a.pid]) / procs.CLK_TCK / dt)
            rss.append(procs.rss_kib(a.pid) / 1024.0)
            anon.append((procs.rss_kib(a.pid, "RssAnon:") or 0) / 1024.0)
            sm = procs.smaps_kib(a.pid)
            if sm is not None:
                pss.append(sm["pss"] / 1024.0)
                private.append(sm["private"] / 1024.0)
            if b1 is not None and b2 is not None:
                bps.append((b2[a.gossip_port] - b1[a.gossip_port]) / dt)
        return {"cpu": cpu, "cpu_mean": sum(cpu) / len(cpu), "rss": rss, "anon": anon, "pss": pss,
                "private": private, "bytes": bps,
                "bytes_note": "" if self.nft and self.nft.ok else
                              (self.nft.reason if self.nft else "not counted")}

    def steady_traffic(self, since_converged, settle, window):
        """Gossip bytes/s per agent in steady state: counted over `window` s (a whole push-pull
        interval, so every agent's periodic full-state exchange is in it exactly once) that
        begins `settle` s after convergence. memberlist's first periodic push-pull comes a
        random stagger plus a whole interval after start, so a window right after convergence
        would count one kind without push-pull and the other with it."""
        if not self.nft or not self.nft.ok:
            return [], (self.nft.reason if self.nft else "not counted")
        wait = settle - since_converged()
        if wait > 0:
            time.sleep(wait)
        t1 = time.monotonic()
        b1 = self.nft.read()
        time.sleep(window)
        b2 = self.nft.read()
        dt = time.monotonic() - t1
        for a in self.agents:
            if not a.alive():
                raise Timeout("agent %s exited during the traffic window: %s" % (a.name, a.log_tail()))
        return [(b2[a.gossip_port] - b1[a.gossip_port]) / dt for a in self.agents], ""

    # ---------------------------------------------------------------- user event
    def event(self, name, timeout, dup_wait):
        """Seconds until every agent's handler ran for event `name`; duplicate runs."""
        origin = self.agents[0]
        self._connect(origin, time.monotonic() + 5)
        if origin.rpc is None:
            raise Timeout("user event: no RPC connection to the origin agent")
        files = {a.name: os.path.join(self.evdir, a.name + ".events") for a in self.agents}
        t0 = time.monotonic()
        try:
            origin.rpc.event(name, b"bench")
        except rpc.RpcError as e:
            raise Timeout("user event RPC failed: %s" % e)
        deadline = t0 + timeout
        pending = set(files)
        while pending:
            if time.monotonic() > deadline:
                raise Timeout("user event: %d of %d handlers did not run" % (len(pending), self.n))
            for nm in list(pending):
                if _count(files[nm], name) > 0:
                    pending.discard(nm)
            if pending:
                time.sleep(0.01)
        took = time.monotonic() - t0
        time.sleep(dup_wait)
        dups = sum(max(0, _count(f, name) - 1) for f in files.values())
        return took, dups

    # ---------------------------------------------------------------- members RPC
    def members_rpc(self, seconds, window=16, idx=0):
        """Latency (s) of sequential calls and pipelined throughput (calls/s) at one agent.
        Uses the C++ client rpcload when it is built (rpcload_binary()), so the figure measures
        the agent and not Python; otherwise the Python client below."""
        exe = rpcload_binary()
        if exe is not None:
            return self._members_rpcload(exe, seconds, window, idx)
        return self._members_rpc_python(seconds, window, idx)

    def _members_rpcload(self, exe, seconds, window, idx):
        """rpcload: RPCLOAD_SEQUENTIAL_CALLS timed sequential calls, then `window` requests in
        flight for seconds/2 (the Python path's throughput window); every answer is framed by
        a msgpack skipper and its header's Seq/Error checked."""
        a = self.agents[idx]
        cmd = [exe, "--addr", "127.0.0.1:%d" % a.rpc_port, "--seconds", "%g" % (seconds / 2),
               "--inflight", str(window), "--sequential-calls", str(RPCLOAD_SEQUENTIAL_CALLS)]
        # rpcload bounds every wait itself (connect 2 s, 5 s per answer); this is the backstop.
        limit = seconds + 10.0 + 5.0 * RPCLOAD_SEQUENTIAL_CALLS / 100.0
        try:
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=limit)
        except subprocess.TimeoutExpired:
            raise Timeout("members RPC: rpcload did not finish within %.0f s" % limit)
        except OSError as e:
            raise Timeout("members RPC: cannot run rpcload: %s" % e)
        if r.returncode != 0:
            raise Timeout("members RPC: rpcload exit %d: %s" % (
                r.returncode, (r.stderr.strip() or "no message")[-300:]))
        try:
            out = json.loads(r.stdout.strip().splitlines()[-1])
            lat = [ms / 1000.0 for ms in out["lat_ms"]]
            tput = float(out["calls_per_s"])
            members = int(out["members"])
        except (ValueError, KeyError, IndexError, TypeError) as e:
            raise Timeout("members RPC: bad rpcload output %r: %s" % (r.stdout[-300:], e))
        if members < self.n:
            raise Timeout("members RPC: rpcload saw %d members, expected >= %d" % (members, self.n))
        if not lat or tput <= 0:
            raise Timeout("members RPC: rpcload measured nothing")
        return lat, tput

    def _members_rpc_python(self, seconds, window, idx):
        """Python client. All requests reuse one Seq so every answer of a quiet cluster has the
        same size; the last answer is decoded in full to prove the framing held."""
        a = self.agents[idx]
        c = rpc.RpcClient("127.0.0.1", a.rpc_port, timeout=5.0)
        try:
            size = _answer_size(c)
            if _answer_size(c) != size:
                raise Timeout("members RPC: answer size not stable on a quiet cluster")
            raw = _raw_request(99)
            lat = []
            end = time.monotonic() + seconds / 2
            while time.monotonic() < end:
                t = time.perf_counter()
                c.sock.sendall(raw)
                last = _recv_exact(c.sock, size)
                lat.append(time.perf_counter() - t)
            _check_answer(last, size, self.n)
            done = 0
            sent = 0
            t0 = time.perf_counter()
            end = time.monotonic() + seconds / 2
            while sent < window:
                c.sock.sendall(raw)
                sent += 1
            while True:
                last = _recv_exact(c.sock, size)
                done += 1
                if time.monotonic() < end:
                    c.sock.sendall(raw)
                    sent += 1
                elif done == sent:
                    break
            tput = done / (time.perf_counter() - t0)
            _check_answer(last, size, self.n)
            return lat, tput
        except (rpc.RpcError, OSError) as e:
            raise Timeout("members RPC: %s" % e)
        finally:
            c.close()

    # ---------------------------------------------------------------- failures
    def fail_detect(self, victim_idx, timeout):
        victim = self.agents[victim_idx]
        watchers = [a for a in self.agents if a is not victim and a.alive()]
        t0 = time.monotonic()
        procs.kill_agent(victim, signal.SIGKILL)
        procs.reap(victim.proc)
        self._wait(lambda st: st.get(victim.name) == "failed", watchers, t0 + timeout,
                   "failure detection")
        return time.monotonic() - t0

    def leave(self, idx, timeout):
        leaver = self.agents[idx]
        watchers = [a for a in self.agents if a is not leaver and a.alive()]
        deadline = time.monotonic() + timeout
        self._connect(leaver, deadline)
        t0 = time.monotonic()
        if leaver.rpc is None:
            raise Timeout("leave: no RPC connection to the leaving agent")
        # The leave RPC answers only when the leave sequence is over (both kinds then wait
        # Serf's LeavePropagateDelay, 1 s, before answering): it runs in a thread while the
        # watchers are polled from the moment it is sent, so the figure is when every member
        # lists the node left, not how long the command blocks. (Before 2026-12-03 polling
        # began after the answer, so both kinds' figures included that second.)
        failure = []

        def call():
            try:
                leaver.rpc.leave(timeout=min(timeout, 20.0))
            except (rpc.RpcError, OSError) as e:
                failure.append(e)

        caller = threading.Thread(target=call, daemon=True)
        caller.start()
        try:
            self._wait(lambda st: st.get(leaver.name) == "left", watchers, t0 + timeout, "leave")
            took = time.monotonic() - t0
        finally:
            caller.join(timeout=max(1.0, t0 + timeout + 20.0 - time.monotonic()))
        if failure:
            raise Timeout("leave RPC failed: %s" % failure[0])
        return took


def _count(path, name):
    try:
        with open(path) as f:
            return sum(1 for line in f if line.split(" ", 1)[0] == name)
    except OSError:
        return 0


def _raw_request(seq):
    return mpack.packb({"Command": "members", "Seq": seq})


def _recv_exact(sock, size):
    buf = bytearray()
    while len(buf) < size:
        chunk = sock.recv(size - len(buf))
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    return buf


def _answer_size(c):
    c.sock.sendall(_raw_request(99))
    deadline = time.monotonic() + 5
    start = c.pos
    c.receive(99, True, timeout=5)
    if c.pos - start <= 0 or time.monotonic() > deadline:
        raise rpc.RpcError("no members answer")
    size = c.pos - start
    if c.pos != len(c.buf):
        raise rpc.RpcError("unexpected extra bytes after members answer")
    del c.buf[:]
    c.pos = 0
    return size


def _check_answer(buf, size, n):
    header, pos = mpack.unpack_from(buf, 0)
    body, pos = mpack.unpack_from(buf, pos)
    if pos != size or header.get("Seq") != 99 or len(body.get("Members", [])) < n:
        raise rpc.RpcError("members answer framing check failed")


def summary(values):
    vals = [v for v in values if v is not None]
    if not vals:
        return None
    return (min(vals), statistics.median(vals), max(vals))

