#!/usr/bin/env python3
"""Drives the clusterd status page in a real headless Chromium over the DevTools protocol.

Chromium is started with --remote-debugging-pipe: it reads protocol messages (JSON, each ended
by a NUL byte) from its fd 3 and writes answers to its fd 4, so no websocket client and no
network port are needed (Python standard library only).

Steps: open --url, wait until the member table lists --expect members, all alive, and the page
says it is live (EventSource open); mark the document; print "READY alive=N" (the test then
kills an agent); wait until a row turns "failed" in the same document (no reload: the mark is
still there); print "FAILED name=X"; save screenshots (desktop and phone widths) in --out.
Exit 0 on success, 1 on a timeout or a broken expectation, 2 when Chromium cannot be driven.
"""
import argparse
import base64
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time

STATE_JS = """JSON.stringify({
  rows: Array.from(document.querySelectorAll('#members tbody tr')).map(function (r) {
    return [r.getAttribute('data-name'), r.getAttribute('data-status')]; }),
  live: document.getElementById('live').getAttribute('data-state'),
  summary: document.getElementById('summary').textContent,
  circles: document.querySelectorAll('#plot circle').length,
  mark: window.__cdpMark || null })"""


class Cdp:
    def __init__(self, wfd, rfd):
        self.w, self.r, self.buf, self.next_id = wfd, rfd, b"", 0

    def call(self, method, params=None, session=None, timeout=15.0):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            m = self._recv(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})

    def _recv(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from chromium")
            ready, _, _ = select.select([self.r], [], [], left)
            if ready:
                chunk = os.read(self.r, 1 << 16)
                if not chunk:
                    raise RuntimeError("chromium closed the protocol pipe")
                self.buf += chunk
        msg, _, self.buf = self.buf.partition(b"\0")
        return json.loads(msg)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--expect", type=int, default=5)
    ap.add_argument("--timeout", type=float, default=30.0)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))  # so `finally` stops chromium

    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        print("chromium not found (scripts/setup.sh installs it)", flush=True)
        return 2
    os.makedirs(a.out, exist_ok=True)
    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=a.out)
    to_r, to_w = os.pipe()
    from_r, from_w = os.pipe()
    # Move the child's ends out of the way of 3 and 4, then put them there in the child.
    child_in, child_out = os.dup(to_r), os.dup(from_w)
    hi_in, hi_out = os.dup2(child_in, 100), os.dup2(child_out, 101)

    def fds():
        os.dup2(hi_in, 3)
        os.dup2(hi_out, 4)

    log = open(os.path.join(a.out, "chromium.log"), "wb")
    proc = subprocess.Popen(
        [browser, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
         "--remote-debugging-pipe", "--user-data-dir=" + profile, "--no-first-run",
         "--no-default-browser-check", "--disable-extensions", "--disable-background-networking",
         "--disable-sync", "--disable-component-update", "--mute-audio", "about:blank"],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log, preexec_fn=fds, pass_fds=(3, 4),
        close_fds=True)
    for fd in (to_r, from_w, child_in, child_out, hi_in, hi_out):
        os.close(fd)
    print("chromium pid %d" % proc.pid, flush=True)
    cdp = Cdp(to_w, from_r)
    state = {}
    try:
        target = cdp.call("Target.createTarget", {"url": "about:blank"}, timeout=30)["targetId"]
        s = cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        cdp.call("Page.enable", session=s)
        cdp.call("Emulation.setDeviceMetricsOverride",
                 {"width": 1100, "height": 640, "deviceScaleFactor": 1, "mobile": False}, session=s)
        cdp.call("Page.navigate", {"url": a.url}, session=s)

        def read_state():
            r = cdp.call("Runtime.evaluate", {"expression": STATE_JS, "returnByValue": True}, session=s)
            v = r.get("result", {}).get("value")
            return json.loads(v) if isinstance(v, str) else {}

        def wait(pred, what):
            nonlocal state
            deadline = time.monotonic() + a.timeout
            while time.monotonic() < deadline:
                state = read_state()
                if pred(state):
                    return True
                time.sleep(0.1)
            print("TIMEOUT waiting for %s; last state: %s" % (what, json.dumps(state)), flush=True)
            return False

        def shot(name):
            data = cdp.call("Page.captureScreenshot", {"format": "png"}, session=s)["data"]
            with open(os.path.join(a.out, name), "wb") as f:
                f.write(base64.b64decode(data))

        def all_alive(st):
            rows = st.get("rows") or []
            return (len(rows) == a.expect and all(r[1] == "alive" for r in rows)
                    and st.get("live") == "live" and st.get("circles", 0) == a.expect)

        if not wait(all_alive, "%d alive members and a live stream" % a.expect):
            return 1
        cdp.call("Runtime.evaluate", {"expression": "window.__cdpMark = 'same-document'"}, session=s)
        shot("status_page_alive.png")
        print("READY alive=%d summary=%s" % (a.expect, state.get("summary")), flush=True)

        if not wait(lambda st: any(r[1] == "failed" for r in st.get("rows") or []), "a failed member"):
            return 1
        if state.get("mark") != "same-document":
            print("the page was reloaded (mark lost): %s" % json.dumps(state), flush=True)
            return 1
        failed = [r[0] for r in state["rows"] if r[1] == "failed"]
        time.sleep(0.3)  # let the plot redraw before the picture
        shot("status_page_failed.png")
        cdp.call("Emulation.setDeviceMetricsOverride",
                 {"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": True}, session=s)
        time.sleep(0.2)
        shot("status_page_phone.png")
        print("FAILED name=%s summary=%s" % (",".join(failed), state.get("summary")), flush=True)
        return 0
    except (RuntimeError, TimeoutError, OSError, KeyError, ValueError) as e:
        print("DevTools error: %s" % e, flush=True)
        return 2
    finally:
        try:
            cdp.call("Browser.close", timeout=3)
        except Exception:  # already gone
            pass
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
        shutil.rmtree(profile, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
