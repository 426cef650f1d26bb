#!/usr/bin/python3
"""Time-to-converge of N clusterd agents that find each other through a datastore (issue 14),
next to the same cluster formed with -join. One run measures, for each way of forming the
cluster and each repetition, on a fresh cluster: the seed agent is started (and, for a store,
registered: its row is listed by `clusterd store list`), then the other N-1 agents are spawned
at once, each with the same flags; the figure is the time from the first spawn until every agent's
`members` lists N alive (the same measure as bench/cluster/run.py's join convergence).

    bench/cluster/discovery.py [--n 32] [--reps 3] [--stores join,sqlite,postgres,etcd] [--quick]

The stores are real servers this script starts and stops by PID: PostgreSQL (initdb + postgres
as the `postgres` user in a temp dir, loopback port, password auth) and a single-member etcd on
loopback ports; SQLite is a file in the run directory. Every repetition uses a fresh registry (a
new SQLite file, a new PostgreSQL database, a new etcd prefix): killed agents leave rows behind.
Needs root (the postgres user). Writes bench/results/discovery.{md,json} (or --out).
"""
import argparse
import datetime
import glob
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import procs  # noqa: E402
from cluster import Cluster, Timeout, summary  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PASSWORD = "bench-Pw-14"


def log(msg):
    print("[%s] %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait(pred, timeout, step=0.2):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(step)
    return pred()


def stop_proc(p, sig=signal.SIGTERM, grace=15.0):
    if p is None or p.poll() is not None:
        return
    p.send_signal(sig)
    try:
        p.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait(timeout=5)


class Postgres:
    def __init__(self, rundir):
        bins = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not bins:
            raise RuntimeError("PostgreSQL not installed (scripts/setup.sh)")
        self.bin = os.path.dirname(bins[-1])
        self.dir = tempfile.mkdtemp(prefix="pg-", dir=rundir)
        os.chmod(self.dir, 0o711)
        with open(os.path.join(self.dir, "pw"), "w") as f:
            f.write(PASSWORD + "\n")
        subprocess.run(["chown", "-R", "postgres:postgres", self.dir], check=True)
        self.port = free_port()
        subprocess.run(self._as_pg([self.bin + "/initdb", "-D", self.dir + "/data", "-U", "kong",
                                    "--pwfile=" + self.dir + "/pw", "--auth=scram-sha-256"]),
                       check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=120)
        self.log = open(os.path.join(self.dir, "postgres.log"), "wb")
        self.proc = subprocess.Popen(
            self._as_pg([self.bin + "/postgres", "-D", self.dir + "/data", "-p", str(self.port),
                         "-k", self.dir, "-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"]),
            stdout=self.log, stderr=subprocess.STDOUT)
        ready = [self.bin + "/pg_isready", "-q", "-h", "127.0.0.1", "-p", str(self.port)]
        if not wait(lambda: subprocess.run(ready).returncode == 0, 30):
            raise RuntimeError("PostgreSQL did not start")

    @staticmethod
    def _as_pg(argv):
        return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] + argv

    def new_database(self, name):
        env = dict(os.environ, PGPASSWORD=PASSWORD)
        subprocess.run([self.bin + "/psql", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "kong",
                        "-d", "postgres", "-c", "CREATE DATABASE %s" % name],
                       check=True, env=env, stdout=subprocess.DEVNULL, timeout=30)
        return "postgres://kong:%s@127.0.0.1:%d/%s?sslmode=disable" % (PASSWORD, self.port, name)

    def stop(self):
        stop_proc(self.proc, signal.SIGINT)
        self.log.close()


class Etcd:
    def __init__(self, rundir):
        if not shutil.which("etcd"):
            raise RuntimeError("etcd not installed (scripts/setup.sh)")
        self.dir = tempfile.mkdtemp(prefix="etcd-", dir=rundir)
        self.port, peer = free_port(), free_port()
        self.log = open(os.path.join(self.dir, "etcd.log"), "wb")
        self.proc = subprocess.Popen(
            ["etcd", "--name", "b0", "--data-dir", self.dir + "/data",
             "--listen-client-urls", "http://127.0.0.1:%d" % self.port,
             "--advertise-client-urls", "http://127.0.0.1:%d" % self.port,
             "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
             "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
             "--initial-cluster", "b0=http://127.0.0.1:%d" % peer],
            stdout=self.log, stderr=subprocess.STDOUT)

        def healthy():
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as s:
                    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                    return b'"health":"true"' in s.recv(4096)
            except OSError:
                return False
        if not wait(healthy, 30):
            raise RuntimeError("etcd did not start")

    def url(self, prefix):
        return "etcd://127.0.0.1:%d/%s" % (self.port, prefix)

    def stop(self):
        stop_proc(self.proc)
        self.log.close()


