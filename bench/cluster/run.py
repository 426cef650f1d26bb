#!/usr/bin/python3
"""clusterd vs Serf cluster benchmark: the single entry point (see bench/README.md).

Owns: the command line, the order of the phases (for each kind, one after the other: sizes x
repetitions of start/idle/event/RPC/failure/leave, then the scale ramp; then the simulator
curve), the results dict, cleanup of every process and nft table on any exit, and the exit
status (non-zero when the harness itself is broken, e.g. Serf's figures are missing).
"""
import argparse
import atexit
import datetime
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import procs  # noqa: E402
import report  # noqa: E402
import ramp  # noqa: E402
import simscale  # noqa: E402
from cluster import Cluster, Timeout, summary  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
REQUIRED_SERF = ["rss", "cpu", "join", "event", "dups", "fail", "leave", "rpc_lat", "rpc_tput"]


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def parse_args(argv):
    p = argparse.ArgumentParser(description="clusterd vs Serf benchmark on loopback")
    p.add_argument("--quick", action="store_true",
                   help="seconds-long smoke run: N=3, one repetition, no ramp")
    p.add_argument("--serf", default="/usr/bin/serf", help="serf binary")
    p.add_argument("--clusterd", default=os.path.join(ROOT, "build/release/src/clusterd"),
                   help="clusterd binary")
    p.add_argument("--kinds", default="serf,clusterd", help="comma list: serf,clusterd")
    p.add_argument("--sizes", default=None, help="comma list of N (default 8,32,128)")
    p.add_argument("--reps", type=int, default=None, help="repetitions per size (default 3)")
    p.add_argument("--window", type=float, default=None, help="idle CPU/bytes window, s")
    p.add_argument("--traffic-sizes", default=None,
                   help="sizes at which steady-state gossip traffic is measured (default 32)")
    p.add_argument("--traffic-settle", type=float, default=None,
                   help="steady traffic: seconds after convergence before counting (default 60)")
    p.add_argument("--traffic-window", type=float, default=None,
                   help="steady traffic: counting window, s (default 30 = one lan push-pull "
                        "interval)")
    p.add_argument("--scale-steps", default=None,
                   help="scale ramp N list (default 128,256,512,1000; 'none' to skip)")
    p.add_argument("--budget", type=float, default=1080.0,
                   help="wall-time budget, s: the ramps and the simulator step shrink to fit")
    p.add_argument("--scale-cap", type=float, default=150.0,
                   help="time cap of the scale ramp per kind, s")
    p.add_argument("--ramp-probes", type=int, default=6,
                   help="Serf agents that ride in clusterd's ramp cluster to measure Serf's "
                        "per-member slope at the same N (0: Serf's own ramp only)")
    p.add_argument("--mem-reserve-mib", type=int, default=4096,
                   help="the ramp stops before leaving less than this much memory available")
    p.add_argument("--profile", default="lan", help="agent -profile flag (same for both kinds)")
    p.add_argument("--out", default=None,
                   help="output directory (default bench/results; bench/results/sim with --sim-only)")
    p.add_argument("--sim-build", default=os.path.join(ROOT, "build/release"),
                   help="build tree holding tests/sim/")
    p.add_argument("--sim-bin", default=None, help="simulator scale binary (overrides search)")
    p.add_argument("--sim-args", default="--nodes {n}", help="simulator arguments; {n} = N")
    p.add_argument("--sim-sizes", default="100,300,1000,2000,3000,5000,10000")
    p.add_argument("--sim-cap", type=float, default=None,
                   help="wall-time cap of the simulator step, s (default: what the budget leaves, "
                        "at most 150; with --sim-only 3600)")
    p.add_argument("--no-sim", action="store_true", help="skip the simulator step")
    p.add_argument("--sim-only", action="store_true",
                   help="run only the simulator scale curve (no agents)")
    p.add_argument("--keep", action="store_true", help="keep the run directory (agent logs)")
    p.add_argument("--mixed", type=int, default=None,
                   help="size of one mixed serf+clusterd cluster whose members RPC is measured at "
                        "one agent of each kind (default 200; --quick 4; 0 skips)")
    a = p.parse_args(argv)
    if a.mixed is None:
        a.mixed = 4 if a.quick else 200
    if a.quick:
        a.sizes = a.sizes or "3"
        a.reps = a.reps or 1
        a.window = a.window or 2.0
        a.scale_steps = a.scale_steps or "none"
    if a.quick:
        a.traffic_sizes = a.traffic_sizes or a.sizes
        a.traffic_settle = 3.0 if a.traffic_settle is None else a.traffic_settle
        a.traffic_window = 3.0 if a.traffic_window is None else a.traffic_window
    a.traffic_sizes = [int(x) for x in (a.traffic_sizes or "32").split(",") if x and x != "none"]
    a.traffic_settle = 60.0 if a.traffic_settle is None else a.traffic_settle
    a.traffic_window = 30.0 if a.traffic_window is None else a.traffic_window
    sizes = a.sizes or "8,32,128"
    a.sizes = [] if sizes == "none" else [int(x) for x in sizes.split(",")]
    a.reps = a.reps or 3
    a.window = a.window or 5.0
    steps = a.scale_steps or "128,256,512,768,1000"
    a.scale_steps = [] if steps == "none" else [int(x) for x in steps.split(",")]
    a.kinds = [k for k in a.kinds.split(",") if k]
    if a.out is None:
        a.out = os.path.join(ROOT, "bench/results/sim" if a.sim_only else "bench/results")
    if a.sim_only:
        if a.no_sim:
            p.error("--sim-only and --no-sim exclude each other")
        a.kinds, a.sizes, a.scale_steps, a.mixed = [], [], [], 0
    if a.sizes and min(a.sizes) < 3:
        p.error("every size must be >= 3 (one agent is killed, one leaves)")
    return a


