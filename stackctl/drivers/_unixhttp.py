"""A minimal HTTP client for the engine's unix socket (standard library only).

Importing the docker SDK (requests, urllib3) and its first ``/version`` round trip cost more than
all the calls of an `up` or `down` together. Calls against a local ``unix://`` socket that take a
JSON body (or none) and answer at once go through this client: reads, and the writes of up/down
(create, start, stop, remove, networks, volumes). Streams (logs, pull, build, attach, exec) and
every other transport use the SDK.

Connections are kept alive and pooled: a thread takes an idle connection (or opens one), sends one
request, reads exactly one answer and puts the connection back.
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
import time
import urllib.parse
from collections.abc import Mapping
from typing import Any

from stackctl.errors import DriverError

# http.client would import the email package (~50 ms); the engine's answers need little parsing.


class EngineHTTPError(DriverError):
    """The engine answered an error status (``status`` 0: it answered nothing usable). Raised raw by
    this client; ``drivers._errors.translate`` re-raises it naming the step and the service."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.explanation = message


class NotFound(EngineHTTPError):
    """The engine answered 404."""

    def __init__(self, message: str) -> None:
        super().__init__(404, message)


class ImageNotFound(NotFound):
    """A 404 naming a missing image (the SDK's class of the same name: errors are translated alike)."""


class _Closed(Exception):
    """A kept-alive connection the engine had closed before answering (nothing was processed)."""


_TRACE = os.environ.get("STACKCTL_TRACE") == "1"


def _trace(sent: float, method: str, path: str, status: int) -> None:
    """STACKCTL_TRACE=1: one line per engine call on stderr (wall-clock send time, duration, status)."""
    done = time.time()
    print(f"trace {sent:.3f} {done - sent:7.3f}s {status} {method} {path} [{threading.current_thread().name}]",
          file=sys.stderr, flush=True)


class UnixClient:
    """Thread-safe; one pooled keep-alive connection per concurrent caller."""

    def __init__(self, socket_path: str, *, timeout: float = 60) -> None:
        self.socket_path, self.timeout = socket_path, timeout
        self._idle: list[socket.socket] = []
        self._lock = threading.Lock()

    def call(self, method: str, path: str, params: Mapping[str, Any] | None = None, *,
             body: Any = None, timeout: float | None = None) -> Any:
        """Send one request; the decoded JSON answer (None when empty). 404 -> NotFound, >= 400 -> EngineHTTPError."""
        request = _request(method, path, params, body)
        sent = time.time()
        status, payload = self._exchange(request, self.timeout if timeout is None else timeout)
        if _TRACE:
            _trace(sent, method, path, status)
        if status >= 400:
            message = _message(payload)
            if status == 404:
                raise (ImageNotFound if "No such image" in message else NotFound)(message)
            raise EngineHTTPError(status, message)
        return json.loads(payload) if payload.strip() else None

    def _exchange(self, request: bytes, timeout: float) -> tuple[int, bytes]:
        sock, reused = self._take()
        try:
            sock.settimeout(timeout)
            try:
                status, payload, keep = _roundtrip(sock, request)
            except _Closed:
                if not reused:
                    raise EngineHTTPError(0, "the engine closed the connection without answering") from None
                sock.close()
                sock, reused = self._connect(), False
                sock.settimeout(timeout)
                status, payload, keep = _roundtrip(sock, request)
        except BaseException:
            sock.close()
            raise
        if keep:
            with self._lock:
                self._idle.append(sock)
        else:
            sock.close()
        return status, payload

    def _take(self) -> tuple[socket.socket, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._connect(), False

    def _connect(self) -> socket.socket:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(self.timeout)
            sock.connect(self.socket_path)
        except BaseException:
            sock.close()
            raise
        return sock

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, []
        for sock in idle:
            sock.close()


def get_json(socket_path: str, path: str, params: Mapping[str, Any] | None = None, *,
             timeout: float = 60) -> Any:
    """GET ``path`` on the engine and decode the JSON answer (one connection for this call)."""
    client = UnixClient(socket_path, timeout=timeout)
    try:
        return client.call("GET", path, params)
    finally:
        client.close()


def _request(method: str, path: str, params: Mapping[str, Any] | None, body: Any) -> bytes:
    query = ""
    if params:
        query = "?" + urllib.parse.urlencode({k: json.dumps(v) if isinstance(v, (dict, list)) else v
                                              for k, v in params.items() if v is not None})
    head = f"{method} {urllib.parse.quote(path)}{query} HTTP/1.1\r\nHost: docker\r\n"
    if body is None:
        data = b""
        if method in ("POST", "PUT"):
            head += "Content-Length: 0\r\n"
    else:
        data = json.dumps(body).encode()
        head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
    return (head + "\r\n").encode() + data


class _Reader:
    """Reads one HTTP answer from a socket: up to the end of the head, then its framed body.
    A read position moves along one growing buffer (no copy of the rest for every chunk)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buf, self.pos = sock, bytearray(), 0

    def fill(self) -> bool:
        data = self.sock.recv(65536)
        self.buf += data
        return bool(data)

    def until(self, marker: bytes) -> bytes:
        while (end := self.buf.find(marker, self.pos)) < 0:
            if not self.fill():
                raise EngineHTTPError(0, "truncated answer from the engine")
        out, self.pos = bytes(self.buf[self.pos:end]), end + len(marker)
        return out

    def exactly(self, size: int) -> bytes:
        while len(self.buf) - self.pos < size:
            if not self.fill():
                raise EngineHTTPError(0, "truncated answer from the engine")
        out, self.pos = bytes(self.buf[self.pos:self.pos + size]), self.pos + size
        return out

    def rest(self) -> bytes:
        while self.fill():
            pass
        out, self.pos = bytes(self.buf[self.pos:]), len(self.buf)
        return out


def _roundtrip(sock: socket.socket, request: bytes) -> tuple[int, bytes, bool]:
    """(status, body, connection reusable)."""
    try:
        sock.sendall(request)
    except (BrokenPipeError, ConnectionResetError):
        raise _Closed from None
    reader = _Reader(sock)
    try:
        if not reader.fill():
            raise _Closed
    except ConnectionResetError:
        raise _Closed from None
    status, headers = _head(reader.until(b"\r\n\r\n"))
    keep = headers.get("connection", "").lower() != "close"
    if headers.get("transfer-encoding", "").lower() == "chunked":
        return status, _dechunk(reader), keep
    if "content-length" in headers:
        return status, reader.exactly(int(headers["content-length"])), keep
    if status in (204, 304) or 100 <= status < 200:
        return status, b"", keep
    return status, reader.rest(), False


def _head(raw: bytes) -> tuple[int, dict[str, str]]:
    lines = raw.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    return status, {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}


def _dechunk(reader: _Reader) -> bytes:
    out: list[bytes] = []
    while True:
        size = int(reader.until(b"\r\n").split(b";")[0], 16)
        if size == 0:
            reader.until(b"\r\n")  # (no trailers from the engine)
            return b"".join(out)
        out.append(reader.exactly(size))
        reader.exactly(2)


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message", ""))
    except (ValueError, AttributeError):
        return body.decode(errors="replace")
