"""Is a lab node's sshd, engine, etcd, agent answering? Checked from the host, without SSH.

etcd and the agent exist only where ``cluster init`` set them up (their scripts are in the node's
``/etc/stackctl``); elsewhere their state is ``None``. etcd listens on the node's loopback only, so
its health is asked from inside the node's network namespace.
"""

from __future__ import annotations

import pathlib
import socket
import subprocess
import sys
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


_ETCD_HEALTH = ("import sys, urllib.request\n"
                f"try: r = urllib.request.urlopen('http://127.0.0.1:{ETCD_CLIENT_PORT}/health', timeout=%g).read()\n"
                "except OSError: sys.exit(1)\n"
                "sys.exit(0 if b'\"health\":\"true\"' in r.replace(b' ', b'') else 1)\n")


def etcd_health(node: NodePlan, *, timeout: float = 1.0) -> bool | None:
    """None where cluster init set up no etcd member; else whether it reports itself healthy."""
    if not (node.etc_stackctl / "etcd.sh").is_file():
        return None
    try:
        out = subprocess.run(["ip", "netns", "exec", node.netns, sys.executable, "-S", "-c",
                              _ETCD_HEALTH % timeout], capture_output=True, timeout=timeout + 5, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0


def _alive(pidfile: pathlib.Path) -> bool:
    try:
        pid = int(pidfile.read_text().strip())
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, ValueError, IndexError):
        return False
    return state not in {"Z", "X"}


def agent_running(node: NodePlan) -> bool | None:
    """None where cluster init set up no agent; else whether its supervisor is alive."""
    if not (node.etc_stackctl / "agent.sh").is_file():
        return None
    return _alive(node.run_dir / "stackctl-agent.pid")


@dataclass(frozen=True)
class NodeHealth:
    name: str
    sshd: bool
    engine: bool

    @property
    def up(self) -> bool:
        return self.sshd and self.engine


def health(node: NodePlan) -> NodeHealth:
    return NodeHealth(node.name, sshd_answers(node.address), engine_answers(node))


def wait_until_up(nodes: Sequence[NodePlan], *, timeout: float,
                  log_tail: Callable[[NodePlan], str]) -> None:
    """Poll every node until sshd and engine answer; LabError names what did not."""
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
    what = [w for w, good in (("sshd", h.sshd), ("dockerd", h.engine)) if not good]
    raise LabError(f"lab node {node.name}: {', '.join(what)} not answering after {timeout:g} s; "
                   f"{log_tail(node)}")
