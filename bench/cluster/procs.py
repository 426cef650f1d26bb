"""Agent processes for the benchmark: port allocation, spawning, PID tracking and cleanup.

Owns: every process the harness starts. Each agent runs in its own session (process group =
its PID) with PR_SET_PDEATHSIG=SIGKILL, is recorded in a global registry, and is killed
(group first, then the PID) and reaped by kill_all(), which run.py calls from finally, atexit
and its signal handlers. sweep_marker() kills anything still carrying the run directory in its
command line (an agent's event-handler path) as a last resort.
"""
import ctypes
import os
import random
import signal
import socket
import subprocess
import time

_REGISTRY = []          # every Popen ever started by this harness
_LIBC = None


def _pdeathsig():
    global _LIBC
    try:
        if _LIBC is None:
            _LIBC = ctypes.CDLL(None, use_errno=True)
        _LIBC.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001 - best effort, the tracked-PID cleanup still applies
        pass


def _free(port):
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        finally:
            s.close()
    return True


def alloc_ports(count, lo=10000, hi=32000, tries=40):
    """Returns `count` consecutive free loopback ports below the ephemeral range."""
    rng = random.Random(os.getpid() ^ int(time.time() * 1000))
    for _ in range(tries):
        base = rng.randrange(lo, hi - count)
        if all(_free(p) for p in range(base, base + count)):
            return list(range(base, base + count))
    raise RuntimeError("no block of %d free loopback ports" % count)


class Agent:
    def __init__(self, kind, name, gossip_port, rpc_port, proc, log_path):
        self.kind = kind
        self.name = name
        self.gossip_port = gossip_port
        self.rpc_port = rpc_port
        self.proc = proc
        self.log_path = log_path
        self.rpc = None

    @property
    def pid(self):
        return self.proc.pid

    def alive(self):
        return self.proc.poll() is None

    def log_tail(self, n=5):
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read()[-4000:].decode(errors="replace").splitlines()
            return " | ".join(x.strip() for x in lines[-n:])
        except OSError:
            return ""


def spawn_agent(binary, kind, name, gossip_port, rpc_port, rundir, handler, join_port=None,
                profile="lan", extra=()):
    cmd = [binary, "agent", "-node=" + name, "-bind=127.0.0.1:%d" % gossip_port,
           "-rpc-addr=127.0.0.1:%d" % rpc_port, "-profile=" + profile,
           "-log-level=warn", "-event-handler=user=" + handler]
    if join_port is not None:
        cmd.append("-join=127.0.0.1:%d" % join_port)
    cmd.extend(extra)
    log_path = os.path.join(rundir, name + ".log")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                cwd=rundir, start_new_session=True, preexec_fn=_pdeathsig)
    _REGISTRY.append(proc)
    return Agent(kind, name, gossip_port, rpc_port, proc, log_path)


def kill_agent(agent, sig=signal.SIGKILL):
    kill_proc(agent.proc, sig)


def kill_proc(proc, sig=signal.SIGKILL):
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, sig)
    except OSError:
        pass
    try:
        proc.send_signal(sig)
    except OSError:
        pass


def reap(proc, timeout=5.0):
    try:
        proc.wait(timeout=timeout)
        return True
    except subprocess.TimeoutExpired:
        return False


def stop_agents(agents):
    """SIGKILLs agents (and their process groups: handler children) and reaps them."""
    for a in agents:
        if a.rpc is not None:
            a.rpc.close()
            a.rpc = None
        kill_agent(a)
        # the group may outlive the leader (a running handler child)
        try:
            os.killpg(a.pid, signal.SIGKILL)
        except OSError:
            pass
    for a in agents:
        reap(a.proc)


def kill_all():
    """Kills and reaps every process this harness ever started. Idempotent."""
    for proc in _REGISTRY:
        kill_proc(proc)
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except OSError:
            pass
    for proc in _REGISTRY:
        reap(proc, 2.0)


def sweep_marker(marker):
    """Kills processes whose command line contains `marker` (the unique run directory).
    Returns how many were found; 0 means nothing was left behind."""
    found = 0
    me = os.getpid()
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == me:
            continue
        try:
            with open("/proc/%s/cmdline" % entry, "rb") as f:
                cmdline = f.read()
        except OSError:
            continue
        if marker.encode() in cmdline:
            found += 1
            try:
                os.kill(int(entry), signal.SIGKILL)
            except OSError:
                pass
    return found


def cpu_ticks(pid):
    """utime+stime of a process in clock ticks, or None if it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except (OSError, IndexError, ValueError):
        return None


def rss_kib(pid, field="VmRSS:"):
    """A memory line of /proc/<pid>/status in KiB: VmRSS (all resident pages, shared library
    text included) or RssAnon (the process's private heap/stack: what each agent adds)."""
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError):
        return None
    return None


def smaps_kib(pid):
    """PSS and private bytes of a process in KiB from /proc/<pid>/smaps_rollup: `pss` divides
    every shared page among the processes mapping it (N agents of one binary share its text),
    `private` is Private_Clean + Private_Dirty (pages only this process maps: what one more agent
    costs). None when the process is gone or the kernel lacks smaps_rollup."""
    vals = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                    vals[parts[0][:-1]] = int(parts[1])
    except OSError:
        return None
    if "Pss" not in vals:
        return None
    return {"pss": vals["Pss"], "private": vals.get("Private_Clean", 0) + vals.get("Private_Dirty", 0)}


def mem_available_kib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


CLK_TCK = os.sysconf("SC_CLK_TCK")
