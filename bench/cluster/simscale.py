"""Simulator scale-curve step: runs the in-process simulator (if built) at growing N.

Owns: finding a simulator binary under <build>/tests/sim/ or tests/sim_serf/ and timing it. Two shapes work:
  1. an executable whose name contains "scale" taking `--nodes N` (override the arguments with
     --sim-args, '{n}' = N): run for each requested N, exit 0 = converged;
  2. otherwise the simulator's GoogleTest binaries: every test whose name states a cluster
     size (digits or words: "HundredNodes", "ThousandNodes", "TenThousandNodes", "N5000")
     is run alone with --gtest_filter and timed.
Prints "not built" when there is no simulator tree.
"""
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


def run(kind, binaries, args_tmpl, sizes, per_run_timeout, total_cap, log):
    points = []
    t_start = time.monotonic()
    if kind == "scale":
        jobs = [(n, [binaries[0]] + [a.replace("{n}", str(n)) for a in args_tmpl.split()])
                for n in sizes]
    else:
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
                       "maxrss_mib": max(before, after) / 1024.0})
        log("  sim N=%d: %.2f s rc=%s (%s)" % (n, secs, rc, label))
    return points
