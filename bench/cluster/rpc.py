"""Raw Serf IPC (msgpack RPC, version 1) client used by the benchmark harness.

Owns: one TCP connection to an agent's RPC address, the handshake, and request/response
round trips ("members", "event", "leave", "stats"), each bounded by a deadline. Every
response is a header map {Seq, Error} optionally followed by a body map.
"""
import socket
import time

import mpack


class RpcError(Exception):
    """Connection, timeout, protocol or agent-reported error."""


class RpcClient:
    def __init__(self, host, port, timeout=2.0):
        self.addr = (host, port)
        self.timeout = timeout
        self.seq = 0
        self.buf = bytearray()
        self.pos = 0
        try:
            self.sock = socket.create_connection(self.addr, timeout=timeout)
        except OSError as e:
            raise RpcError("connect %s:%d: %s" % (host, port, e)) from e
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            self.call("handshake", {"Version": 1})
        except RpcError:
            self.close()
            raise

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, command, body=None):
        """Sends one request; returns its sequence number."""
        seq = self.seq
        self.seq += 1
        data = mpack.packb({"Command": command, "Seq": seq})
        if body is not None:
            data += mpack.packb(body)
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise RpcError("send %s: %s" % (command, e)) from e
        return seq

    def _next_object(self, deadline):
        while True:
            try:
                obj, new_pos = mpack.unpack_from(self.buf, self.pos)
                self.pos = new_pos
                if self.pos > 1 << 20:
                    del self.buf[:self.pos]
                    self.pos = 0
                return obj
            except mpack.Incomplete:
                pass
            except mpack.Malformed as e:
                raise RpcError("malformed response: %s" % e) from e
            left = deadline - time.monotonic()
            if left <= 0:
                raise RpcError("timeout waiting for response from %s:%d" % self.addr)
            self.sock.settimeout(left)
            try:
                chunk = self.sock.recv(1 << 18)
            except socket.timeout as e:
                raise RpcError("timeout waiting for response from %s:%d" % self.addr) from e
            except OSError as e:
                raise RpcError("recv: %s" % e) from e
            if not chunk:
                raise RpcError("connection closed by %s:%d" % self.addr)
            self.buf += chunk

    def receive(self, seq, has_body, timeout=None):
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        header = self._next_object(deadline)
        if not isinstance(header, dict) or header.get("Seq") != seq:
            raise RpcError("unexpected response header %r (wanted Seq %d)" % (header, seq))
        if header.get("Error"):
            raise RpcError("agent error: %s" % header["Error"])
        return self._next_object(deadline) if has_body else None

    def call(self, command, body=None, has_body=False, timeout=None):
        seq = self.send(command, body)
        return self.receive(seq, has_body, timeout)

    def members(self, timeout=None):
        body = self.call("members", has_body=True, timeout=timeout)
        if not isinstance(body, dict) or not isinstance(body.get("Members"), list):
            raise RpcError("members: unexpected body %r" % (body,))
        return body["Members"]

    def event(self, name, payload=b"", coalesce=False):
        self.call("event", {"Name": name, "Payload": payload, "Coalesce": coalesce})

    def leave(self, timeout=None):
        self.call("leave", timeout=timeout)


def statuses(members):
    """Maps member name -> status string."""
    out = {}
    for m in members:
        if isinstance(m, dict):
            out[m.get("Name")] = m.get("Status")
    return out
