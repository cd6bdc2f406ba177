"""An HTTP proxy on 127.0.0.1 that injects faults in front of an S3 endpoint.

    proxy = FaultProxy(upstream_port, fault_rate=0.1, seed=1).start()
    storage_options = {..., "client_kwargs": {"endpoint_url": proxy.endpoint_url}}

Each request is forwarded to the upstream endpoint (the local moto server)
unless the dice say otherwise; then one of these faults happens instead, the
kinds object stores really produce:

``503``      a ``SlowDown`` error response (throttling), the request not forwarded
``500``      an ``InternalError`` response, the request not forwarded
``reset``    the connection closed with a TCP reset before any answer
``applied_reset``  the request forwarded (a PUT is applied) and the connection reset
             before the answer: the client cannot tell whether it happened
``truncate`` the upstream answer with its body cut in half, the connection closed
``delay``    the answer held back for ``delay`` seconds, then sent whole

``only`` (a predicate of the method and the request's headers, a dict with
lower-case names) limits the faults to the requests it accepts; ``ranges``
lists the ``Range`` header of every GET seen (None for a whole object).

``black_hole = True`` makes it accept connections, read requests and never
answer (a dead endpoint behind a live load balancer).  ``counts`` says how many
requests it saw and how many faults of each kind it injected; ``take()`` gives
the requests by HTTP method (with ``fault_rate=0`` it is a request counter that
sees every client library alike).  Tests use it
in-process (it runs in daemon threads); it never connects anywhere but the
upstream port on 127.0.0.1.
"""
from __future__ import annotations

import collections
import http.client
import random
import socket
import socketserver
import struct
import threading
import time

__all__ = ["BlackHole", "FaultProxy"]

HOST = "127.0.0.1"
FAULTS = ("503", "500", "reset", "applied_reset", "truncate", "delay")
_ERROR_BODY = ('<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
               "<Message>injected by fault_proxy</Message></Error>")
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "te", "upgrade"}


def _read_request(rfile, wfile):
    """(method, target, version, headers list, body) of the next request, or None at EOF.
    A client that sent ``Expect: 100-continue`` (botocore's PUTs) is told to go on."""
    line = rfile.readline(65537)
    if not line:
        return None
    method, target, version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    headers = []
    while True:
        h = rfile.readline(65537)
        if h in (b"\r\n", b"\n", b""):
            break
        name, _, value = h.decode("latin-1").partition(":")
        headers.append((name.strip(), value.strip()))
    lower = {k.lower(): v for k, v in headers}
    if lower.get("expect", "").lower() == "100-continue":
        wfile.write(b"HTTP/1.1 100 Continue\r\n\r\n")
        wfile.flush()
        headers = [(k, v) for k, v in headers if k.lower() != "expect"]
    if lower.get("transfer-encoding", "").lower() == "chunked":
        parts = []
        while True:
            size = int(rfile.readline().split(b";")[0], 16)
            if size == 0:
                while rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                break
            parts.append(rfile.read(size))
            rfile.readline()
        body = b"".join(parts)
        headers = [(k, v) for k, v in headers if k.lower() != "transfer-encoding"]
        headers.append(("Content-Length", str(len(body))))
    else:
        body = rfile.read(int(lower.get("content-length", 0) or 0))
    return method, target, version, headers, body


