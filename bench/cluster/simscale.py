"""Simulator scale-curve step: runs the in-process simulator (if built) at growing N.

Owns: finding a simulator binary under <build>/tests/sim/ or tests/sim_serf/ and timing it. Two shapes work:
  1. an executable whose name contains "scale" taking `--nodes N` (override the arguments with
     --sim-args, '{n}' = N): run for each requested N, exit 0 = converged;
  2. otherwise the simulator's GoogleTest binaries: every test whose name states a cluster
     size (digits or words: "HundredNodes", "ThousandNodes", "TenThousandNodes", "N5000")
     is run alone with --gtest_filter and timed.
Prints "not built" when there is no simulator tree.
"""
import json
import math
import os
import re
import resource
import subprocess
import time

_WORDS = [("tenthousand", 10000), ("thousand", 1000), ("hundred", 100), ("ten", 10)]


def find(build_dirs):
    """Returns (kind, [paths], why): kind is 'scale', 'gtest' or None."""
    for b in build_dirs:
        dirs = [os.path.join(b, "tests", x) for x in ("sim", "sim_serf")]
        dirs = [d for d in dirs if os.path.isdir(d)]
        if not dirs:
            continue
        exes = []
        for d in dirs:
            for root, subdirs, files in os.walk(d):
                subdirs[:] = [x for x in subdirs if x != "CMakeFiles"]
                for fn in files:
                    p = os.path.join(root, fn)
                    if os.access(p, os.X_OK) and "." not in fn:
                        exes.append(p)
        scale = sorted(p for p in exes if "scale" in os.path.basename(p))
        if scale:
            return "scale", scale[:1], ""
        if exes:
            return "gtest", sorted(exes), ""
        return None, [], "simulator trees %s have no executable yet (not built)" % ", ".join(dirs)
    return None, [], "not built"


def size_of(test_name):
    m = re.search(r"(\d+)_?Nodes?", test_name) or re.search(r"(?<![A-Za-z])N(\d{2,})", test_name)
    if m:
        return int(m.group(1))
    low = test_name.lower()
    for word, n in _WORDS:
        if word + "node" in low:
            return n
    return None


def _timed(cmd, timeout):
    t0 = time.monotonic()
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           start_new_session=True)
        rc, out = r.returncode, (r.stdout + r.stderr).strip()
    except subprocess.TimeoutExpired:
        rc, out = "timeout", ""
    except OSError as e:
        rc, out = "error", str(e)
    last = out.splitlines()[-1][:160] if out else ""
    return time.monotonic() - t0, rc, last


def _mem_available_mib():
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return 0.0


def _scale_point(cmd, n, timeout):
    """Runs one swim_sim_scale point; returns a dict from its JSON line (plus wall, rc)."""
    t0 = time.monotonic()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    try:
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           start_new_session=True)
        rc, out, err = r.returncode, r.stdout, r.stderr
    except subprocess.TimeoutExpired:
        return {"n": n, "seconds": time.monotonic() - t0, "rc": "timeout",
                "last": "no result within %.0f s" % timeout}
    except OSError as e:
        return {"n": n, "seconds": 0.0, "rc": "error", "last": str(e)}
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    # CPU seconds (user + system) of the simulator: the harness has no other child then.
    point = {"n": n, "seconds": time.monotonic() - t0, "rc": rc,
             "cpu_seconds": (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)}
    for line in reversed(out.splitlines()):
        if line.startswith("{"):
            try:
                point.update(json.loads(line))
            except ValueError:
                pass
            break
    tail = (out + err).strip().splitlines()
    point["last"] = (os.path.basename(cmd[0]) + " " + " ".join(cmd[1:]) + ": " +
                     (tail[-1][:160] if tail else ""))
    return point


