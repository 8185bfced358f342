"""What the native engine adds over the asyncio one: a small footprint per connection and no spinning
when descriptors run out (`stackctl lb serve` as a real process; the shared behaviour is in test_proxy)."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from stackctl.lb import native
from tests.integration.lb.servers import ask_blocking as ask
from tests.integration.lb.servers import backend_process, free_port, serve_process
from tests.support.env import missing


@pytest.fixture(autouse=True)
def _built() -> None:
    if not native.available():
        missing("the native engine (stackctl.lb._relay) is not built")


def serve(tmp: Path, port: int, backend: int, *, fd_limit: int | None = None) -> subprocess.Popen[str]:
    config = tmp / "lb.yaml"
    config.write_text(f"listeners:\n  web:\n    bind: 127.0.0.1:{port}\n    backends: [127.0.0.1:{backend}]\n"
                      "    engine: native\n    health: false\n")
    limit = () if fd_limit is None else ("prlimit", f"--nofile={fd_limit}")
    return serve_process(config, tmp, "--admin", str(tmp / "admin.sock"), prefix=limit)


def rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100


def test_idle_connections_cost_well_under_a_kilobyte_each(tmp_path: Path) -> None:
    port = free_port()
    with backend_process("a") as (_, backend):
        proc = serve(tmp_path, port, backend)
        try:
            assert ask(port) == "a hi"
            before = rss_kb(proc.pid)
            held = []
            for _ in range(2000):
                held.append(socket.create_connection(("127.0.0.1", port), timeout=5))
            assert ask(port) == "a hi"  # all accepted and connected by now
            grown = rss_kb(proc.pid) - before
            assert grown < 2000 * 1, f"{grown} kB for 2000 idle connections"
            for sock in held:
                sock.close()
        finally:
            proc.kill()
            proc.wait()


def test_running_out_of_descriptors_pauses_accepting_instead_of_spinning(tmp_path: Path) -> None:
    port = free_port()
    with backend_process("a") as (_, backend):
        proc = serve(tmp_path, port, backend, fd_limit=96)
        try:
            held = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(80)]
            time.sleep(0.3)  # the balancer has used up its descriptors; the rest wait in the backlog
            cpu = cpu_seconds(proc.pid)
            time.sleep(1.0)
            assert cpu_seconds(proc.pid) - cpu < 0.3  # paused, not polling a readable socket
            for sock in held:
                sock.close()
            assert ask(port) == "a hi"  # accepting again once descriptors are free
        finally:
            proc.kill()
            proc.wait()
