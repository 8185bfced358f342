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
import stat
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from stackctl.errors import LoadBalancerError
from stackctl.lb.config import os_reason

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
MAX_REQUEST = 1024 * 1024  # a whole configuration (`apply`) fits
MAX_ANSWER = 16 * 1024 * 1024
REQUEST_TIMEOUT = 10.0


def private_dir(path: Path) -> Path:
    """``path`` as a directory only we can use: made 0700 when missing, else refused unless it is a real
    directory (not a symbolic link), owned by us and closed to others (as ssh-agent and tmux check theirs),
    so that nobody else can put a socket of theirs where we look for ours."""
    try:
        os.mkdir(path, 0o700)
    except FileExistsError:
        pass
    except OSError as exc:
        raise LoadBalancerError(f"admin socket directory {path}: {os_reason(exc)}") from exc
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        kind = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a directory"
        raise LoadBalancerError(f"admin socket directory {path}: is {kind}; refusing to use it")
    if info.st_uid != os.geteuid():
        raise LoadBalancerError(f"admin socket directory {path}: owned by uid {info.st_uid}, not by us "
                                f"(uid {os.geteuid()}); refusing to use it")
    if info.st_mode & 0o077:
        raise LoadBalancerError(f"admin socket directory {path}: mode {stat.S_IMODE(info.st_mode):04o} lets "
                                "other users in (it must be 0700); refusing to use it")
    return path


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
            answer = await _answer(reader, handler)
            if answer is not None:
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


async def _answer(reader: asyncio.StreamReader, handler: Handler) -> dict[str, Any] | None:
    """The answer to one request line; None when the client sent nothing in time."""
    try:
        line = await asyncio.wait_for(reader.readline(), REQUEST_TIMEOUT)
    except (ValueError, asyncio.LimitOverrunError):  # the line is longer than the stream's limit
        return {"ok": False, "error": f"bad request: longer than {MAX_REQUEST // 1024} KiB"}
    except (TimeoutError, asyncio.IncompleteReadError):
        return None
    try:
        request = json.loads(line)
        return await handler(request if isinstance(request, dict) else {})
    except (ValueError, TypeError) as exc:
        return {"ok": False, "error": f"bad request: {exc}"}
    except Exception as exc:  # noqa: BLE001 - the balancer keeps serving whatever one request does
        return {"ok": False, "error": str(exc)}


def request(path: Path | str, cmd: str, *, timeout: float = 10.0) -> dict[str, Any]:
    """Send one command and return the answer. Raises LoadBalancerError when nobody answers."""
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(str(path))
            sock.sendall(json.dumps({"cmd": cmd}).encode() + b"\n")
            data = _receive(sock, path)
    except OSError as exc:
        raise LoadBalancerError(f"balancer admin socket {path}: {os_reason(exc)}") from exc
    try:
        answer = json.loads(data)
    except ValueError as exc:
        raise LoadBalancerError(f"balancer admin socket {path}: no valid answer to {cmd!r}") from exc
    if not isinstance(answer, dict):
        raise LoadBalancerError(f"balancer admin socket {path}: no valid answer to {cmd!r}")
    if answer.get("ok") is not True:
        raise LoadBalancerError(f"balancer: {cmd} failed: {str(answer.get('error', 'unknown error'))[:400]}")
    return dict(answer)


def _receive(sock: socket.socket, path: Path | str) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while not chunks or not chunks[-1].endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        size += len(chunk)
        if size > MAX_ANSWER:
            raise LoadBalancerError(f"balancer admin socket {path}: answer longer than "
                                    f"{MAX_ANSWER // (1024 * 1024)} MiB")
    return b"".join(chunks)