def _reset(sock) -> None:
    """Close with a TCP reset (SO_LINGER 0), as a crashed peer or middlebox does."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass


class _Handler(socketserver.StreamRequestHandler):
    def handle(self):
        proxy: FaultProxy = self.server.proxy
        upstream = None
        try:
            while True:
                request = _read_request(self.rfile, self.wfile)
                if request is None:
                    return
                lower = {k.lower(): v for k, v in request[3]}
                proxy.saw(request[0], lower)
                if proxy.black_hole:
                    while proxy.black_hole and not proxy.stopping:
                        time.sleep(0.05)
                    return
                fault = proxy.roll(request[0], lower)
                if fault in ("503", "500"):
                    code = "SlowDown" if fault == "503" else "InternalError"
                    body = _ERROR_BODY.format(code=code).encode()
                    reason = "Slow Down" if fault == "503" else "Internal Server Error"
                    if request[0] == "HEAD":  # a HEAD answer has no body
                        body = b""
                    self.wfile.write(f"HTTP/1.1 {fault} {reason}\r\nContent-Type: application/xml\r\n"
                                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
                    self.wfile.flush()
                    continue
                if fault == "reset":
                    _reset(self.connection)
                    return
                if upstream is None:
                    upstream = http.client.HTTPConnection(HOST, proxy.upstream_port, timeout=60)
                status, reason, headers, body = self._forward(upstream, request)
                if fault == "applied_reset":
                    _reset(self.connection)
                    return
                if fault == "delay":
                    time.sleep(proxy.delay)
                is_head = request[0] == "HEAD"  # its Content-Length is the object's, with no body
                head = f"HTTP/1.1 {status} {reason}\r\n" + "".join(
                    f"{k}: {v}\r\n" for k, v in headers
                    if k.lower() not in _HOP_HEADERS | ({"content-length"} if not is_head else set()))
                head += "\r\n" if is_head else f"Content-Length: {len(body)}\r\n\r\n"
                if fault == "truncate" and len(body) > 1:
                    self.wfile.write(head.encode("latin-1") + body[:len(body) // 2])
                    self.wfile.flush()
                    return
                self.wfile.write(head.encode("latin-1") + body)
                self.wfile.flush()
        except (OSError, ValueError):
            return
        finally:
            if upstream is not None:
                upstream.close()

    @staticmethod
    def _forward(upstream, request):
        method, target, _, headers, body = request
        upstream.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        for k, v in headers:
            if k.lower() not in _HOP_HEADERS:
                upstream.putheader(k, v)
        upstream.endheaders(body if body or method in ("PUT", "POST") else None)
        resp = upstream.getresponse()
        data = resp.read()
        return resp.status, resp.reason, resp.getheaders(), data


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


class FaultProxy:
    """The proxy: ``start()``, ``endpoint_url``, ``counts``, ``black_hole``, ``stop()``."""

    def __init__(self, upstream_port: int, fault_rate: float = 0.1, *, seed: int = 0,
                 faults: tuple = FAULTS, delay: float = 0.5, only=None):
        self.upstream_port = upstream_port
        self.fault_rate = fault_rate
        self.faults = tuple(faults)
        self.delay = delay
        self.only = only
        self.ranges: list = []
        self.black_hole = False
        self.stopping = False
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self.counts: collections.Counter = collections.Counter()
        self.methods: collections.Counter = collections.Counter()
        self._server: _Server | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self._server.server_address[1]}"

    def saw(self, method: str, headers: dict | None = None) -> None:
        with self._lock:
            self.methods[method] += 1
            if method == "GET":
                self.ranges.append((headers or {}).get("range"))

    def take(self) -> dict:
        """Requests by HTTP method since the last ``take()`` (whatever client sent them)."""
        with self._lock:
            out = dict(self.methods)
            self.methods.clear()
            return out

    def roll(self, method: str = "GET", headers: dict | None = None) -> str | None:
        """The fault for the next request (None: forward it untouched); counted."""
        with self._lock:
            self.counts["requests"] += 1
            if self.only is not None and not self.only(method, headers or {}):
                return None
            if self._rng.random() >= self.fault_rate:
                return None
            fault = self._rng.choice(self.faults)
            self.counts[fault] += 1
            return fault

    def start(self) -> "FaultProxy":
        self._server = _Server((HOST, 0), _Handler)
        self._server.proxy = self
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.stopping = True
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> "FaultProxy":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


class BlackHole:
    """A socket on 127.0.0.1 that accepts connections and never answers."""

    def __init__(self):
        self._sock = socket.socket()
        self._sock.bind((HOST, 0))
        self._sock.listen(512)
        self._accepted: list = []
        self._stop = False

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self._sock.getsockname()[1]}"

    def _accept(self) -> None:
        while not self._stop:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            self._accepted.append(conn)  # held open, never read or answered

    def __enter__(self) -> "BlackHole":
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop = True
        self._sock.close()
        for conn in self._accepted:
            conn.close()
