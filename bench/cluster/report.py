"""Benchmark report: the comparison table (Markdown + CSV), the raw JSON and the PNG chart.

Owns: the list of figures, their units and targets, the clusterd/Serf ratio and the PASS/MISS
verdicts. Input is the results dict built by run.py:
  results[kind]["figs"][fig][str(N)] = {"samples": [float...], "note": str}
  results[kind]["maxn"] = {"value": int|None, "note": str}
"""
import csv
import json
import os
import shutil
import statistics
import subprocess
import tempfile

from cluster import rpc_client_name

# key, label, unit, scale (sample -> unit), better ("lower"/"higher"/None)
FIGURES = [
    ("rss", "idle RSS per agent", "MiB", 1.0),
    ("anon", "idle private (anonymous) RSS per agent", "MiB", 1.0),
    ("pss", "idle PSS per agent (smaps_rollup)", "MiB", 1.0),
    ("private", "idle private bytes per agent (Private_Clean+Private_Dirty)", "MiB", 1.0),
    ("cpu", "idle CPU per agent (cluster mean)", "% of a core", 1.0),
    ("bytes", "gossip traffic per agent, 5 s right after convergence", "B/s", 1.0),
    ("steady_bytes", "idle gossip traffic per agent, steady state (cluster total / N over one push-pull interval)", "B/s", 1.0),
    ("join", "join convergence (all list N alive)", "s", 1.0),
    ("event", "user-event propagation (all handlers ran)", "s", 1.0),
    ("dups", "duplicate handler runs", "count", 1.0),
    ("fail", "failure detection (kill -9 -> all list failed)", "s", 1.0),
    ("leave", "graceful leave (all list left)", "s", 1.0),
    # Measured by cluster.Cluster.members_rpc: the C++ client bench/rpcload when built, else Python.
    ("rpc_lat", "members RPC latency (sequential, %s)" % rpc_client_name(), "ms", 1000.0),
    ("rpc_tput", "members RPC throughput (16 in flight, %s)" % rpc_client_name(), "calls/s", 1.0),
    ("mixed_rpc_lat", "members RPC latency, both kinds in ONE mixed cluster", "ms", 1000.0),
    ("mixed_rpc_tput", "members RPC throughput, both kinds in ONE mixed cluster", "calls/s", 1.0),
]
LABEL = {k: (lbl, unit, scale) for k, lbl, unit, scale in FIGURES}


def target(fig, n):
    """(description, check(ratio, clusterd_summary)) or None."""
    # Issue 19's targets: memory as PSS (shared clean pages divided among the agents mapping
    # them), event and leave latency 0.6x Serf's at N = 32 and 128, traffic at rest no more.
    if fig == "pss" and n == 32:
        return "ratio <= 0.35", lambda r, s: r is not None and r <= 0.35
    if fig == "cpu" and n == 32:
        return "ratio <= 0.33", lambda r, s: r is not None and r <= 0.33
    if fig in ("event", "leave") and n in (32, 128):
        return "ratio <= 0.6", lambda r, s: r is not None and r <= 0.6
    if fig in ("join", "event", "fail", "leave"):
        return "median <= Serf's", lambda r, s: r is not None and r <= 1.0
    if fig == "steady_bytes":
        return "ratio <= 1.0", lambda r, s: r is not None and r <= 1.0
    if fig == "dups":
        return "0 duplicates", lambda r, s: s is not None and s[2] == 0
    if fig in ("rpc_tput", "mixed_rpc_tput"):
        return "ratio >= 5", lambda r, s: r is not None and r >= 5.0
    return None


# Figures whose middle value is the mean, not the median. Steady gossip bytes per agent: each
# agent's periodic push-pull lands on one random peer, so an agent's own count is its probes
# plus 0, 1, 2... accepted push-pulls (~80 B/s apart at N = 32) and the median agent is a draw
# of that lottery; the mean is the cluster's total traffic divided by its agents, what one more
# agent adds to the network.
MEAN_FIGS = {"steady_bytes"}


def summarize(cell, scale=1.0, fig=None):
    if not cell:
        return None
    vals = [v * scale for v in cell.get("samples", []) if v is not None]
    if not vals:
        return None
    mid = sum(vals) / len(vals) if fig in MEAN_FIGS else statistics.median(vals)
    return (min(vals), mid, max(vals))


