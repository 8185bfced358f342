"""`compose -H ssh://root@NODE`: replicas behind one fixed port are balanced ON the node.

As a user would: the real CLI, a HOME whose ~/.ssh/config names the lab's client key and whose
known_hosts holds the nodes' keys (the trust rules of `-H ssh://`), a local image shipped to the node.
"""

from __future__ import annotations

import asyncio
import os
import pathlib
import secrets
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from typing import Self

import pytest

from stackctl.drivers.ssh import SshTransport
from stackctl.drivers.ssh_images import ship_image
from tests.conftest import run_cli

pytestmark = pytest.mark.lab

PORT = 18080
COMPOSE = (
    "services:\n  web:\n    image: stackctl/busybox:latest\n"
    '    command: [sh, -c, "mkdir -p /www; hostname > /www/index.html; exec httpd -f -p 80 -h /www"]\n'
    f'    ports: ["{PORT}:80"]\n    stop_signal: SIGKILL\n    deploy:\n      replicas: REPLICAS\n')


@pytest.fixture(scope="module")
def user_home(lab, tmp_path_factory) -> pathlib.Path:  # type: ignore[no-untyped-def]
    home = tmp_path_factory.mktemp("remote-home")
    (home / ".ssh").mkdir(mode=0o700)
    (home / ".ssh" / "config").write_text(f"Host *\n  IdentityFile {lab.state / 'id_ed25519'}\n")
    (home / ".ssh" / "known_hosts").write_text((lab.state / "known_hosts").read_text())
    return home


@pytest.fixture(scope="module")
def nodes(inventory, busybox_image):  # type: ignore[no-untyped-def]
    async def go() -> None:
        async with SshTransport(inventory.nodes) as t:
            await ship_image(t, busybox_image, nodes=["node1", "node2"])

    asyncio.run(go())
    return {n.name: n for n in inventory.nodes}


def _compose(home: pathlib.Path, where: pathlib.Path, *args: str, input: str | None = None):  # type: ignore[no-untyped-def]
    env = {k: v for k, v in os.environ.items() if k != "DOCKER_HOST"}
    env.update(HOME=str(home), XDG_STATE_HOME=str(home / "state"))
    return run_cli("compose", *args, cwd=where, env_vars=env, input=input, timeout=300)


def _node_sh(lab, address: str, command: str) -> str:  # type: ignore[no-untyped-def]
    out = subprocess.run(["ssh", "-i", str(lab.state / "id_ed25519"), "-o", f"UserKnownHostsFile={lab.state / 'known_hosts'}",
                          "-o", "BatchMode=yes", f"root@{address}", command],
                         check=False, capture_output=True, text=True, timeout=60)
    return out.stdout


def _host_listeners(project: str) -> set[str]:
    """Listening TCP sockets of this machine (host namespace) that could be this project's: on its
    published port, or owned by a process naming the project (other helpers' balancers may come and go)."""
    rows = subprocess.run(["ss", "-ltnpH"], check=True, capture_output=True, text=True).stdout.splitlines()
    out = set()
    for row in rows:
        if row.split()[3].endswith(f":{PORT}"):
            out.add(row)
        for pid in (int(p.split("=")[1]) for p in row.replace(")", ",").split(",") if p.startswith("pid=")):
            try:
                if project.encode() in pathlib.Path(f"/proc/{pid}/cmdline").read_bytes():
                    out.add(row)
            except OSError:
                continue
    return out


def _balancers_of(project: str) -> list[int]:
    """Pids of balancer processes (any namespace) serving this project."""
    found = []
    for proc in pathlib.Path("/proc").iterdir():
        try:
            cmd = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"serve" in cmd and any(f"/{project}.lb.json".encode() in part for part in cmd):
            found.append(int(proc.name))
    return found


