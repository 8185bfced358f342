"""The lab side of bench/cluster.py: a 3-node lab, its engines, and what every measure counts.

Every measure is read the same way for swarm, the engine floor and stackctl: the running containers
of a stack on the lab's engines (``com.docker.stack.namespace``, which swarm and stackctl both put),
grouped by service, a container with a healthcheck counting only once healthy.
"""

from __future__ import annotations

import concurrent.futures
import os
import pathlib
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import docker
import requests

NAMESPACE = "com.docker.stack.namespace"
IMAGE = "stackctl/busybox:latest"
# PID 1 of a task must stop on SIGTERM, or every scale-down waits for the 10 s kill.
SLEEP = ["sh", "-c", "trap 'exit 0' TERM; sleep 86400 & wait"]
# A resolver that fails at once: swarm's executor still asks a registry for every task.
RESOLV_CONF = "nameserver 127.0.0.1\n"

ServiceOf = Callable[[Mapping[str, str]], "str | None"]


class BenchError(Exception):
    """A step of the benchmark failed: the run stops with this one line."""


# What ends one phase of the bench (the table is still printed): our own errors and the engines'.
FAILURES = (BenchError, docker.errors.DockerException, requests.RequestException, subprocess.SubprocessError)


def run(cmd: Sequence[str], *, env: Mapping[str, str] | None = None, timeout: float = 120,
        check: bool = True) -> subprocess.CompletedProcess[str]:
    try:
        out = subprocess.run(list(cmd), env=dict(env) if env else None, capture_output=True, text=True,
                             timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise BenchError(f"timed out after {timeout:.0f} s: {' '.join(cmd)}") from e
    if check and out.returncode != 0:
        raise BenchError(f"failed ({out.returncode}): {' '.join(cmd)}: {(out.stderr or out.stdout).strip()[-600:]}")
    return out


def wait_until(what: str, predicate: Callable[[], bool], *, timeout: float, interval: float = 0.05) -> float:
    """Seconds until ``predicate()`` holds (polled); BenchError after ``timeout``."""
    start = time.perf_counter()
    while not predicate():
        if time.perf_counter() - start > timeout:
            raise BenchError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)
    return time.perf_counter() - start


@dataclass(frozen=True)
class Node:
    name: str
    address: str
    sock: pathlib.Path
    netns: str
    mnt_ns: pathlib.Path
    run_dir: pathlib.Path