def store_rows(clusterd, rpc_port):
    r = subprocess.run([clusterd, "store", "list", "-format", "json", "-rpc-addr=127.0.0.1:%d" % rpc_port],
                       capture_output=True, text=True, timeout=10)
    if r.returncode != 0:
        return []
    try:
        return [row["name"] for row in json.loads(r.stdout)["rows"] if not row.get("problem")]
    except (ValueError, KeyError):
        return []


def one(clusterd, way, n, rep, rundir, stores):
    sub = os.path.join(rundir, "%s-%d" % (way, rep))
    os.makedirs(sub)
    extra, join = [], True
    if way != "join":
        join = False
        if way == "sqlite":
            url = "sqlite:" + os.path.join(sub, "nodes.db")
        elif way == "postgres":
            url = stores["postgres"].new_database("bench_r%d" % rep)
        else:
            url = stores["etcd"].url("bench-r%d" % rep)
        extra = ["-datastore=" + url]
    c = Cluster("clusterd", clusterd, n, sub, log)

    def registered(seed):
        # The seed must be in the registry before the others look.
        if not wait(lambda: seed.name in store_rows(clusterd, seed.rpc_port), 30):
            raise Timeout("the seed never appeared in the store", "seed not registered")
    try:
        return c.start(60.0, extra=extra, join=join, before_joiners=None if join else registered)
    finally:
        c.stop()


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clusterd", default=os.path.join(ROOT, "build/release/src/clusterd"))
    p.add_argument("--n", type=int, default=32)
    p.add_argument("--reps", type=int, default=3)
    p.add_argument("--stores", default="join,sqlite,postgres,etcd")
    p.add_argument("--quick", action="store_true", help="N=4, one repetition")
    p.add_argument("--out", default=os.path.join(ROOT, "bench/results"))
    a = p.parse_args(argv)
    if a.quick:
        a.n, a.reps = 4, 1
    ways = [w for w in a.stores.split(",") if w]
    rundir = tempfile.mkdtemp(prefix="clusterd-discovery-")
    os.chmod(rundir, 0o711)
    stores, res, problems = {}, {}, []
    t_begin = time.monotonic()
    try:
        if "postgres" in ways:
            stores["postgres"] = Postgres(rundir)
        if "etcd" in ways:
            stores["etcd"] = Etcd(rundir)
        for way in ways:
            samples = []
            for rep in range(a.reps):
                try:
                    s = one(a.clusterd, way, a.n, rep, rundir, stores)
                    samples.append(s)
                    log("%-8s N=%d rep %d: converged in %.2f s" % (way, a.n, rep + 1, s))
                except Timeout as e:
                    problems.append("%s rep %d: %s" % (way, rep + 1, e))
                    log("%-8s N=%d rep %d: %s" % (way, a.n, rep + 1, e))
            res[way] = samples
    finally:
        for s in stores.values():
            s.stop()
        procs.kill_all()
        shutil.rmtree(rundir, ignore_errors=True)
    base = summary(res.get("join", []))
    rows = []
    for way in ways:
        sm = summary(res[way])
        if sm is None:
            rows.append("| %s | no convergence | |" % way)
            continue
        lo, med, hi = sm
        ratio = ("%.2fx" % (med / base[1])) if base and way != "join" else ""
        rows.append("| %s | %.2f / %.2f / %.2f | %s |" % (
            "`-join` (baseline)" if way == "join" else way, lo, med, hi, ratio))
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    md = ("## Discovery through a datastore: time to converge, N = %d (%s)\n\n"
          "clusterd %s, %d repetition(s), seconds min / median / max from spawning agents "
          "1..N-1 until every agent lists N alive.\n\n"
          "| formed with | seconds | vs -join median |\n|---|---|---|\n%s\n"
          % (a.n, when, a.clusterd, a.reps, "\n".join(rows)))
    os.makedirs(a.out, exist_ok=True)
    name = "discovery-quick" if a.quick else "discovery"
    with open(os.path.join(a.out, name + ".md"), "w") as f:
        f.write(md)
    with open(os.path.join(a.out, name + ".json"), "w") as f:
        json.dump({"n": a.n, "reps": a.reps, "when": when, "samples": res, "problems": problems,
                   "seconds": time.monotonic() - t_begin}, f, indent=1)
    print(md)
    for pr in problems:
        print("PROBLEM: " + pr)
    return 1 if problems or any(not res.get(w) for w in ways) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