class Load:
    """Two clients requesting NODE:PORT back to back; every failure is recorded."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.ok, self.failures, self.answers = 0, [], set()  # type: ignore[var-annotated]
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(2)]

    def _one(self) -> str:
        with socket.create_connection((self.host, self.port), timeout=5) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.") or b" 200 " not in head.split(b"\r\n")[0] + b" ":
            raise OSError(f"bad answer {head[:40]!r}")
        return body.decode().strip()

    def _client(self) -> None:
        while not self._stop.is_set():
            try:
                self.answers.add(self._one())
                self.ok += 1
            except OSError as exc:
                self.failures.append(f"{time.strftime('%X')} {exc!r}")

    def __enter__(self) -> Self:
        for t in self._threads:
            t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(10)


@pytest.fixture
def project(lab, user_home, tmp_path, nodes) -> Iterator[tuple[str, pathlib.Path, str]]:  # type: ignore[no-untyped-def]
    name = f"rmt{secrets.token_hex(3)}"
    host = f"ssh://root@{nodes['node1'].address}"
    (tmp_path / "compose.yaml").write_text(COMPOSE.replace("REPLICAS", "3"))
    yield name, tmp_path, host
    _compose(user_home, tmp_path, "-p", name, "down", "-H", host)


def test_replicas_behind_one_port_are_balanced_on_the_node_and_scale_without_failures(lab, user_home, project, nodes):  # type: ignore[no-untyped-def]
    name, where, host = project
    address = nodes["node1"].address
    before = _host_listeners(name)
    up = _compose(user_home, where, "-p", name, "up", "-d", "--yes", "-H", host)
    assert up.returncode == 0, up.stderr
    assert "installing (--yes)" in up.stderr  # the node had no stackctl: --yes answered the question
    ps = _compose(user_home, where, "-p", name, "ps", "-H", host)
    assert f"load balancer of {name} on {host}" in ps.stdout, ps.stdout
    backends = ps.stdout.split("load balancer of")[1].splitlines()[3:]
    assert len([b for b in backends if b.startswith("  ") and ":80 " in b]) == 3, ps.stdout
    assert _host_listeners(name) == before == set()

    with Load(address, PORT) as load:
        time.sleep(2)
        for count in (5, 1):
            scaled = _compose(user_home, where, "-p", name, "scale", f"web={count}", "-H", host)
            assert scaled.returncode == 0, scaled.stderr
            time.sleep(3)
            assert _host_listeners(name) == set()
    print(f"requests: {load.ok} answered, {len(load.failures)} failed; replicas seen: {len(load.answers)}")
    assert load.ok > 50
    assert load.failures == [], load.failures[:5]
    assert len(load.answers) >= 5  # the two new replicas answered too
    assert _host_listeners(name) == before  # nothing was opened on this machine

    down = _compose(user_home, where, "-p", name, "down", "-H", host)
    assert down.returncode == 0, down.stderr
    assert _balancers_of(name) == []
    assert _node_sh(lab, address, f"ls -A /var/lib/stackctl/lb 2>/dev/null | grep {name} || true").strip() == ""
    assert not list((user_home / "state").rglob(f"{name}*"))  # nothing of it on the CLI machine
    host_dir = pathlib.Path("/var/lib/stackctl")  # the lab's mount point for the nodes' own directory
    assert not list(host_dir.rglob(f"*{name}*"))  # nothing of the project was installed or left on this machine


def test_install_without_a_terminal_and_without_yes_is_refused_and_changes_nothing(lab, user_home, tmp_path, nodes):  # type: ignore[no-untyped-def]
    host = f"ssh://root@{nodes['node2'].address}"
    name = f"rmt{secrets.token_hex(3)}"
    (tmp_path / "compose.yaml").write_text(COMPOSE.replace("REPLICAS", "2"))
    listing = "ls -A /var/lib/stackctl"  # what `cluster init` may have installed there stays as it is
    before = _node_sh(lab, nodes["node2"].address, listing).split()
    out = _compose(user_home, tmp_path, "-p", name, "up", "-d", "-H", host, input="")
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "is not installed on" in lines[0] and "--yes" in lines[0], out.stderr
    assert _node_sh(lab, nodes["node2"].address, f"docker ps -aq --filter label=com.docker.compose.project={name}").strip() == ""
    assert _node_sh(lab, nodes["node2"].address, listing).split() == before  # nothing installed