def run(kind, binaries, args_tmpl, sizes, per_run_timeout, total_cap, log,
        mem_reserve_mib=4096):
    """Runs the scale curve; returns a list of points. With a swim_sim_scale binary each point
    holds the simulator's own figures (sim_seconds, packets_per_node, bytes_per_node,
    peak_rss_mib, ...). A size whose predicted memory (state grows with N^2: every node lists
    every node) or wall time does not fit is not started; its point says why."""
    points = []
    t_start = time.monotonic()
    if kind == "scale":
        done = []
        for n in sorted(sizes):
            cmd = [binaries[0]] + [a.replace("{n}", str(n)) for a in args_tmpl.split()]
            left = total_cap - (time.monotonic() - t_start)
            why = None
            if done:
                last = done[-1]
                ratio = (float(n) / last["n"]) ** 2
                need_mib = last.get("peak_rss_mib", 0.0) * ratio * 1.1
                avail = _mem_available_mib() - mem_reserve_mib
                # wall time grows faster than N^2 (join storm + gossip): fit the exponent.
                expo = 2.5
                if len(done) >= 2 and done[-2]["seconds"] > 0.5:
                    a, b = done[-2], done[-1]
                    expo = max(2.0, math.log(b["seconds"] / a["seconds"]) / math.log(float(b["n"]) / a["n"]))
                need_s = last["seconds"] * (float(n) / last["n"]) ** expo
                if need_mib > avail:
                    why = ("not run: memory ceiling (every node lists every node: ~%.1f GiB "
                           "predicted from N=%d's %.0f MiB, %.1f GiB available)"
                           % (need_mib / 1024, last["n"], last.get("peak_rss_mib", 0),
                              max(avail, 0) / 1024))
                elif need_s > left:
                    why = ("not run: time cap (~%.0f s predicted, %.0f s left)" % (need_s, left))
            elif left <= 5:
                why = "not run: time cap"
            if why:
                points.append({"n": n, "seconds": 0.0, "rc": "skipped", "last": why})
                log("  sim N=%d: %s" % (n, why))
                continue
            p = _scale_point(cmd, n, min(per_run_timeout, left))
            points.append(p)
            log("  sim N=%d: rc=%s wall %.1f s, sim %s s, %s packets/node, peak %s MiB" % (
                n, p["rc"], p["seconds"], p.get("sim_seconds", "?"),
                p.get("packets_per_node", "?"), p.get("peak_rss_mib", "?")))
            if p["rc"] == 0:
                done.append(p)
            else:
                break
        return points
    jobs = []
    for b in binaries:
        secs, rc, _ = _timed([b, "--gtest_list_tests"], 30)
        if rc != 0:
            continue
        listing = subprocess.run([b, "--gtest_list_tests"], capture_output=True,
                                 text=True, timeout=30).stdout
        suite = ""
        for line in listing.splitlines():
            if not line.strip() or line.startswith("#"):
                continue
            if not line.startswith(" "):
                suite = line.strip()
                continue
            name = line.strip().split()[0]
            n = size_of(name)
            if n:
                jobs.append((n, [b, "--gtest_filter=%s%s" % (suite, name)]))
    jobs = sorted(j for j in jobs if j[0] <= max(sizes or [10000]))
    for n, cmd in jobs:
        left = total_cap - (time.monotonic() - t_start)
        if left <= 5:
            log("  sim: time cap reached before N=%d" % n)
            break
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        secs, rc, last = _timed(cmd, min(per_run_timeout, left))
        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        label = os.path.basename(cmd[0]) + " " + " ".join(cmd[1:])
        points.append({"n": n, "seconds": secs, "rc": rc, "last": label + ": " + last,
                       "peak_rss_mib": max(before, after) / 1024.0})
        log("  sim N=%d: %.2f s rc=%s (%s)" % (n, secs, rc, label))
    return points


def sha256_of(path):
    import hashlib
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError:
        return ""
    return h.hexdigest()


# Issue 19's simulator targets are read at these sizes (report.sim_rows).
TARGET_SIZES = (1000, 5000, 10000)


def borrow(points, sha, path):
    """Points at TARGET_SIZES this run did not measure, taken from the --sim-only run saved at
    `path` when it ran the same simulator binary (sha256); each says where it comes from."""
    have = {p["n"] for p in points if p.get("rc") == 0 and p.get("sim_seconds")}
    try:
        with open(path) as f:
            saved = json.load(f).get("meta", {})
    except (OSError, ValueError):
        return {}, "no --sim-only results at %s" % path
    ssim = saved.get("sim", {})
    if not sha or ssim.get("binary_sha256") != sha:
        return {}, ("the --sim-only results at %s (%s) ran another simulator binary"
                    % (path, saved.get("date", "?")))
    out = {}
    for p in ssim.get("points") or []:
        if p.get("n") in TARGET_SIZES and p["n"] not in have and p.get("rc") == 0:
            q = dict(p)
            q["from"] = "--sim-only run of %s, same binary" % saved.get("date", "?")
            out[str(p["n"])] = q
    return out, ""
