#!/usr/bin/env python3
"""Handler stress: many agents on loopback, one event handler for every event, slow handlers
and handler timeouts, spawned back to back on this machine (issue 12), and agents starved of CPU
(paused with SIGSTOP, resumed with SIGCONT) the way a saturated machine starves them.

Each agent n<i> binds <net>.A.B:7946 (gossip) and <net>.A.B:7373 (RPC), a distinct loopback
address per agent as a Kong operator's hosts would have, and joins the first agent (the seed).
The run: spawn all, wait until every agent reports N alive members (the `stats` RPC), fire
user events that run every agent's handler at once (fast, slow > 1 s, and hanging past the
handler timeout), starve random agents for a few seconds at a time, gracefully restart a few agents (member-leave/join on every handler), hold,
then stop everything by PID.

It fails (exit 1) when any agent died (abort, segfault), when any agent log holds a sanitizer
or valgrind report, or (unless --allow-unconverged) when the cluster did not converge. It
prints one JSON line with the figures: aborts, sanitizer reports, convergence time, join
failures, and the seed's event-loop lag (p99 and max, from its `stats` RPC).

Modes:
  test (ctest, the g++ ASan+UBSan tree):  --binary build/asan-gcc/src/clusterd --agents 40
  valgrind (ctest, release tree):         --binary build/release/src/clusterd --agents 8 --valgrind 2
  benchmark (on demand, issue's shape):   --binary build/release/src/clusterd --agents 320 --shape kong
                                          --binary /usr/bin/serf --kind serf --agents 320 --shape kong
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "cluster"))
import procs  # noqa: E402
import rpc  # noqa: E402

REPORT_PATTERNS = [
    ("asan", re.compile(r"ERROR: AddressSanitizer")),
    ("ubsan", re.compile(r"runtime error:")),
    ("lsan", re.compile(r"ERROR: LeakSanitizer")),
    ("assert", re.compile(r"Assertion .* failed")),
    ("valgrind", re.compile(r"ERROR SUMMARY: [1-9]")),
    ("segv", re.compile(r"Segmentation fault|SIGSEGV")),
]

HANDLER = r"""#!/bin/sh
# One handler for every event (Kong's shape). Records its PID so the harness can stop it.
echo $$ >> "{rundir}/handler.pids"
cat > /dev/null
case "$SERF_EVENT" in
  user)
    case "$SERF_USER_EVENT" in
      slow) sleep {slow} & echo $! >> "{rundir}/handler.pids"; wait ;;
      hang) sleep {hang} & echo $! >> "{rundir}/handler.pids"; wait ;;
    esac ;;
