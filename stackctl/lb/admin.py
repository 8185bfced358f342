"""The balancer's admin socket: a unix socket readable only by its owner, one JSON line each way.

Requests: ``{"cmd": "ping"}``, ``{"cmd": "stats"}``, ``{"cmd": "reload"}`` (re-read the config
file, apply it, answer when applied), ``{"cmd": "stop"}`` (graceful shutdown). Answers carry
``"ok": true`` plus data, or ``"ok": false, "error": "..."``.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from stackctl.errors import LoadBalancerError
from stackctl.lb.config import os_reason

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
MAX_REQUEST = 64 * 1024


async def serve(path: Path, handler: Handler) -> asyncio.AbstractServer:
    """Listen on ``path`` (made 0600 inside a directory made 0700 if we create it)."""
    if not path.parent.exists():
        path.parent.mkdir(parents=True, mode=0o700)
    if path.exists() or path.is_symlink():
        if not path.is_socket():
            raise LoadBalancerError(f"admin socket {path}: exists and is not a socket")
        path.unlink()

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            line = await reader.readline()
            try:
                request = json.loads(line)
                answer = await handler(request if isinstance(request, dict) else {})
            except (ValueError, TypeError) as exc:
                answer = {"ok": False, "error": f"bad request: {exc}"}
            except Exception as exc:  # noqa: BLE001 - the balancer keeps serving whatever one request does
                answer = {"ok": False, "error": str(exc)}
            writer.write(json.dumps(answer).encode() + b"\n")
            await writer.drain()
        except OSError:
            pass
        finally:
            writer.close()

    old_umask = os.umask(0o177)
    try:
        server = await asyncio.start_unix_server(handle, str(path), limit=MAX_REQUEST)
    except OSError as exc:
        raise LoadBalancerError(f"admin socket {path}: {os_reason(exc)}") from exc
    finally:
        os.umask(old_umask)
    os.chmod(path, 0o600)
    return server


def request(path: Path | str, cmd: str, *, timeout: float = 10.0) -> dict[str, Any]:
    """Send one command and return the answer. Raises LoadBalancerError when nobody answers."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(json.dumps({"cmd": cmd}).encode() + b"\n")
            data = b""
            while not data.endswith(b"\n"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                data += chunk
    except OSError as exc:
        raise LoadBalancerError(f"balancer admin socket {path}: {os_reason(exc)}") from exc
    try:
        answer = json.loads(data)
    except ValueError as exc:
        raise LoadBalancerError(f"balancer admin socket {path}: no valid answer to {cmd!r}") from exc
    if not answer.get("ok"):
        raise LoadBalancerError(f"balancer: {cmd} failed: {answer.get('error', 'unknown error')}")
    return dict(answer)