class Timing:
    """Per-phase timeouts; quick mode keeps everything to seconds."""

    def __init__(self, quick, window):
        self.quick = quick
        self.window = window

    def join(self, n):
        return 15.0 if self.quick else 30.0 + 0.15 * n

    def event(self, n):
        return 10.0 if self.quick else 10.0 + 0.05 * n

    def fail(self, n):
        return 20.0 if self.quick else 30.0 + 0.1 * n

    def leave(self, n):
        return 20.0 if self.quick else 30.0 + 0.05 * n

    seed = property(lambda self: 5.0 if self.quick else 10.0)
    settle = property(lambda self: 1.0 if self.quick else 2.0)
    dup_wait = property(lambda self: 0.5 if self.quick else 1.0)
    rpc_seconds = property(lambda self: 1.0 if self.quick else 2.0)


def add(res, fig, n, values, note=""):
    cell = res["figs"].setdefault(fig, {}).setdefault(str(n), {"samples": [], "note": ""})
    cell["samples"].extend(values)
    if note and note not in cell["note"]:
        cell["note"] = (cell["note"] + "; " + note).strip("; ")


def one_cluster(kind, binary, n, rep, args, t, rundir, res):
    """Runs one repetition; returns False when the cluster did not converge. A step that
    timed out twice for this kind is not retried at later repetitions or sizes (so a kind
    that cannot do something costs two timeouts, not one per repetition; one unlucky
    repetition does not void the figure at every larger N: 2026-12-04, Serf's graceful leave
    once stayed unseen by one member at N = 8 and its N = 32 and 128 figures went unmeasured)."""
    c = Cluster(kind, binary, n, rundir, log, args.profile)
    skip = res.setdefault("skip", {})
    timeouts = res.setdefault("timeouts", {})

    def step(name, figs, limit, fn):
        if name in skip:
            for f in figs:
                add(res, f, n, [], skip[name])
            return
        try:
            fn()
        except Timeout as e:
            short = e.short or ("timeout >%.0f s" % limit if limit else "failed")
            for f in figs:
                add(res, f, n, [], short)
            timeouts[name] = timeouts.get(name, 0) + 1
            if timeouts[name] >= 2:
                skip[name] = "not run: %s at N=%d (twice)" % (short, n)
            res["notes"].append("N=%d rep %d %s: %s" % (n, rep, name, e))
            log("  %s: %s" % (name, e))

    try:
        try:
            try:
                secs = c.start(t.join(n), seed_timeout=t.seed, count_bytes=True)
            except Timeout as e:
                if "address already in use" not in str(e).lower():
                    raise
                log("  port collision with another process, retrying on other ports")
                c.stop()
                secs = c.start(t.join(n), seed_timeout=t.seed, count_bytes=True)
            converged_at = time.monotonic()
            add(res, "join", n, [secs])
            log("  %s N=%d rep %d: converged in %.2f s" % (kind, n, rep, secs))
        except Timeout as e:
            add(res, "join", n, [], e.short or "timeout >%.0f s" % t.join(n))
            figs = ["rss", "anon", "pss", "private", "cpu", "bytes", "event", "dups", "rpc_lat",
                    "rpc_tput", "fail", "leave"]
            if n in args.traffic_sizes and rep == 0: # measured only there (a cell elsewhere was an empty MISS row)
                figs.append("steady_bytes")
            for f in figs:
                add(res, f, n, [], "did not converge")
            res["notes"].append("N=%d rep %d: %s" % (n, rep, e))
            log("  %s N=%d rep %d: NOT converged: %s" % (kind, n, rep, e))
            return False

        def idle():
            r = c.idle(t.settle, t.window)
            add(res, "rss", n, r["rss"])
            add(res, "anon", n, r["anon"])
            add(res, "pss", n, r["pss"], "" if r["pss"] else "no /proc/PID/smaps_rollup")
            add(res, "private", n, r["private"], "" if r["private"] else "no /proc/PID/smaps_rollup")
            add(res, "cpu", n, [r["cpu_mean"]])
            add(res, "bytes", n, r["bytes"], r["bytes_note"] if not r["bytes"] else "")
            log("  idle: rss med %.1f MiB, cpu mean %.3f %% (max agent %.2f %%), bytes/s med %s"
                % (summary(r["rss"])[1], r["cpu_mean"], max(r["cpu"]),
                   ("%.0f" % summary(r["bytes"])[1]) if r["bytes"] else "n.a."))

        def event():
            secs, dups = c.event("bench%d" % rep, t.event(n), t.dup_wait)
            add(res, "event", n, [secs])
            add(res, "dups", n, [dups])
            log("  event: all %d handlers in %.3f s, %d duplicate(s)" % (n, secs, dups))

        def members():
            lat, tput = c.members_rpc(t.rpc_seconds)
            add(res, "rpc_lat", n, lat)
            add(res, "rpc_tput", n, [tput])
            log("  members RPC: median %.3f ms over %d calls, %.0f calls/s pipelined" % (
                summary(lat)[1] * 1000, len(lat), tput))

        def fail():
            # Two kills per repetition from N = 5 (agent n-2 is kept for the leave): when the
            # dead member is first probed is random to about a second in both kinds, so three
            # samples per size left the verdict to chance (docs/performance.md, session 14).
            for victim in ((n - 1, n - 3) if n >= 5 else (n - 1,)):
                secs = c.fail_detect(victim, t.fail(n))
                add(res, "fail", n, [secs])
                log("  failure of %s detected everywhere in %.2f s" % (c.agents[victim].name, secs))

        def leave():
            secs = c.leave(n - 2, t.leave(n))
            add(res, "leave", n, [secs])
            log("  leave seen everywhere in %.2f s" % secs)

        def steady():
            bps, why = c.steady_traffic(lambda: time.monotonic() - converged_at, args.traffic_settle,
                                        args.traffic_window)
            add(res, "steady_bytes", n, bps, why)
            if bps:
                log("  steady traffic (%.0f s window from %.0f s after convergence): mean %.1f B/s, "
                    "med %.0f B/s" % (args.traffic_window, args.traffic_settle,
                                      sum(bps) / len(bps), summary(bps)[1]))

        step("idle", ("rss", "anon", "pss", "private", "cpu", "bytes"), None, idle)
        if n in args.traffic_sizes and rep == 0:
            step("steady", ("steady_bytes",), None, steady)
        step("event", ("event", "dups"), t.event(n), event)
        step("members", ("rpc_lat", "rpc_tput"), None, members)
        step("fail", ("fail",), t.fail(n), fail)
        step("leave", ("leave",), t.leave(n), leave)
        return True
    finally:
        c.stop()


