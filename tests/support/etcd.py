"""Real etcd members on loopback for the tests: one or three, random ports, data in a temp dir.

    with EtcdCluster(tmp_path, size=3) as cluster:
        Etcd(cluster.endpoints) ...; cluster.stop(0); cluster.start(0)

Members run the Debian `etcd` (3.4) with its default timing (heartbeat 100 ms, election 1 s), as on the
managers. Clients listen on TCP and, when ``unix=True``, also on a unix socket (``cluster.sockets``).
"""

from __future__ import annotations

import json
import pathlib
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from types import TracebackType
from typing import Self

from tests.support import env

ETCD = shutil.which("etcd") or "/usr/bin/etcd"


def etcd_binary() -> str:
    if not pathlib.Path(ETCD).exists():
        env.missing("the etcd binary is not installed (apt-get install etcd-server)")
    return ETCD


def _free_ports(count: int) -> list[int]:
    socks = [socket.socket() for _ in range(count)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


class EtcdCluster:
    def __init__(self, workdir: pathlib.Path, *, size: int = 1, token: str = "stackctl-test") -> None:
        self.workdir = workdir
        self.size = size
        ports = _free_ports(2 * size)
        self.client_ports, self.peer_ports = ports[:size], ports[size:]
        self.names = [f"m{i}" for i in range(size)]
        self.token = token
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * size
        self.initial = ",".join(f"{n}=http://127.0.0.1:{p}" for n, p in zip(self.names, self.peer_ports, strict=True))

    @property
    def endpoints(self) -> list[str]:
        return [f"http://127.0.0.1:{port}" for port in self.client_ports]

    def socket_path(self, index: int) -> pathlib.Path:
        return self.workdir / f"{self.names[index]}.sock:0"  # etcd's unix URLs have the host:port form

    @property
    def sockets(self) -> list[str]:
        return [f"unix://{self.socket_path(i)}" for i in range(self.size)]

    def start(self, index: int, *, wait: bool = True) -> None:
        name = self.names[index]
        data = self.workdir / f"{name}.data"
        state = "existing" if data.exists() else "new"
        client = f"http://127.0.0.1:{self.client_ports[index]}"
        self.socket_path(index).unlink(missing_ok=True)  # left by a killed member
        log = open(self.workdir / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
        self.procs[index] = subprocess.Popen(
            [etcd_binary(), "--name", name, "--data-dir", str(data),
             "--listen-client-urls", f"{client},unix://{self.socket_path(index).name}",
             "--advertise-client-urls", client,
             "--listen-peer-urls", f"http://127.0.0.1:{self.peer_ports[index]}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer_ports[index]}",
             "--initial-cluster", self.initial, "--initial-cluster-state", state,
             "--initial-cluster-token", self.token, "--logger", "zap", "--log-outputs", "stderr"],
            stdout=log, stderr=log, start_new_session=True, cwd=self.workdir)
        log.close()
        if wait:
            self.wait_healthy([index])

    def wait_healthy(self, indexes: list[int] | None = None, *, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        for index in indexes if indexes is not None else range(self.size):
            while not self.healthy(index):
                proc = self.procs[index]
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"etcd {self.names[index]} exited: {self.log_tail(index)}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"etcd {self.names[index]} not healthy: {self.log_tail(index)}")
                time.sleep(0.05)

    def healthy(self, index: int) -> bool:
        try:
            with urllib.request.urlopen(f"{self.endpoints[index]}/health", timeout=1) as answer:
                return bool(json.load(answer).get("health") == "true")
        except (OSError, ValueError):
            return False

    def log_tail(self, index: int) -> str:
        path = self.workdir / f"{self.names[index]}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self, index: int, *, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[index]
        if proc is not None and proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(timeout=15)
        self.procs[index] = None

    def pause(self, index: int) -> None:
        """SIGSTOP: the member holds its connections open and answers nothing (a hung or partitioned host)."""
        proc = self.procs[index]
        assert proc is not None
        proc.send_signal(signal.SIGSTOP)

    def resume(self, index: int) -> None:
        proc = self.procs[index]
        assert proc is not None
        proc.send_signal(signal.SIGCONT)

    def __enter__(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        try:
            for index in range(self.size):
                self.start(index, wait=False)
            self.wait_healthy()
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        for index, proc in enumerate(self.procs):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGCONT)
            self.stop(index)

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
