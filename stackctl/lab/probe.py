"""Is a lab node's sshd, engine, etcd answering? Checked from the host, without SSH."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from stackctl.errors import LabError
from stackctl.lab.layout import ETCD_CLIENT_PORT, NodePlan


def sshd_answers(address: str, *, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((address, 22), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(4).startswith(b"SSH-")
    except OSError:
        return False


def _unix_http_get(path: str, request_path: str, *, timeout: float) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(path)
        s.sendall(f"GET {request_path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
        return _read_all(s)


def _tcp_http_get(address: str, port: int, request_path: str, *, timeout: float) -> bytes:
    with socket.create_connection((address, port), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(f"GET {request_path} HTTP/1.0\r\nHost: {address}\r\n\r\n".encode())
        return _read_all(s)


def _read_all(s: socket.socket) -> bytes:
    chunks: list[bytes] = []
    while True:
        data = s.recv(65536)
        if not data:
            return b"".join(chunks)
        chunks.append(data)


def engine_answers(node: NodePlan, *, timeout: float = 1.0) -> bool:
    try:
        reply = _unix_http_get(str(node.docker_sock), "/_ping", timeout=timeout)
    except OSError:
        return False
    return reply.startswith(b"HTTP/1.") and b" 200 " in reply.split(b"\r\n", 1)[0] + b" "


def etcd_healthy(node: NodePlan, *, timeout: float = 1.0) -> bool:
    try:
        reply = _tcp_http_get(node.address, ETCD_CLIENT_PORT, "/health", timeout=timeout)
    except OSError:
        return False
    return b'"health":"true"' in reply.replace(b" ", b"")


@dataclass(frozen=True)
class NodeHealth:
    name: str
    sshd: bool
    engine: bool
    etcd: bool | None  # None on workers

    @property
    def up(self) -> bool:
        return self.sshd and self.engine and self.etcd is not False


def health(node: NodePlan) -> NodeHealth:
    return NodeHealth(node.name, sshd_answers(node.address), engine_answers(node),
                      etcd_healthy(node) if node.is_manager else None)


def wait_until_up(nodes: Sequence[NodePlan], *, timeout: float,
                  log_tail: Callable[[NodePlan], str]) -> None:
    """Poll every node until sshd, engine and etcd (managers) answer; LabError names what did not."""
    pending = list(nodes)
    deadline = time.monotonic() + timeout
    last: dict[str, NodeHealth] = {}
    while pending:
        for node in list(pending):
            last[node.name] = h = health(node)
            if h.up:
                pending.remove(node)
        if not pending:
            return
        if time.monotonic() > deadline:
            break
        time.sleep(0.1)
    node = pending[0]
    h = last[node.name]
    what = [w for w, good in (("sshd", h.sshd), ("dockerd", h.engine), ("etcd", h.etcd)) if good is False]
    raise LabError(f"lab node {node.name}: {', '.join(what)} not answering after {timeout:g} s; "
                   f"{log_tail(node)}")