def mixed_cluster(args, t, rundir, results):
    """One cluster of args.mixed agents, serf and clusterd alternating; members RPC latency and
    throughput at one serf agent and one clusterd agent of that same cluster."""
    n = args.mixed
    serf_bin = os.path.abspath(args.serf)
    cd_bin = os.path.abspath(args.clusterd)
    if not (os.path.isfile(cd_bin) and os.access(cd_bin, os.X_OK)):
        return
    log("== mixed cluster: %d agents (serf and clusterd alternating)" % n)
    c = Cluster("serf", serf_bin, n, rundir, log, args.profile, alternate=("clusterd", cd_bin))
    try:
        secs = c.start(t.join(n), seed_timeout=t.seed)
        log("  mixed N=%d converged in %.2f s" % (n, secs))
        time.sleep(t.settle)
        for kind, idx in (("serf", 0), ("clusterd", 1)):
            lat, tput = c.members_rpc(t.rpc_seconds, idx=idx)
            res = results.setdefault(kind, {"figs": {}, "notes": [], "maxn": {}})
            add(res, "mixed_rpc_lat", n, lat)
            add(res, "mixed_rpc_tput", n, [tput])
            log("  %s agent in the mixed cluster: members median %.3f ms, %.0f calls/s" % (
                kind, summary(lat)[1] * 1000, tput))
    except Timeout as e:
        for kind in ("serf", "clusterd"):
            res = results.setdefault(kind, {"figs": {}, "notes": [], "maxn": {}})
            for f in ("mixed_rpc_lat", "mixed_rpc_tput"):
                add(res, f, n, [], e.short or "timeout")
            res["notes"].append("mixed N=%d: %s" % (n, e))
        log("  mixed cluster: %s" % e)
    finally:
        c.stop()


