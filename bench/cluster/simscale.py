"""Simulator scale-curve step: runs the in-process simulator (if built) for growing N.

Owns: finding the simulator binary and timing it. Contract expected from the simulator side:
an executable whose file name contains "scale" under <build>/tests/sim/ that accepts
`--nodes N`, runs an N-node simulated cluster to convergence and exits 0 (its last output
line is reported verbatim). Override with --sim-bin and --sim-args ('{n}' is replaced by N).
"""
import os
import resource
import subprocess
import time


def find(build_dirs):
    for b in build_dirs:
        d = os.path.join(b, "tests", "sim")
        if not os.path.isdir(d):
            continue
        cands = []
        for root, _, files in os.walk(d):
            for fn in files:
                p = os.path.join(root, fn)
                if "scale" in fn and os.access(p, os.X_OK) and not fn.endswith((".cmake", ".txt")):
                    cands.append(p)
        if cands:
            return sorted(cands)[0], ""
        return None, "simulator tree %s exists but has no '*scale*' executable" % d
    return None, "not built"


def run(binary, args_tmpl, sizes, per_run_timeout, total_cap, log):
    points = []
    t_start = time.monotonic()
    for n in sizes:
        left = total_cap - (time.monotonic() - t_start)
        if left <= 5:
            log("  sim: time cap reached before N=%d" % n)
            break
        args = [a.replace("{n}", str(n)) for a in args_tmpl.split()]
        t0 = time.monotonic()
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        try:
            r = subprocess.run([binary] + args, capture_output=True, text=True,
                               timeout=min(per_run_timeout, left), start_new_session=True)
            rc, out = r.returncode, (r.stdout + r.stderr).strip()
        except subprocess.TimeoutExpired as e:
            rc, out = "timeout", ((e.stdout or b"").decode(errors="replace")
                                  if isinstance(e.stdout, bytes) else (e.stdout or ""))
        secs = time.monotonic() - t0
        after = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        last = out.splitlines()[-1][:160] if out else ""
        points.append({"n": n, "seconds": secs, "rc": rc, "last": last,
                       "maxrss_mib": max(before, after) / 1024.0})
        log("  sim N=%d: %.2f s rc=%s %s" % (n, secs, rc, last))
        if rc != 0:
            break
    return points