def fmt(v):
    if v is None:
        return "n.a."
    a = abs(v)
    if a == 0:
        return "0"
    if isinstance(v, int):
        return str(v)
    if a >= 1000:
        return "%.0f" % v
    if a >= 100:
        return "%.1f" % v
    if a >= 1:
        return "%.2f" % v
    return "%.3f" % v


def fmt3(s):
    if s is None:
        return "n.a."
    if s[0] == s[2]:
        return fmt(s[1])
    return "%s / %s / %s" % (fmt(s[0]), fmt(s[1]), fmt(s[2]))


def rows(results, sizes):
    out = []
    serf = results.get("serf", {}).get("figs", {})
    cd = results.get("clusterd", {}).get("figs", {})
    for fig, lbl, unit, scale in FIGURES:
        ns = sizes
        if fig.startswith("mixed"):  # measured once, at the mixed cluster's own size
            ns = sorted({int(k) for k in list(serf.get(fig, {})) + list(cd.get(fig, {}))})
        for n in ns:
            sc = serf.get(fig, {}).get(str(n))
            cc = cd.get(fig, {}).get(str(n))
            ss, cs = summarize(sc, scale, fig), summarize(cc, scale, fig)
            if fig == "steady_bytes" and sc is None and cc is None:
                continue  # measured at --traffic-sizes only
            ratio = None
            if ss and cs and ss[1] > 0:
                ratio = cs[1] / ss[1]
            t = target(fig, n)
            verdict = ""
            if t:
                verdict = "PASS" if t[1](ratio, cs) else ("MISS" if cs else "MISS (n.a.)")
            note = "; ".join(x for x in ((cc or {}).get("note", ""),) if x)
            snote = (sc or {}).get("note", "")
            out.append({"figure": lbl, "key": fig, "unit": unit, "N": n, "serf": ss, "clusterd": cs,
                        "ratio": ratio, "target": t[0] if t else "", "verdict": verdict,
                        "serf_note": snote, "clusterd_note": note})
    ms = results.get("serf", {}).get("maxn", {})
    mc = results.get("clusterd", {}).get("maxn", {})
    sv, cv = ms.get("value"), mc.get("value")
    out.append({"figure": "largest converged cluster", "key": "maxn", "unit": "agents", "N": "ramp",
                "serf": (sv, sv, sv) if sv else None, "clusterd": (cv, cv, cv) if cv else None,
                "ratio": (cv / sv) if sv and cv else None, "target": ">= 1000 agents",
                "verdict": "PASS" if cv and cv >= 1000 else ("MISS" if cv else "MISS (n.a.)"),
                "serf_note": ms.get("note", ""), "clusterd_note": mc.get("note", "")})
    ss = results.get("serf", {}).get("slope", {})
    cs = results.get("clusterd", {}).get("slope", {})
    sv, cv = ss.get("value"), cs.get("value")
    ratio = (cv / sv) if sv and cv is not None and sv > 0 else None
    out.append({"figure": "private bytes per agent per added member (ramp)", "key": "slope",
                "unit": "B", "N": "ramp",
                "serf": (sv, sv, sv) if sv is not None else None,
                "clusterd": (cv, cv, cv) if cv is not None else None,
                "ratio": ratio, "target": "ratio <= 0.2",
                "verdict": "PASS" if ratio is not None and ratio <= 0.2 else
                           ("MISS" if cv is not None else "MISS (n.a.)"),
                "serf_note": ss.get("note", ""), "clusterd_note": cs.get("note", "")})
    return out