def member_slope(points, lo=128, hi=512, key="private_kib_mean"):
    """Private bytes each agent adds per added member: (mean private bytes per agent at N=hi -
    at N=lo) / (hi - lo), from the ramp's converged steps (`key`: the ramp's own agents, or
    "probe_private_kib_mean" for the probes of the other kind). When N=hi did not converge, the
    largest converged step above lo is used and named in the note."""
    by_n = {p["n"]: p for p in points if p.get(key) is not None}
    if lo not in by_n:
        return {"value": None, "note": "N=%d not converged in the ramp" % lo}
    top = hi if hi in by_n else max([n for n in by_n if n > lo], default=None)
    if top is None:
        return {"value": None, "note": "no converged ramp step above N=%d" % lo}
    value = (by_n[top][key] - by_n[lo][key]) * 1024.0 / (top - lo)
    note = "N=%d vs %d" % (lo, top) + ("" if top == hi else " (N=%d did not converge)" % hi)
    return {"value": value, "note": note}


def scale_ramp(kind, binary, args, rundir, res, cap, probes=None, probe_res=None):
    """Largest N that converges in one cluster grown step by step (ramp.py), and the private
    bytes per added member between its steps; with `probes` (kind, binary, count) that many
    agents of the other kind ride in the same cluster and their slope goes to `probe_res`."""
    r = ramp.grow(kind, binary, args.scale_steps, rundir, log, args.profile, cap,
                  args.mem_reserve_mib, probes=probes)
    res["maxn"] = r
    # The agents of the first step, measured again at every step (as the probes are).
    res["slope"] = member_slope(r.get("points", []), key="private_kib_first")
    everyone = member_slope(r.get("points", []))
    if res["slope"]["value"] is not None:
        res["slope"]["note"] += " (the N=128 agents at both steps; mean over all agents at each step: %s B)" % (
            "n.a." if everyone["value"] is None else "%.0f" % everyone["value"])
    if res["slope"]["value"] is not None:
        log("  %s: %.0f private bytes per agent per added member (%s)"
            % (kind, res["slope"]["value"], res["slope"]["note"]))
    if probes and probe_res is not None:
        sl = member_slope(r.get("points", []), key="probe_private_kib_mean")
        sl["note"] = "%d %s agents inside the %s ramp, %s" % (probes[2], probes[0], kind, sl["note"])
        probe_res["slope"] = sl
        if sl["value"] is not None:
            log("  %s: %.0f private bytes per agent per added member (%s)"
                % (probes[0], sl["value"], sl["note"]))


