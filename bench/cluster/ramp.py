"""Scale ramp: the largest cluster of real agents of one kind this machine holds.

Owns: one cluster grown step by step (seed first, then agents added until each step size),
checked after every step through the `stats` RPC (a few hundred bytes per agent, so polling
1,000 agents stays cheap; `members` at N=1,000 is ~150 KB per answer). A step counts when
every agent has reported at least N members with none failed or left. The ramp stops at the
first step that does not converge within its deadline, or before a step whose predicted memory
(measured from MemAvailable over the previous step) or time does not fit.

Probes: a few agents of the other kind may join the same cluster at its start and stay through
every step (they count in N and must converge like the rest); their private bytes per step give
that kind's per-member slope from the same cluster. Serf cannot hold a 512-agent cluster of its
own on this machine, but two Serf agents in a 512-agent clusterd cluster hold 512 members each,
which is all the slope needs (a member costs an agent the same whatever kind it runs).
"""
import os
import time

import procs
import rpc


def _stats_alive(port, timeout):
    """members - failed - left from the agent's `stats` answer, or None."""
    try:
        c = rpc.RpcClient("127.0.0.1", port, timeout=timeout)
    except rpc.RpcError:
        return None
    try:
        body = c.call("stats", has_body=True, timeout=timeout)
        sf = body.get("serf", {}) if isinstance(body, dict) else {}
        return int(sf.get("members", 0)) - int(sf.get("failed", 0)) - int(sf.get("left", 0))
    except (rpc.RpcError, ValueError, TypeError, AttributeError):
        return None
    finally:
        c.close()


def _raise_nofile():
    try:
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    except (ImportError, ValueError, OSError):
        pass