esac
exit 0
"""


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--binary", required=True, help="clusterd (any build) or serf")
    p.add_argument("--kind", choices=["clusterd", "serf"], default="clusterd")
    p.add_argument("--agents", type=int, default=40)
    p.add_argument("--net", default="127.77", help="first two octets of the loopback addresses")
    p.add_argument("--shape", choices=["stress", "kong"], default="stress",
                   help="stress: slow/hanging user handlers, handler timeout, restarts; "
                        "kong: the issue's 320-agent shape (cat > /dev/null, no timeout)")
    p.add_argument("--converge-timeout", type=float, default=180.0)
    p.add_argument("--hold", type=float, default=15.0, help="seconds to keep running after the events")
    p.add_argument("--restarts", type=int, default=3, help="agents gracefully restarted (stress shape)")
    p.add_argument("--starve", type=float, default=40.0,
                   help="seconds of starvation (stress shape): half the agents paused (SIGSTOP) at any time, "
                        "each for 0.2-1.2 s, then resumed (SIGCONT)")
    p.add_argument("--seed", type=int, default=1, help="random seed for the pause schedule")
    p.add_argument("--valgrind", type=int, default=0, help="run the first K non-seed agents under memcheck")
    p.add_argument("--allow-unconverged", action="store_true",
                   help="report, but do not fail on, a cluster that did not converge (benchmark of serf)")
    p.add_argument("--keep", action="store_true", help="keep the run directory")
    p.add_argument("--json", help="also write the result here")
    return p.parse_args(argv)


def addr(net, i):
    return "%s.%d.%d" % (net, i // 250, i % 250 + 1)


class Run:
    def __init__(self, args):
        self.args = args
        self.rundir = tempfile.mkdtemp(prefix="clusterd-hstress-")
        self.handler = os.path.join(self.rundir, "handler.sh")
        slow, hang = 1.5, 8
        with open(self.handler, "w") as f:
            f.write(HANDLER.format(rundir=self.rundir, slow=slow, hang=hang))
        os.chmod(self.handler, 0o755)
        self.agents = {}     # i -> procs.Agent
        self.dead = {}       # i -> returncode of an agent that died on its own
        self.generation = {}  # i -> restart count (log file suffix)

    def cmd(self, i):
        a = self.args
        ip = addr(a.net, i)
        events = "member-join,member-leave,member-failed,member-update,member-reap,user"
        c = [a.binary, "agent", "-node=n%03d" % i, "-bind=%s:7946" % ip, "-rpc-addr=%s:7373" % ip,
             "-log-level=warn", "-profile=lan", "-event-handler=%s=%s" % (events, self.handler)]
        if i != 0:
            c.append("-join=%s:7946" % addr(a.net, 0))
        if a.kind == "clusterd" and a.shape == "stress":
            c.append("-handler-timeout=3s")
        if 0 < i <= a.valgrind:
            vlog = os.path.join(self.rundir, "n%03d.valgrind.%%p.log" % i)
            c = ["valgrind", "--tool=memcheck", "--error-exitcode=99", "--log-file=" + vlog] + c
        return c

    def spawn(self, i):
        gen = self.generation.get(i, 0)
        log_path = os.path.join(self.rundir, "n%03d.%d.log" % (i, gen))
        env = dict(os.environ)
        env.setdefault("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        with open(log_path, "wb") as lf:
            proc = subprocess.Popen(self.cmd(i), stdin=subprocess.DEVNULL, stdout=lf, stderr=subprocess.STDOUT,
                                    cwd=self.rundir, env=env, start_new_session=True,
                                    preexec_fn=procs._pdeathsig)
        procs._REGISTRY.append(proc)
        self.agents[i] = procs.Agent(self.args.kind, "n%03d" % i, 7946, 7373, proc, log_path)

    def check_dead(self):
        for i, a in self.agents.items():
            if i not in self.dead and a.proc.poll() is not None:
                self.dead[i] = a.proc.returncode
                log("agent n%03d exited with %s: %s" % (i, a.proc.returncode, a.log_tail(3)))

    def alive_count(self, i, timeout=2.0):
        try:
            c = rpc.RpcClient(addr(self.args.net, i), 7373, timeout=timeout)
        except rpc.RpcError:
            return None
        try:
            body = c.call("stats", has_body=True, timeout=timeout)
            sf = body.get("serf", {})
            return int(sf.get("members", 0)) - int(sf.get("failed", 0)) - int(sf.get("left", 0))
        except (rpc.RpcError, ValueError, TypeError, AttributeError):
            return None
        finally:
            c.close()

    def stats(self, i, timeout=5.0):
        try:
            c = rpc.RpcClient(addr(self.args.net, i), 7373, timeout=timeout)
        except rpc.RpcError:
            return {}
        try:
            body = c.call("stats", has_body=True, timeout=timeout)
            return body if isinstance(body, dict) else {}
        except rpc.RpcError:
            return {}
        finally:
            c.close()

    def loop_lag(self, i):
        """(p99 ms, max ms) of agent i's event-loop lag since it started (clusterd's `stats`
        runtime section), or (None, None) for an agent that does not report it (serf)."""
        rt = self.stats(i).get("runtime", {})
        try:
            return (int(rt["loop_lag_p99_us"]) / 1000.0, int(rt["loop_lag_max_us"]) / 1000.0)
        except (KeyError, ValueError, TypeError):
            return (None, None)

    def wait_converged(self, n, deadline):
        """Polls every agent until all report n alive; returns seconds or None."""
        t0 = time.monotonic()
        pending = set(self.agents)
        while time.monotonic() < deadline:
            self.check_dead()
            pending -= set(self.dead)
            for i in sorted(pending):
                if time.monotonic() >= deadline:
                    break
                if (self.alive_count(i) or 0) >= n:
                    pending.discard(i)
            if not pending:
                return time.monotonic() - t0
            time.sleep(0.5)
        log("not converged: %d agents below %d alive (e.g. %s)" %
            (len(pending), n, ", ".join("n%03d" % i for i in sorted(pending)[:8])))
        return None

    def event(self, name, payload=b"x"):
        try:
            c = rpc.RpcClient(addr(self.args.net, 0), 7373, timeout=5.0)
            c.event(name, payload, coalesce=False)
            c.close()
            return True
        except rpc.RpcError as e:
            log("event %s failed: %s" % (name, e))
            return False

    def starve(self, seconds, rng):
        """For `seconds`, keeps about half of the agents (never the seed) paused at any time,
        each for 0.2-1.2 s: a saturated machine's scheduler. A resumed agent finds expired
        timers and ready sockets (replies to its TCP probes, peers that gave up) in one loop
        turn, which is where stream lifetimes break."""
        until = time.monotonic() + seconds
        paused = {}  # i -> resume time
        candidates = [i for i in self.agents if i != 0]
        try:
            while time.monotonic() < until:
                now = time.monotonic()
                for i, t in list(paused.items()):
                    if now >= t:
                        self._signal(i, signal.SIGCONT)
                        del paused[i]
                live = [i for i in candidates if i not in paused and i not in self.dead]
                want = len(candidates) // 2 - len(paused)
                for i in rng.sample(live, max(0, min(want, len(live)))):
                    self._signal(i, signal.SIGSTOP)
                    paused[i] = now + rng.uniform(0.2, 1.2)
                time.sleep(0.1)
                self.check_dead()
        finally:
            for i in paused:
                self._signal(i, signal.SIGCONT)

    def _signal(self, i, sig):
        try:
            os.kill(self.agents[i].pid, sig)
        except OSError:
            pass

    def restart(self, i):
        a = self.agents[i]
        a.proc.send_signal(signal.SIGINT)  # graceful leave
        if not procs.reap(a.proc, 15.0):
            procs.kill_proc(a.proc)
            procs.reap(a.proc)
        self.generation[i] = self.generation.get(i, 0) + 1
        self.spawn(i)

    def reports(self):
        found = {}
        for name in sorted(os.listdir(self.rundir)):
            if not name.endswith(".log"):
                continue
            with open(os.path.join(self.rundir, name), "rb") as f:
                text = f.read().decode(errors="replace")
            for kind, pat in REPORT_PATTERNS:
                if pat.search(text):
                    found.setdefault(kind, []).append(name)
        return found

    def join_failures(self):
        n = 0
        for name in os.listdir(self.rundir):
            if name.endswith(".log"):
                with open(os.path.join(self.rundir, name), "rb") as f:
                    if b"failed to join" in f.read() or False:
                        n += 1
        return n

    def stop_all(self):
        for a in self.agents.values():
            procs.kill_proc(a.proc, signal.SIGTERM)
        for a in self.agents.values():
            if not procs.reap(a.proc, 10.0):
                procs.kill_proc(a.proc)
                procs.reap(a.proc)
        self.kill_handlers()

    def kill_handlers(self):
        path = os.path.join(self.rundir, "handler.pids")
        if not os.path.exists(path):
            return
        with open(path) as f:
            pids = {int(x) for x in f.read().split() if x.isdigit()}
        for pid in pids:
            try:
                with open("/proc/%d/cmdline" % pid, "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if self.rundir.encode() in cmdline or cmdline.startswith(b"sleep"):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass


def main(argv):
    args = parse_args(argv)
    if os.sep in args.binary:
        args.binary = os.path.abspath(args.binary)
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass
    if args.valgrind and not shutil.which("valgrind"):
        print("handler_stress: valgrind not installed (scripts/setup.sh installs it)", file=sys.stderr)
        return 2
    run = Run(args)
    n = args.agents
    result = {"kind": args.kind, "binary": args.binary, "agents": n, "shape": args.shape,
              "valgrind_agents": args.valgrind, "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}
    log("%s: %d agents on %s.x.y, run dir %s" % (args.kind, n, args.net, run.rundir))
    ok = False
    try:
        t0 = time.monotonic()
        for i in range(n):
            run.spawn(i)
            if i == 0:
                time.sleep(1.0 if not args.valgrind else 3.0)
        spawn_s = time.monotonic() - t0
        log("spawned %d agents in %.1f s" % (n, spawn_s))
        conv = run.wait_converged(n, t0 + args.converge_timeout)
        result["spawn_seconds"] = round(spawn_s, 2)
        result["converge_seconds"] = None if conv is None else round(conv + spawn_s, 2)
        log("converged in %s s (from the first spawn)" % result["converge_seconds"])
        lag = run.loop_lag(0)
        result["seed_loop_lag_p99_ms_join"], result["seed_loop_lag_max_ms_join"] = lag

        names = ["kong", "kong", "kong"] if args.shape == "kong" else ["kong", "slow", "hang", "slow", "kong"]
        for name in names:
            run.event(name)
            time.sleep(0.5)
        if args.shape == "stress":
            run.starve(args.starve, random.Random(args.seed))
            for k in range(min(args.restarts, n - 1)):
                run.restart(n - 1 - k)
        end = time.monotonic() + args.hold
        while time.monotonic() < end:
            run.check_dead()
            time.sleep(0.5)
        if args.shape == "stress":
            conv2 = run.wait_converged(n, time.monotonic() + 60)
            result["reconverge_seconds"] = None if conv2 is None else round(conv2, 2)
        result["seed_loop_lag_p99_ms"], result["seed_loop_lag_max_ms"] = run.loop_lag(0)
        run.check_dead()
    finally:
        run.stop_all()
        procs.kill_all()
        left = procs.sweep_marker(run.rundir)
        result["left_behind"] = left
    reports = run.reports()
    result["aborts"] = len(run.dead)
    result["died"] = {"n%03d" % i: rc for i, rc in sorted(run.dead.items())}
    result["reports"] = {k: len(v) for k, v in reports.items()}
    result["join_failures"] = run.join_failures()
    converged = result.get("converge_seconds") is not None
    ok = (not run.dead and not reports and (converged or args.allow_unconverged)
          and (args.shape != "stress" or result.get("reconverge_seconds") is not None))
    result["ok"] = ok
    line = json.dumps(result, sort_keys=True)
    print(line, flush=True)
    if args.json:
        with open(args.json, "w") as f:
            f.write(line + "\n")
    if reports:
        for kind, files in reports.items():
            log("%s reports in %s" % (kind, ", ".join(files[:5])))
            for name in files[:2]:
                with open(os.path.join(run.rundir, name), "rb") as f:
                    text = f.read().decode(errors="replace")
                m = None
                for _, pat in REPORT_PATTERNS:
                    m = m or pat.search(text)
                start = max(0, (m.start() if m else 0) - 200)
                print(text[start:start + 3000], flush=True)
    if ok and not args.keep:
        shutil.rmtree(run.rundir, ignore_errors=True)
    else:
        log("run dir kept: %s" % run.rundir)
    log("PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