@dataclass
class Lab:
    """A lab made by ``stackctl lab up`` with private roots (never the user's current cluster)."""

    name: str
    subnet: str | None
    root: pathlib.Path
    cli: list[str]
    nodes: list[Node] = field(default_factory=list)
    _clients: dict[str, docker.DockerClient] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "STACKCTL_LAB_ROOT": str(self.root / "state"),
                "STACKCTL_LAB_RUN": str(self.root / "run"), "STACKCTL_HOME": str(self.root / "home"),
                "STACKCTL_CLUSTER": str(self.inventory)}

    @property
    def inventory(self) -> pathlib.Path:
        return self.root / "state" / self.name / "inventory.json"

    def stackctl(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        return run([*self.cli, *args], env=self.env, timeout=timeout, check=check)

    def node(self, name: str) -> Node:
        return next(n for n in self.nodes if n.name == name)

    def engine(self, node: str) -> docker.DockerClient:
        if node not in self._clients:
            self._clients[node] = docker.DockerClient(base_url=f"unix://{self.node(node).sock}",
                                                      version="1.41", timeout=30)
        return self._clients[node]

    def docker(self, node: str, *args: str, timeout: float = 120,
               check: bool = True) -> subprocess.CompletedProcess[str]:
        """The docker CLI against one node's engine, as a user on that node would run it."""
        return run(["docker", "-H", f"unix://{self.node(node).sock}", *args], timeout=timeout, check=check)

    # --- lifecycle ---------------------------------------------------------------------------

    def up(self) -> None:
        self.stackctl("lab", "down", "--name", self.name, check=False)
        (self.root / "home").mkdir(parents=True, exist_ok=True)
        subnet = ["--subnet", self.subnet] if self.subnet else []
        self.stackctl("lab", "up", "--name", self.name, "--nodes", "3", "--managers", "3", *subnet, timeout=180)
        self._load_nodes()
        self.ensure_resolv_conf()
        run(["bash", str(pathlib.Path(__file__).resolve().parents[1] / "scripts/build-busybox-image.sh"),
             IMAGE], timeout=300)
        self.stackctl("lab", "load", "--name", self.name, IMAGE, timeout=300)

    def down(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()
        self.stackctl("lab", "down", "--name", self.name, timeout=180, check=False)

    def _load_nodes(self) -> None:
        from stackctl.cluster.inventory import ClusterStore
        from stackctl.lab.lab import Roots, load

        layout = load(self.name, Roots(state=self.root / "state", run=self.root / "run",
                                       clusters=ClusterStore(self.root / "home")))
        self.nodes = [Node(n.name, n.address, n.docker_sock, n.netns, n.mnt_ns, n.run_dir)
                      for n in layout.nodes]

    def ensure_resolv_conf(self) -> None:
        """Each node resolves nothing off this machine and fails at once: the lab's own resolv.conf
        when it has one, else one bound over the node's /etc/resolv.conf for this bench."""
        conf = self.root / "resolv.conf"
        conf.write_text(RESOLV_CONF, encoding="utf-8")
        for node in self.nodes:
            enter = ["nsenter", f"--mount={node.mnt_ns}"]
            current = run([*enter, "cat", "/etc/resolv.conf"]).stdout
            servers = [ln.split()[1] for ln in current.splitlines() if ln.startswith("nameserver ")]
            if servers and all(s.startswith("127.") for s in servers):
                continue
            run([*enter, "mount", "--bind", str(conf), "/etc/resolv.conf"])
            # dockerd may have read the old file already: a lookup it sends there waits 10 s
            self.stop(node.name)
            self.start(node.name)

    def stop(self, node: str) -> None:
        self.stackctl("lab", "stop", "--name", self.name, node)

    def start(self, node: str) -> None:
        self.stackctl("lab", "start", "--name", self.name, node, timeout=120)

    def node_run(self, node: str, argv: Sequence[str], *, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A command in the node's network namespace (etcd's clients are on each manager's loopback)."""
        return run(["nsenter", f"--net=/run/netns/{self.node(node).netns}", *argv], check=check, timeout=30)

    def node_pids(self, node: str) -> set[int]:
        out = run(["ip", "netns", "pids", self.node(node).netns], check=False).stdout
        return {int(p) for p in out.split() if p.isdigit()}

    # --- what the measures count -------------------------------------------------------------

    def running(self, stack: str, service_of: ServiceOf, *,
                nodes: Sequence[str] | None = None) -> dict[str, Counter[str]]:
        """{node: Counter(service -> running containers, healthy ones only when they have a check)}."""
        names = list(nodes) if nodes is not None else [n.name for n in self.nodes]

        def one(node: str) -> Counter[str]:
            rows: list[dict[str, Any]] = self.engine(node).api.containers(
                filters={"label": f"{NAMESPACE}={stack}", "status": "running"})
            counts: Counter[str] = Counter()
            for row in rows:
                status = str(row.get("Status", ""))
                if "(health: starting)" in status or "(unhealthy)" in status:
                    continue
                service = service_of(row.get("Labels") or {})
                if service:
                    counts[service] += 1
            return counts

        with concurrent.futures.ThreadPoolExecutor(len(names)) as pool:
            return dict(zip(names, pool.map(one, names), strict=True))

    def converged(self, stack: str, service_of: ServiceOf, want: Mapping[str, int], *,
                  nodes: Sequence[str] | None = None) -> bool:
        total: Counter[str] = Counter()
        for counts in self.running(stack, service_of, nodes=nodes).values():
            total.update(counts)
        return all(total[s] == n for s, n in want.items()) and set(total) <= set(want)

    def wait_converged(self, stack: str, service_of: ServiceOf, want: Mapping[str, int], *,
                       timeout: float = 120, nodes: Sequence[str] | None = None) -> float:
        return wait_until(f"stack {stack} at {dict(want)}",
                          lambda: self.converged(stack, service_of, want, nodes=nodes), timeout=timeout)

    def wait_gone(self, stack: str, *, timeout: float = 120) -> None:
        def gone() -> bool:
            return all(not self.engine(n.name).api.containers(all=True, filters={"label": f"{NAMESPACE}={stack}"})
                       for n in self.nodes)

        wait_until(f"the containers of {stack} to be removed", gone, timeout=timeout, interval=0.2)


def scale_stack(replicas: int) -> str:
    """One service ``sl`` of sleepers: what `service scale` is measured on."""
    return ("services:\n  sl:\n    image: " + IMAGE + "\n    command: " + _flow(SLEEP)
            + f"\n    deploy:\n      replicas: {replicas}\n")


WEBAPP = f"""# stacks/webapp without depends_on (swarm ignores it): a database with a healthcheck and a
# volume, three web replicas behind one published port.
services:
  db:
    image: {IMAGE}
    command: ["sh", "-c", "mkdir -p /data && echo ready > /data/state && exec nc -ll -p 5432 -e cat"]
    volumes:
      - dbdata:/data
    healthcheck:
      test: ["CMD", "test", "-f", "/data/state"]
      interval: 1s
      timeout: 2s
      retries: 30
  web:
    image: {IMAGE}
    command: ["sh", "-c", "echo \\"hello from $$(hostname)\\" > /www/index.html && exec httpd -f -p 80 -h /www"]
    ports:
      - "8080:80"
    deploy:
      replicas: 3
    environment:
      DATABASE_URL: tcp://db:5432
volumes:
  dbdata: {{}}
"""
WEBAPP_WANT = {"db": 1, "web": 3}


def _flow(argv: Sequence[str]) -> str:
    import json

    return json.dumps(list(argv))
