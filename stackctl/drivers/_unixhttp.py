"""A minimal read-only HTTP client for the engine's unix socket (standard library only).

`up` with nothing to change, `ps` and `logs` discovery only read state; importing the docker SDK
(requests, urllib3) costs more than all their engine calls together. Reads against a local
``unix://`` socket go through this client; every write, and every other transport, uses the SDK.
"""

from __future__ import annotations

import json
import socket
import urllib.parse
from collections.abc import Mapping
from typing import Any

# http.client would import the email package (~50 ms); one GET with `Connection: close` needs little.


class NotFound(Exception):
    """The engine answered 404."""


class EngineHTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.explanation = message


def get_json(socket_path: str, path: str, params: Mapping[str, Any] | None = None, *,
             timeout: float = 60) -> Any:
    """GET ``path`` on the engine and decode the JSON answer; one connection per call (thread-safe)."""
    query = ""
    if params:
        query = "?" + urllib.parse.urlencode({k: json.dumps(v) if isinstance(v, (dict, list)) else v
                                              for k, v in params.items()})
    request = f"GET {urllib.parse.quote(path)}{query} HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(socket_path)
        sock.sendall(request.encode())
        raw = _read_all(sock)
    status, _, body = _parse(raw)
    if status == 404:
        raise NotFound(_message(body))
    if status >= 400:
        raise EngineHTTPError(status, _message(body))
    return json.loads(body)


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while True:
        data = sock.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def _parse(raw: bytes) -> tuple[int, dict[str, str], bytes]:
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise EngineHTTPError(0, "truncated answer from the engine")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if headers.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    return status, headers, body


def _dechunk(body: bytes) -> bytes:
    out, pos = [], 0
    while True:
        end = body.index(b"\r\n", pos)
        size = int(body[pos:end].split(b";")[0], 16)
        if size == 0:
            return b"".join(out)
        out.append(body[end + 2:end + 2 + size])
        pos = end + 2 + size + 2


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message", ""))
    except (ValueError, AttributeError):
        return body.decode(errors="replace")