def sim_rows(sim):
    """Issue 19's simulator targets from the scale curve (this run's points, else points
    borrowed from the last --sim-only run of the same binary): cost per node per simulated
    second <= 0.5 ms (wall; CPU in the note) at 1,000 / 5,000 / 10,000 nodes, and the
    10,000-node run converging within 8 GiB and 60 min."""
    pts = {p["n"]: p for p in sim.get("points") or [] if p.get("rc") == 0 and p.get("sim_seconds")}
    why_not = {p["n"]: p.get("last", "") for p in sim.get("points") or []}
    borrowed = sim.get("borrowed") or {}
    out = []

    def row(figure, unit, n, value, tgt, ok, note):
        out.append({"figure": figure, "key": "sim", "unit": unit, "N": n, "serf": None,
                    "clusterd": (value, value, value) if value is not None else None,
                    "ratio": None, "target": tgt,
                    "verdict": ("PASS" if ok else "MISS") if value is not None else "MISS (n.a.)",
                    "serf_note": "not simulated", "clusterd_note": note})

    for n in (1000, 5000, 10000):
        p, src = pts.get(n), "this run"
        if p is None and str(n) in borrowed:
            p = borrowed[str(n)]
            src = p.get("from", "borrowed")
        if p is None or not p.get("converged"):
            reason = why_not.get(n) or sim.get("borrow_note") or "not run"
            if p is not None:
                reason = "did not converge (%s)" % src
            row("simulator cost per node per simulated second (wall)", "ms", n, None,
                "<= 0.5 ms", False, reason[:200])
            if n == 10000:
                row("simulator, 10,000 nodes all joining at once: peak RSS", "MiB", n, None,
                    "converges, <= 8192 MiB", False, reason[:200])
                row("simulator, 10,000 nodes all joining at once: wall time", "min", n, None,
                    "<= 60 min", False, reason[:200])
            continue
        wall = p.get("wall_seconds") or p.get("seconds")
        per = wall * 1000.0 / (n * p["sim_seconds"])
        note = src
        if p.get("cpu_seconds"):
            note += "; CPU %.2f ms" % (p["cpu_seconds"] * 1000.0 / (n * p["sim_seconds"]))
        row("simulator cost per node per simulated second (wall)", "ms", n, per, "<= 0.5 ms",
            per <= 0.5, note)
        if n == 10000:
            rss = p.get("peak_rss_mib")
            row("simulator, 10,000 nodes all joining at once: peak RSS", "MiB", n, rss,
                "converges, <= 8192 MiB", rss is not None and rss <= 8192,
                "%s; converged in %.1f simulated s" % (src, p["sim_seconds"]))
            row("simulator, 10,000 nodes all joining at once: wall time", "min", n, wall / 60.0,
                "<= 60 min", wall <= 3600, src)
    return out