def version_of(binary):
    try:
        r = subprocess.run([binary, "version"], capture_output=True, text=True, timeout=10)
        return (r.stdout.strip().splitlines() or ["?"])[0]
    except (OSError, subprocess.TimeoutExpired) as e:
        return "unavailable: %s" % e


def machine():
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) / 1024 / 1024
    return "%s, %d CPUs, %.1f GiB RAM, Linux %s" % (model, os.cpu_count(), mem,
                                                    platform.release())


def main(argv):
    args = parse_args(argv)
    t = Timing(args.quick, args.window)
    rundir = tempfile.mkdtemp(prefix="clusterd-bench-")
    cleaned = []

    def cleanup():
        if cleaned:
            return
        cleaned.append(1)
        procs.kill_all()
        subprocess.run(["nft", "delete", "table", "inet", "cdbench_%d" % os.getpid()],
                       capture_output=True)
        left = procs.sweep_marker(rundir)
        if left:
            log("cleanup: killed %d stray process(es)" % left)
        if not args.keep:
            shutil.rmtree(rundir, ignore_errors=True)

    def on_signal(sig, _frame):
        log("caught signal %d, cleaning up" % sig)
        cleanup()
        os._exit(128 + sig)

    atexit.register(cleanup)
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(s, on_signal)

    t_begin = time.monotonic()
    meta = {"date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "machine": machine(), "command": " ".join(["bench/cluster/run.py"] + argv),
            "serf_bin": args.serf, "clusterd_bin": args.clusterd, "sizes": args.sizes,
            "reps": args.reps, "profile": args.profile, "quick": args.quick}
    results = {}
    try:
        for kind in args.kinds:
            binary = os.path.abspath(args.serf if kind == "serf" else args.clusterd)
            res = results.setdefault(kind, {"figs": {}, "notes": [], "maxn": {}})
            if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
                res["notes"].append("binary %s not built" % binary)
                res["maxn"] = {"value": None, "note": "not built"}
                log("%s: %s not built, skipped" % (kind, binary))
                continue
            meta[kind + "_version"] = version_of(binary)
            log("== %s (%s)" % (kind, meta[kind + "_version"]))
            converged_any = True
            for n in args.sizes:
                if not converged_any:
                    for f, *_ in report.FIGURES:
                        add(res, f, n, [], "not run: no convergence at a smaller N")
                    continue
                converged_here = False
                for rep in range(args.reps):
                    log("%s N=%d repetition %d/%d" % (kind, n, rep + 1, args.reps))
                    try:
                        ok = one_cluster(kind, binary, n, rep, args, t, rundir, res)
                    except Exception as e:  # noqa: BLE001
                        if kind == "serf":
                            raise          # a harness bug: fail loudly
                        res["notes"].append("N=%d rep %d: unexpected error %r" % (n, rep, e))
                        log("  %s: unexpected error %r" % (kind, e))
                        ok = False
                    converged_here = converged_here or ok
                    if not ok and rep == 0:
                        break      # the first repetition failed: do not retry this size
                if not converged_here:
                    converged_any = False
            res["converged_any"] = converged_any
        # The ramps come after every kind's per-size runs, clusterd's first: its >= 1,000
        # target is the one the budget must not squeeze out; Serf's ramp gets what is left.
        ramp_order = [k for k in ("clusterd", "serf") if k in args.kinds]
        for i, kind in enumerate(ramp_order):
            res = results.get(kind, {})
            if "figs" not in res or res.get("maxn"):
                continue                      # not built: already noted
            binary = os.path.abspath(args.serf if kind == "serf" else args.clusterd)
            if not args.scale_steps:
                res["maxn"] = {"value": None, "note": "ramp not run (--quick)"}
            elif not res.get("converged_any", True):
                res["maxn"] = {"value": None, "note": "not run: no convergence at the sizes"}
            else:
                later = len(ramp_order) - 1 - i
                left = args.budget - (time.monotonic() - t_begin) - 60   # mixed + sim + report
                cap = min(args.scale_cap, left - later * min(args.scale_cap, 60))
                if cap < 30:
                    res["maxn"] = {"value": None, "note": "ramp skipped: time budget"}
                else:
                    log("%s: scale ramp %s (cap %.0f s)" % (kind, args.scale_steps, cap))
                    if kind == "clusterd" and "serf" in args.kinds and args.ramp_probes > 0:
                        # Serf's slope: Serf agents riding in clusterd's ramp (ramp.py).
                        probe_res = results.setdefault("serf", {"figs": {}, "notes": [], "maxn": {}})
                        scale_ramp(kind, binary, args, rundir, res, cap,
                                   probes=("serf", os.path.abspath(args.serf), args.ramp_probes),
                                   probe_res=probe_res)
                    else:
                        saved = res.get("slope")
                        scale_ramp(kind, binary, args, rundir, res, cap)
                        if saved and saved.get("value") is not None:
                            res["slope"] = saved   # the probes' slope (same cluster as clusterd's)
        if args.mixed and set(args.kinds) >= {"serf", "clusterd"}:
            mixed_cluster(args, t, rundir, results)
        sim = {"status": "skipped (--no-sim)"}
        if not args.no_sim:
            if args.sim_bin:
                skind, sbins, why = "scale", [args.sim_bin], ""
            else:
                skind, sbins, why = simscale.find([args.sim_build])
            if skind is None:
                sim = {"status": "simulator: %s" % why}
                print("simulator: " + why)
            elif args.quick:
                # The harness must not rot: one tiny point through the same code path.
                pts = simscale.run(skind, sbins, args.sim_args, [50], 60, 60, log,
                                   args.mem_reserve_mib)
                sim = {"status": "simulator (%s): %s; --quick runs N=50 only"
                                 % (skind, ", ".join(sbins)), "points": pts}
                if skind == "scale" and not (pts and pts[0].get("converged")):
                    print("HARNESS PROBLEM: simulator N=50 did not converge: %r" % (pts,))
            else:
                cap = args.sim_cap
                if cap is None:
                    cap = 3600.0 if args.sim_only else max(
                        10.0, min(150.0, args.budget - (time.monotonic() - t_begin)))
                log("== simulator (%s): %s, cap %.0f s" % (skind, ", ".join(sbins), cap))
                pts = simscale.run(skind, sbins, args.sim_args,
                                   [int(x) for x in args.sim_sizes.split(",")], cap, cap,
                                   log, args.mem_reserve_mib)
                sim = {"status": "simulator (%s): %s" % (skind, ", ".join(sbins)),
                       "points": pts, "binary_sha256": simscale.sha256_of(sbins[0])}
                if skind == "scale" and not args.sim_only:
                    # The 5,000 and 10,000-node points take ~10 and ~35 min: a default run
                    # reads them from the last --sim-only run if it ran this same binary.
                    sim["borrowed"], why = simscale.borrow(
                        pts, sim["binary_sha256"],
                        os.path.join(ROOT, "bench/results/sim/bench.json"))
                    if why:
                        sim["borrow_note"] = why
        meta["sim"] = sim
    finally:
        cleanup()
    stray = procs.sweep_marker(rundir)
    meta["seconds"] = time.monotonic() - t_begin
    table, png = report.write_all(results, meta, args.out)
    print(open(os.path.join(args.out, "bench.md")).read())
    log("wrote %s/bench.{md,csv,json}; chart: %s; total %.0f s" % (args.out, png,
                                                                     meta["seconds"]))
    problems = []
    if "serf" in args.kinds:
        sf = results.get("serf", {}).get("figs", {})
        for f in REQUIRED_SERF:
            for n in args.sizes:
                if not sf.get(f, {}).get(str(n), {}).get("samples"):
                    problems.append("serf figure %s at N=%d missing" % (f, n))
        bytes_cells = sf.get("bytes", {})
        if shutil.which("nft") and os.geteuid() == 0:
            for n in args.sizes:
                if not bytes_cells.get(str(n), {}).get("samples"):
                    problems.append("serf gossip bytes at N=%d missing" % n)
    if stray:
        problems.append("%d agent process(es) survived cleanup" % stray)
    if not os.path.isfile(png if png.endswith(".png") else "/nonexistent"):
        problems.append("chart not written: %s" % png)
    for pr in problems:
        print("HARNESS PROBLEM: " + pr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