def grow(kind, binary, steps, rundir, log, profile, cap, mem_reserve_mib, probes=None):
    """Returns {"value": largest converged N or None, "note": why it stopped, "points": [...]}
    where each point is {"n", "seconds" (from the step's first spawn to convergence),
    "spawn_seconds", "rss_mib_total", "cpu_pct_total", "private_kib_mean", "private_kib_first"
    (the first step's agents only), "pss_kib_mean", "probe_private_kib_mean"}. `probes` = (kind, binary, count): agents of another kind in the
    same cluster (module doc)."""
    _raise_nofile()
    t_start = time.monotonic()
    maxn = max(steps)
    ports = procs.alloc_ports(2 * maxn)
    gossip, rpcp = ports[:maxn], ports[maxn:]
    tag = "r%s" % kind[0]
    agents = []
    probe_agents = []
    points = []
    best, note = None, "all steps converged"
    per_agent_mib = None
    first_pids = None
    handler = os.path.join(rundir, "handler.sh")
    if not os.path.exists(handler):
        with open(handler, "w") as f:
            f.write("#!/bin/sh\ncat >/dev/null\n")
        os.chmod(handler, 0o755)
    try:
        seed = procs.spawn_agent(binary, kind, "%s-0" % tag, gossip[0], rpcp[0], rundir,
                                 os.path.join(rundir, "handler.sh"), profile=profile)
        seed.rpc = None
        agents.append(seed)
        deadline = time.monotonic() + 10
        while _stats_alive(rpcp[0], 1.0) is None:
            if not seed.alive() or time.monotonic() > deadline:
                return {"value": None, "note": "seed agent did not answer RPC: " + seed.log_tail(),
                        "points": points}
            time.sleep(0.1)
        if probes:
            pkind, pbinary, pcount = probes
            pports = procs.alloc_ports(2 * pcount)
            for j in range(pcount):
                a = procs.spawn_agent(pbinary, pkind, "%s-probe-%s-%d" % (tag, pkind, j), pports[j],
                                      pports[pcount + j], rundir, handler, join_port=gossip[0],
                                      profile=profile)
                a.rpc = None
                a.rpc_port_probe = pports[pcount + j]
                probe_agents.append(a)
        for n in sorted(steps):
            left = cap - (time.monotonic() - t_start)
            avail_mib = procs.mem_available_kib() / 1024.0
            main_n = n - len(probe_agents)   # the probes count in N
            add = main_n - len(agents)
            if per_agent_mib is not None and per_agent_mib * add * 1.25 > avail_mib - mem_reserve_mib:
                note = ("stopped before N=%d: memory ceiling (~%.0f MiB more needed, %.0f MiB to "
                        "spare)" % (n, per_agent_mib * add * 1.25, avail_mib - mem_reserve_mib))
                break
            if left < 20:
                note = "stopped before N=%d: time cap %.0f s" % (n, cap)
                break
            t0 = time.monotonic()
            # The cap is a hard limit: spawning (slow when the agents already running eat the
            # CPU) and polling both stop at the step's deadline.
            step_deadline = min(t0 + 60.0 + 0.15 * n, t_start + cap)
            for i in range(len(agents), main_n):
                if time.monotonic() >= step_deadline:
                    break
                a = procs.spawn_agent(binary, kind, "%s-%d" % (tag, i), gossip[i], rpcp[i], rundir,
                                      os.path.join(rundir, "handler.sh"), join_port=gossip[0],
                                      profile=profile)
                a.rpc = None
                agents.append(a)
            spawn_s = time.monotonic() - t0
            if len(agents) < main_n:
                note = ("N=%d not reached: only %d agents spawned within the step's %.0f s "
                        "(the running agents load the machine)" % (n, len(agents) + len(probe_agents),
                                                                   step_deadline - t0))
                log("  ramp %s N=%d: %s" % (kind, n, note))
                break
            everyone = agents + probe_agents
            ports_of = [rpcp[i] for i in range(len(agents))] + [a.rpc_port_probe for a in probe_agents]
            pending = list(range(len(everyone)))
            counts = {}
            while pending and time.monotonic() < step_deadline:
                still = []
                for i in pending:
                    if time.monotonic() >= step_deadline:
                        still.append(i)
                        continue
                    if not everyone[i].alive():
                        still.append(i)
                        continue
                    c = _stats_alive(ports_of[i], max(0.2, min(1.0, step_deadline - time.monotonic())))
                    if c is not None:
                        counts[i] = c
                    if c is None or c < n:
                        still.append(i)
                pending = still
                if pending:
                    time.sleep(0.5)
            dead = sum(1 for a in everyone if not a.alive())
            if pending:
                seen = [counts[i] for i in pending if i in counts]
                kinds = {}
                for i in pending:
                    kinds[everyone[i].kind] = kinds.get(everyone[i].kind, 0) + 1
                note = ("N=%d did not converge within %.0f s: %d agents short (%s)%s%s" % (
                    n, step_deadline - t0, len(pending),
                    ", ".join("%d %s" % (c, k) for k, c in sorted(kinds.items())),
                    (" (they listed %d..%d)" % (min(seen), max(seen))) if seen else "",
                    (", %d agents exited" % dead) if dead else ""))
                log("  ramp %s N=%d: %s" % (kind, n, note))
                break
            secs = time.monotonic() - t0
            rss = sum(procs.rss_kib(a.pid) or 0 for a in agents) / 1024.0
            sm = [procs.smaps_kib(a.pid) for a in agents]
            sm = [x for x in sm if x is not None]
            private_mean = (sum(x["private"] for x in sm) / len(sm)) if sm else None
            # The same agents at every step (those of the first step): what a member costs an
            # agent that lives through the growth, as the probes measure the other kind. The mean
            # over all agents also counts the agents that just joined by one push-pull of the
            # whole cluster, whose join left more heap behind (kept as private_kib_mean).
            if first_pids is None:
                first_pids = {a.pid for a in agents}
            fm = [procs.smaps_kib(a.pid) for a in agents if a.pid in first_pids]
            fm = [x for x in fm if x is not None]
            private_first = (sum(x["private"] for x in fm) / len(fm)) if fm else None
            pss_mean = (sum(x["pss"] for x in sm) / len(sm)) if sm else None
            psm = [procs.smaps_kib(a.pid) for a in probe_agents]
            psm = [x for x in psm if x is not None]
            probe_private = (sum(x["private"] for x in psm) / len(psm)) if psm else None
            used = avail_mib - procs.mem_available_kib() / 1024.0
            if add > 0 and used > 0:
                per_agent_mib = max(per_agent_mib or 0.0, used / add)
            c1 = {a.pid: procs.cpu_ticks(a.pid) for a in agents}
            time.sleep(2.0)
            c2 = {a.pid: procs.cpu_ticks(a.pid) for a in agents}
            cpu = sum(100.0 * ((c2[p] or 0) - (c1[p] or 0)) / procs.CLK_TCK / 2.0 for p in c1)
            points.append({"n": n, "seconds": secs, "spawn_seconds": spawn_s,
                           "rss_mib_total": rss, "cpu_pct_total": cpu,
                           "private_kib_mean": private_mean, "private_kib_first": private_first,
                           "pss_kib_mean": pss_mean,
                           "probe_private_kib_mean": probe_private})
            best = n
            log("  ramp %s N=%d: converged %.1f s after the step began (spawn %.1f s), "
                "rss total %.0f MiB, cpu %.0f %% of a core" % (kind, n, secs, spawn_s, rss, cpu))
    finally:
        procs.stop_agents(agents + probe_agents)
    return {"value": best, "note": note, "points": points}