def write_all(results, meta, outdir):
    os.makedirs(outdir, exist_ok=True)
    sizes = meta["sizes"]
    table = rows(results, sizes) + sim_rows(meta.get("sim", {}))
    with open(os.path.join(outdir, "bench.json"), "w") as f:
        json.dump({"meta": meta, "results": _compact(results)}, f, indent=1, sort_keys=True)
    with open(os.path.join(outdir, "bench.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["figure", "unit", "N", "serf_min", "serf_median", "serf_max", "clusterd_min",
                    "clusterd_median", "clusterd_max", "ratio_clusterd_over_serf", "target",
                    "verdict", "serf_note", "clusterd_note"])
        for r in table:
            s = r["serf"] or (None, None, None)
            c = r["clusterd"] or (None, None, None)
            w.writerow([r["figure"], r["unit"], r["N"]] + [("" if v is None else "%.6g" % v)
                        for v in list(s) + list(c)] +
                       ["" if r["ratio"] is None else "%.4g" % r["ratio"], r["target"],
                        r["verdict"], r["serf_note"], r["clusterd_note"]])
    md = [
        "# clusterd vs Serf benchmark",
        "",
        "- date: %s" % meta["date"],
        "- machine: %s" % meta["machine"],
        "- command: `%s`" % meta["command"],
        "- serf: `%s` (%s)" % (meta["serf_bin"], meta.get("serf_version", "")),
        "- clusterd: `%s` (%s)" % (meta["clusterd_bin"], meta.get("clusterd_version", "")),
        "- agents on 127.0.0.1 (distinct ports), profile `%s`, %d repetition(s) per size; "
        "cells are min / median / max over agents x repetitions (per-agent figures) or "
        "over repetitions (cluster figures; kill -9: two kills per repetition from N = 5), one "
        "number when they are equal; ratio = clusterd "
        "median / Serf median (steady gossip traffic: mean / mean, the cluster's total per agent)." %
        (meta["profile"], meta["reps"]),
        "",
        "| figure | N | Serf | clusterd | ratio | target | verdict |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in table:
        cell_c = fmt3(r["clusterd"])
        if r["clusterd"] is None and r["clusterd_note"]:
            cell_c = "n.a. (%s)" % r["clusterd_note"]
        elif r["key"] == "sim" and r["clusterd_note"]:
            cell_c = "%s (%s)" % (cell_c, r["clusterd_note"])
        cell_s = fmt3(r["serf"])
        if r["serf"] is None and r["serf_note"]:
            cell_s = "n.a. (%s)" % r["serf_note"]
        ratio = "n.a." if r["ratio"] is None else "%.2f" % r["ratio"]
        md.append("| %s [%s] | %s | %s | %s | %s | %s | %s |" % (
            r["figure"], r["unit"], r["N"], cell_s, cell_c, ratio, r["target"] or "-",
            r["verdict"] or "-"))
    md += ["", "## Notes", ""]
    for kind in ("serf", "clusterd"):
        for note in results.get(kind, {}).get("notes", []):
            md.append("- %s: %s" % (kind, note))
        mx = results.get(kind, {}).get("maxn", {})
        if mx:
            md.append("- %s scale ramp: largest converged N = %s; %s" % (
                kind, mx.get("value") or "n.a.", mx.get("note", "")))
    md.append("- wall time of this run: %.0f s" % meta.get("seconds", 0))
    sim = meta.get("sim", {})
    md += ["", "## Simulator scale curve", "", sim.get("status", "not run")]
    pts = sim.get("points") or []
    if pts and any("sim_seconds" in p for p in pts):
        md += ["", "Every node joins node 0 at t=0 (lan profile, 1-2 ms links, no loss); converged ="
               " every node lists all N alive. Packets/bytes are per node, counted until then.",
               "", "| N | converged | simulated s | wall s | packets/node | KiB sent/node |"
               " peak RSS MiB | note |", "|---|---|---|---|---|---|---|---|"]
        for p in pts:
            if "sim_seconds" in p:
                md.append("| %d | %s | %.1f | %.1f | %.0f | %.0f | %.0f | %s |" % (
                    p["n"], "yes" if p.get("converged") else "NO", p["sim_seconds"],
                    p.get("wall_seconds", p["seconds"]), p["packets_per_node"],
                    p["bytes_per_node"] / 1024.0, p["peak_rss_mib"],
                    "" if p.get("converged") else p["last"].replace("|", "/")))
            else:
                md.append("| %d | - | - | - | - | - | - | %s |" % (
                    p["n"], ("rc %s: " % p["rc"] if p["rc"] != "skipped" else "")
                    + p["last"].replace("|", "/")))
    elif pts:
        md += ["", "| N | wall s | exit | last line |", "|---|---|---|---|"]
        for p in pts:
            md.append("| %d | %.2f | %s | %s |" % (p["n"], p["seconds"], p["rc"],
                                                  p["last"].replace("|", "/")))
    md.append("")
    with open(os.path.join(outdir, "bench.md"), "w") as f:
        f.write("\n".join(md))
    png = chart(results, sizes, os.path.join(outdir, "bench.png"))
    if pts and any(p.get("converged") for p in pts):
        sim_png = sim_chart(pts, os.path.join(outdir, "sim.png"))
        with open(os.path.join(outdir, "bench.md"), "a") as f:
            f.write("Chart: %s\n" % (os.path.basename(sim_png) if sim_png.endswith(".png")
                                     else sim_png))
    return table, png


def sim_chart(points, path):
    """Simulator scale curve: simulated convergence time, packets per node and wall time
    against N (log-log)."""
    if shutil.which("gnuplot") is None:
        return "gnuplot not installed"
    pts = [p for p in points if p.get("converged")]
    tmp = tempfile.mkdtemp(prefix="cdbench-simplot-")
    try:
        dat = os.path.join(tmp, "sim.dat")
        with open(dat, "w") as f:
            for p in pts:
                f.write("%d %g %g %g\n" % (p["n"], p["sim_seconds"], p["packets_per_node"],
                                           p.get("wall_seconds", p["seconds"])))
        script = ["set terminal pngcairo size 1500,450 font ',9'" if _has_cairo() else
                  "set terminal png size 1500,450",
                  "set output '%s'" % path,
                  "set multiplot layout 1,3 title 'simulator scale curve: N swim nodes join "
                  "node 0 at t=0 (lan profile)'",
                  "set logscale xy", "set grid", "set key off", "set xlabel 'N'"]
        for col, title in ((2, "simulated seconds until all list N alive"),
                           (3, "packets sent per node until then"),
                           (4, "wall seconds of the run")):
            script += ["set title '%s'" % title,
                       "plot '%s' using 1:%d with linespoints pt 7 lc rgb '#d62728'" % (dat, col)]
        script.append("unset multiplot")
        return _gnuplot(script, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _compact(results):
    """Copy of results for the JSON file: sample lists longer than 501 (RPC latencies) become
    their 0.2 %-quantiles (min, median and max kept exactly); values get 6 digits."""
    out = {}
    for kind, res in results.items():
        figs = {}
        for fig, cells in res.get("figs", {}).items():
            figs[fig] = {}
            for n, cell in cells.items():
                vals = sorted(cell["samples"])
                if len(vals) > 501:
                    vals = [vals[round(i * (len(vals) - 1) / 500)] for i in range(501)]
                figs[fig][n] = {"samples": [float("%.6g" % v) for v in vals],
                                "count": len(cell["samples"]), "note": cell["note"]}
        out[kind] = dict(res, figs=figs)
    return out


def chart(results, sizes, path):
    if shutil.which("gnuplot") is None:
        return "gnuplot not installed"
    panels = ["rss", "cpu", "bytes", "rpc_tput", "join", "event", "fail", "leave"]
    tmp = tempfile.mkdtemp(prefix="cdbench-plot-")
    try:
        script = ["set terminal pngcairo size 1800,900 font ',9'" if _has_cairo() else
                  "set terminal png size 1800,900",
                  "set output '%s'" % path, "set multiplot layout 2,4 title "
                  "'clusterd vs Serf (median, whiskers min..max) against N'",
                  "set logscale x 2", "set key top left", "set grid", "set yrange [0:*]",
                  "set xrange [%g:%g]" % (min(sizes or [2]) / 1.5, max(sizes or [2]) * 1.5)]
        for fig in panels:
            lbl, unit, scale = LABEL[fig]
            plots = []
            for kind, color in (("serf", "#1f77b4"), ("clusterd", "#d62728")):
                cells = results.get(kind, {}).get("figs", {}).get(fig, {})
                pts = [(n, summarize(cells.get(str(n)), scale, fig)) for n in sizes]
                pts = [(n, s) for n, s in pts if s]
                if not pts:
                    continue
                dat = os.path.join(tmp, "%s_%s.dat" % (fig, kind))
                with open(dat, "w") as f:
                    for n, s in pts:
                        f.write("%d %g %g %g\n" % (n, s[1], s[0], s[2]))
                plots.append("'%s' using 1:2:3:4 with yerrorlines lc rgb '%s' title '%s'"
                             % (dat, color, kind))
            script.append("set title '%s [%s]'" % (lbl, unit))
            if plots:
                script.append("plot " + ", ".join(plots))
            else:
                script.append("set label 1 'no data' at graph 0.4,0.5")
                script.append("set yrange [0:1]")
                script.append("plot [1:2] -1 notitle")
                script.append("unset label 1")
                script.append("set yrange [0:*]")
        script.append("unset multiplot")
        return _gnuplot(script, path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _gnuplot(script, path):
    """Runs a gnuplot script; returns `path` or why it failed."""
    r = subprocess.run(["gnuplot"], input="\n".join(script) + "\n", text=True,
                       capture_output=True, timeout=60)
    if r.returncode != 0:
        return "gnuplot failed: " + " ".join(r.stderr.split())[:300]
    return path


def _has_cairo():
    try:
        r = subprocess.run(["gnuplot", "-e", "set terminal"], capture_output=True, text=True,
                           timeout=10)
        return "pngcairo" in (r.stdout + r.stderr)
    except (OSError, subprocess.TimeoutExpired):
        return False
