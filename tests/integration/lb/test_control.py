"""The API the compose engine calls: a detached balancer per project, scaled under load, stopped."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from stackctl.errors import LoadBalancerError
from stackctl.lb import control
from stackctl.lb.config import Address, BackendSpec, HealthCheck, Listener
from tests.integration.lb.servers import backend_process, free_port

REPO = Path(__file__).resolve().parents[3]


def specs(ports: list[int]) -> list[BackendSpec]:
    return [BackendSpec(Address("127.0.0.1", p)) for p in ports]


def web(port: int, backends: list[int], name: str = "web") -> Listener:
    return Listener(name=name, bind=Address("127.0.0.1", port), backends=tuple(specs(backends)),
                    health=HealthCheck(interval=0.5, timeout=0.5, rise=1, fall=1))


class Load:
    """Clients sending one line per new connection, as fast as they can, noting who answered when."""

    def __init__(self, port: int, clients: int = 4) -> None:
        self.port = port
        self.served: list[tuple[float, str]] = []  # (when the request started, who answered)
        self.failed: list[str] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._run) for _ in range(clients)]

    def _run(self) -> None:
        while not self.stop.is_set():
            started = time.monotonic()
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=5) as sock:
                    sock.sendall(b"req\n")
                    answer = sock.makefile().readline()
                if answer.endswith(" req\n"):
                    self.served.append((started, answer.split()[0]))
                else:
                    self.failed.append(repr(answer))
            except OSError as exc:
                self.failed.append(repr(exc))

    def between(self, start: float, end: float) -> set[str]:
        """Who served the requests that started in [start, end)."""
        return {name for started, name in list(self.served) if start <= started < end}

    def __enter__(self) -> Load:  # noqa: PYI034
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=10)


def test_scaling_up_and_down_under_steady_load_loses_no_request(tmp_path: Path) -> None:
    port = free_port()
    with contextlib.ExitStack() as stack:
        procs = {f"r{i}": stack.enter_context(backend_process(f"r{i}")) for i in range(5)}
        ports = {name: p for name, (_, p) in procs.items()}
        info = control.ensure_balancer("shop", [web(port, [ports["r0"], ports["r1"], ports["r2"]])],
                                       state_dir=tmp_path)
        try:
            with Load(port) as load:
                t0 = time.monotonic()
                time.sleep(0.5)
                t_up = time.monotonic()
                control.update_backends("shop", {"web": specs(list(ports.values()))}, state_dir=tmp_path)
                t1 = time.monotonic()  # scaled up to 5: applied when update_backends returns
                time.sleep(0.8)
                control.update_backends("shop", {"web": specs([ports["r3"]])}, state_dir=tmp_path)
                t2 = time.monotonic()  # scaled down to 1
                removed = [Address("127.0.0.1", ports[n]) for n in ("r0", "r1", "r2", "r4")]
                assert control.wait_drained("shop", "web", removed, state_dir=tmp_path, timeout=10)
                for name in ("r0", "r1", "r2", "r4"):
                    procs[name][0].kill()  # the replicas go away, as `scale` removes containers
                time.sleep(0.5)
                t3 = time.monotonic()
            # A request that started just before the update may be placed just after it is applied:
            # leave a margin (the proxy picks a backend when it accepts, not when the client starts).
            assert load.between(t0, t_up - 0.15) == {"r0", "r1", "r2"}
            assert load.between(t1, t2) == {"r0", "r1", "r2", "r3", "r4"}
            assert load.between(t2, t3) == {"r3"}
            assert load.failed == []
            assert len(load.served) > 100
            stats = control.balancer_stats("shop", state_dir=tmp_path)
            assert stats is not None and [b["address"] for b in stats[0]["backends"]] == [f"127.0.0.1:{ports['r3']}"]
        finally:
            assert control.stop_balancer("shop", state_dir=tmp_path, timeout=10)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2)
    assert not Path(f"/proc/{info.pid}/cmdline").exists() or _zombie(info.pid)
    assert control.balancer_stats("shop", state_dir=tmp_path) is None


def _zombie(pid: int) -> bool:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def test_two_scale_commands_at_once_both_take_effect(tmp_path: Path) -> None:
    a_port, b_port = free_port(), free_port()
    with backend_process("x") as (_, x), backend_process("y") as (_, y):
        control.ensure_balancer("race", [web(a_port, [x], "a"), web(b_port, [y], "b")], state_dir=tmp_path)
        try:
            lists = [[x], [y], [x, y], [free_port()]]

            def scale(listener: str) -> None:
                for i in range(12):
                    control.update_backends("race", {listener: specs(lists[i % 4])}, state_dir=tmp_path)
                control.update_backends("race", {listener: specs([x] if listener == "a" else [y])},
                                        state_dir=tmp_path)

            threads = [threading.Thread(target=scale, args=(n,)) for n in ("a", "b")]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            stats = {s["name"]: s for s in control.balancer_stats("race", state_dir=tmp_path) or []}
            assert [b["address"] for b in stats["a"]["backends"] if b["state"] != "draining"] == [f"127.0.0.1:{x}"]
            assert [b["address"] for b in stats["b"]["backends"] if b["state"] != "draining"] == [f"127.0.0.1:{y}"]
        finally:
            control.stop_balancer("race", state_dir=tmp_path, timeout=10)


def test_ensure_again_reuses_the_process_and_keeps_established_connections(tmp_path: Path) -> None:
    a_port, b_port = free_port(), free_port()
    with backend_process("x") as (_, x):
        first = control.ensure_balancer("p", [web(a_port, [x], "a")], state_dir=tmp_path)
        try:
            held = socket.create_connection(("127.0.0.1", a_port), timeout=5)
            reply = held.makefile()
            held.sendall(b"1\n")
            assert reply.readline() == "x 1\n"
            second = control.ensure_balancer("p", [web(a_port, [x], "a"), web(b_port, [x], "b")], state_dir=tmp_path)
            assert second.pid == first.pid
            info = control.balancer_info("p", state_dir=tmp_path)
            assert info is not None and (info.pid, info.listeners) == (first.pid, ("a", "b"))
            held.sendall(b"2\n")
            assert reply.readline() == "x 2\n"
            with socket.create_connection(("127.0.0.1", b_port), timeout=5) as sock:
                sock.sendall(b"3\n")
                assert sock.makefile().readline() == "x 3\n"
            reply.close()
            held.close()
        finally:
            control.stop_balancer("p", state_dir=tmp_path, timeout=10)
        assert control.balancer_info("p", state_dir=tmp_path) is None


def test_the_balancer_outlives_the_command_that_started_it(tmp_path: Path) -> None:
    port = free_port()
    with backend_process("x") as (_, x):
        script = ("import sys; from pathlib import Path; from stackctl.lb import control; "
                  "from tests.integration.lb.test_control import web; "
                  f"control.ensure_balancer('bg', [web({port}, [{x}])], state_dir=Path({str(tmp_path)!r}))")
        started = subprocess.run([sys.executable, "-c", script], cwd=REPO, timeout=60, capture_output=True, text=True,
                                 check=False)
        assert started.returncode == 0, started.stderr
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
                sock.sendall(b"still there\n")
                assert sock.makefile().readline() == "x still there\n"
        finally:
            (tmp_path / "bg.pid").unlink()  # even without its pid file it is found and stopped
            assert control.stop_balancer("bg", state_dir=tmp_path, timeout=10)
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", port), timeout=2)


def test_a_taken_port_is_reported_and_nothing_is_left_running(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(LoadBalancerError) as info:
            control.ensure_balancer("busy", [web(port, [])], state_dir=tmp_path)
    assert str(info.value) == (f"balancer for busy did not start: listener web: cannot bind 127.0.0.1:{port}/tcp: "
                               "Address already in use")
    assert control.balancer_stats("busy", state_dir=tmp_path) is None
    assert not control.stop_balancer("busy", state_dir=tmp_path)


def test_updating_a_project_without_a_balancer_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(LoadBalancerError, match="project ghost has no balancer"):
        control.update_backends("ghost", {"web": []}, state_dir=tmp_path)
    assert os.listdir(tmp_path) == ["ghost.lock"]
