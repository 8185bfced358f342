"""Cluster traffic on a real lab: the node proxy on every node, ingress published ports, service VIPs.

Runs on the suite's session lab (``cluster`` fixture), or on an existing initialised lab named by
``STACKCTL_TRAFFIC_LAB`` (its inventory under ``STACKCTL_LAB_ROOT``, default /var/lib/stackctl-lab).
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, Self

import pytest

STACK = "trf"
COMPOSE = """
services:
  web:
    image: stackctl/busybox:latest
    command: ["sh", "-c", "echo $$(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["8080:80"]
    deploy: {replicas: 3}
  echo:
    image: stackctl/busybox:latest
    command: ["nc", "-ll", "-p", "9000", "-e", "cat"]
    ports:
      - target: 9000
        published: 9009
        x-stackctl: {proxy_protocol: v2}
  pinned:
    image: stackctl/busybox:latest
    command: ["sh", "-c", "echo pinned > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports:
      - {target: 80, published: 8090, mode: host}
"""
EXTRA = """
services:
  tmp:
    image: stackctl/busybox:latest
    command: ["sh", "-c", "echo tmp > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports: ["8085:80"]
"""


class Env:
    def __init__(self, inventory: pathlib.Path, env: dict[str, str], lab: str, workdir: pathlib.Path) -> None:
        self.doc = json.loads(inventory.read_text())
        self.nodes = {n["name"]: n["address"] for n in self.doc["nodes"]}
        self.env, self.lab, self.workdir = env, lab, workdir

    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "stackctl", *args], check=False, capture_output=True,
                              text=True, env=self.env, timeout=timeout)

    def ssh(self, node: str, command: str, *, timeout: float = 10) -> str:
        ssh = self.doc["ssh"]
        out = subprocess.run(["ssh", "-q", "-i", ssh["identity_file"], "-o", f"UserKnownHostsFile={ssh['known_hosts']}",
                              "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=2",
                              f"root@{self.nodes[node]}", command],
                             check=False, capture_output=True, text=True, timeout=timeout)
        return out.stdout

    def deploy(self, name: str, text: str) -> None:
        f = self.workdir / f"{name}.yaml"
        f.write_text(text)
        out = self.cli("stack", "deploy", "-c", str(f), name, timeout=180)
        assert out.returncode == 0, out.stderr

    def hostnames(self, service: str) -> dict[str, str]:
        """container hostname (short id) -> node, for the running containers of a service of the stack."""
        out = {}
        for node in self.nodes:
            raw = self.ssh(node, f"docker ps -q --filter label=io.stackctl.service={service}")
            out.update({cid[:12]: node for cid in raw.split()})
        return out


def http_get(address: str, port: int, *, timeout: float = 2.0) -> str:
    with socket.create_connection((address, port), timeout=timeout) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    return data.decode(errors="replace").split("\r\n\r\n", 1)[-1].strip()


def refused(address: str, port: int) -> bool:
    try:
        http_get(address, port, timeout=1.0)
    except OSError:
        return True
    return False


def wait_for(what: str, check: Callable[[], Any], *, timeout: float, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        try:
            value = check()
        except (OSError, AssertionError):
            value = None
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


@pytest.fixture(scope="module")
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    name = os.environ.get("STACKCTL_TRAFFIC_LAB")
    workdir = tmp_path_factory.mktemp("traffic")
    if name:
        root = pathlib.Path(os.environ.get("STACKCTL_LAB_ROOT", "/var/lib/stackctl-lab"))
        e = Env(root / name / "inventory.json", {**os.environ, "STACKCTL_CLUSTER": name}, name, workdir)
    else:
        cluster = request.getfixturevalue("cluster")
        e = Env(cluster.lab.inventory_file, cluster.lab.env, cluster.lab.name, workdir)
    e.deploy(STACK, COMPOSE)
    wait_for("3 web replicas behind node1's port", lambda: len({http_get(e.nodes["node1"], 8080)
                                                                 for _ in range(9)}) == 3, timeout=30)
    try:
        yield e
    finally:
        e.cli("stack", "rm", STACK)
        e.cli("stack", "rm", "trfextra")


def test_published_port_on_every_node_round_robins_over_every_replica(env: Env) -> None:
    replicas = env.hostnames("web")
    assert len(replicas) == 3 and len(set(replicas.values())) == 3, replicas  # one per node (spread)
    for node, address in env.nodes.items():
        seen = [http_get(address, 8080) for _ in range(6)]
        assert set(seen) == set(replicas), (node, seen)


def test_a_task_on_node1_reaches_replicas_on_the_other_nodes_by_service_name(env: Env) -> None:
    replicas = env.hostnames("web")
    here = next(cid for cid, node in replicas.items() if node == "node1")
    script = "for i in 1 2 3 4 5 6; do printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 NAME 80 | tail -n 1; done"
    for name in ("web", f"{STACK}_web"):
        out = env.ssh("node1", f"docker exec {here} sh -c \"{script.replace('NAME', name)}\"")
        seen = {replicas.get(line.strip()) for line in out.splitlines() if line.strip()}
        assert {"node2", "node3"} <= seen, (name, out)


def test_mode_host_port_answers_only_where_its_task_runs(env: Env) -> None:
    where = set(env.hostnames("pinned").values())
    assert len(where) == 1
    for node, address in env.nodes.items():
        if node in where:
            assert http_get(address, 8090) == "pinned"
        else:
            assert refused(address, 8090), node


def test_proxy_protocol_v2_delivers_the_client_address(env: Env) -> None:
    address = env.nodes["node2"]
    with socket.create_connection((address, 9009), timeout=3) as s:
        mine = s.getsockname()[0]
        s.sendall(b"ping\n")
        data = b""
        while b"ping" not in data:
            chunk = s.recv(4096)
            assert chunk, data
            data += chunk
    # the echo backend sends back what it received: the PROXY v2 header, then our bytes
    assert data.startswith(b"\r\n\r\n\x00\r\nQUIT\n"), data[:32]
    assert data[13] == 0x11  # TCP over IPv4
    src = socket.inet_ntoa(data[16:20])
    assert src == mine and src != address


class Load:
    """New-connection HTTP requests in a loop against one address; failures timestamped."""

    def __init__(self, address: str, port: int) -> None:
        self.address, self.port = address, port
        self.ok, self.failures, self.stop = 0, list[float](), threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                if http_get(self.address, self.port, timeout=3):
                    self.ok += 1
                else:
                    self.failures.append(time.monotonic())
            except OSError:
                self.failures.append(time.monotonic())
            time.sleep(0.01)

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)


def scaled(env: Env, n: int) -> bool:
    return len(env.hostnames("web")) == n and len({http_get(env.nodes["node1"], 8080) for _ in range(2 * n)}) == n


def test_scaling_3_9_2_under_steady_load_loses_no_request(env: Env) -> None:
    with Load(env.nodes["node1"], 8080) as load:
        for n in (9, 2, 3):
            assert env.cli("service", "scale", f"{STACK}_web={n}").returncode == 0
            wait_for(f"{n} replicas answering", lambda: scaled(env, n), timeout=40)  # noqa: B023
        time.sleep(0.5)
    assert load.ok > 50
    assert load.failures == [], f"{len(load.failures)} failed of {load.ok + len(load.failures)}"


def test_a_node_stopped_under_load_fails_requests_only_inside_the_ejection_window(env: Env) -> None:
    victim = "node3"
    with Load(env.nodes["node1"], 8080) as load:
        time.sleep(1.0)
        stopped = time.monotonic()
        out = env.cli("lab", "stop", victim, "--name", env.lab)
        assert out.returncode == 0, out.stderr
        time.sleep(5.0)
    try:
        late = [round(t - stopped, 2) for t in load.failures if t - stopped > 2.0]
        assert late == [], f"failures after the 2 s ejection window: {late}"
        assert load.ok > 50
    finally:
        env.cli("lab", "start", victim, "--name", env.lab)
        wait_for("the node back with its replica", lambda: scaled(env, 3), timeout=60)


def vip_listeners(env: Env, node: str) -> set[str]:
    return {ln.split()[3] for ln in env.ssh(node, "ss -ltnH").splitlines() if " 10.240." in ln}


def test_a_removed_service_frees_its_port_and_vip_on_every_node(env: Env) -> None:
    before = vip_listeners(env, "node1")
    env.deploy("trfextra", EXTRA)
    wait_for("tmp answering on every node", lambda: all(http_get(a, 8085) == "tmp" for a in env.nodes.values()),
             timeout=30)
    added = vip_listeners(env, "node1") - before
    assert len(added) == 1, added  # tmp's VIP:80
    assert all(added <= vip_listeners(env, n) for n in env.nodes)
    assert env.cli("stack", "rm", "trfextra").returncode == 0
    wait_for("port 8085 closed everywhere", lambda: all(refused(a, 8085) for a in env.nodes.values()), timeout=10)
    for node in env.nodes:
        assert ":8085" not in env.ssh(node, "ss -ltnH"), node
        assert vip_listeners(env, node) == before, node  # tmp's VIP gone, the others kept
