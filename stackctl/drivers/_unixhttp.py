"""A minimal read-only HTTP client for the engine's unix socket (standard library only).

`up` with nothing to change, `ps` and `logs` discovery only read state; importing the docker SDK
(requests, urllib3) costs more than all their engine calls together. Reads against a local
``unix://`` socket go through this client; every write, and every other transport, uses the SDK.
"""

from __future__ import annotations

import http.client
import json
import socket
import urllib.parse
from collections.abc import Mapping
from typing import Any


class NotFound(Exception):
    """The engine answered 404."""


class EngineHTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.explanation = message


class _UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


def get_json(socket_path: str, path: str, params: Mapping[str, Any] | None = None, *,
             timeout: float = 60) -> Any:
    """GET ``path`` on the engine and decode the JSON answer; one connection per call (thread-safe)."""
    query = ""
    if params:
        query = "?" + urllib.parse.urlencode({k: json.dumps(v) if isinstance(v, (dict, list)) else v
                                              for k, v in params.items()})
    conn = _UnixConnection(socket_path, timeout)
    try:
        conn.request("GET", path + query, headers={"Host": "docker"})
        resp = conn.getresponse()
        body = resp.read()
    finally:
        conn.close()
    if resp.status == 404:
        raise NotFound(_message(body))
    if resp.status >= 400:
        raise EngineHTTPError(resp.status, _message(body))
    return json.loads(body)


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("message", ""))
    except (ValueError, AttributeError):
        return body.decode(errors="replace")
