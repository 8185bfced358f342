"""Docker swarm mode at its best on the lab's nodes, and the engine floor (plain docker-py).

Swarm: 3 managers, the image loaded on every node, ``--resolve-image never`` and a resolver that
fails at once (see _cluster_lab). The floor: the same 30 sleepers created and started with docker-py,
10 per engine, on a bridge network per engine as a stack's default network, several at a time.
"""

from __future__ import annotations

import concurrent.futures
import os
import pathlib
import signal
import sys
import time
from collections.abc import Mapping

import docker
import requests
from _cluster_lab import IMAGE, NAMESPACE, SLEEP, WEBAPP, WEBAPP_WANT, BenchError, Lab, ServiceOf, wait_until

SWARM_SERVICE = "com.docker.swarm.service.name"
FLOOR = "fl"
FLOOR_THREADS = 4  # per engine


def swarm_service_of(stack: str) -> ServiceOf:
    def service_of(labels: Mapping[str, str]) -> str | None:
        name = labels.get(SWARM_SERVICE, "")
        return name[len(stack) + 1:] if name.startswith(stack + "_") else None

    return service_of


class Swarm:
    def __init__(self, lab: Lab, workdir: pathlib.Path) -> None:
        self.lab = lab
        self.workdir = workdir
        self.moved: list[int] = []  # tasks on each stopped node
        self.manager = lab.nodes[0].name

    # --- setup -------------------------------------------------------------------------------

    def init(self) -> None:
        first, *others = self.lab.nodes
        for node in self.lab.nodes:
            self.lab.docker(node.name, "swarm", "leave", "--force", check=False)
        self.lab.docker(first.name, "swarm", "init", "--advertise-addr", first.address)
        token = self.lab.docker(first.name, "swarm", "join-token", "-q", "manager").stdout.strip()
        for node in others:
            self.lab.docker(node.name, "swarm", "join", "--token", token, f"{first.address}:2377")
        self.wait_healthy()

    def leave(self) -> None:
        for node in self.lab.nodes:
            self.lab.docker(node.name, "swarm", "leave", "--force", check=False, timeout=60)
        for node in self.lab.nodes:  # tasks' containers that outlived the swarm
            try:
                for c in self.lab.engine(node.name).containers.list(all=True, filters={"label": SWARM_SERVICE}):
                    c.remove(force=True)
            except (docker.errors.DockerException, requests.RequestException) as e:
                print(f"swarm leave: {node.name}: {e}", file=sys.stderr)

    def nodes(self, via: str | None = None, timeout: float = 10) -> list[tuple[str, str, str]]:
        """(hostname, status, manager status) per node, asked of one manager."""
        out = self.lab.docker(via or self.manager, "node", "ls", "--format",
                              "{{.Hostname}} {{.Status}} {{.ManagerStatus}}", timeout=timeout)
        return [tuple((line.split() + ["", "", ""])[:3]) for line in out.stdout.splitlines()]  # type: ignore[misc]

    def leader(self) -> str:
        return next(h for h, _, m in self.nodes() if m == "Leader")

    def wait_healthy(self, timeout: float = 120) -> None:
        def healthy() -> bool:
            try:
                rows = self.nodes(timeout=5)
            except BenchError:
                return False
            return len(rows) == len(self.lab.nodes) and all(s == "Ready" and m in ("Leader", "Reachable")
                                                            for _, s, m in rows)

        wait_until("every swarm node Ready and reachable", healthy, timeout=timeout, interval=0.5)
        self.manager = self.leader()

    def deploy(self, stack: str, text: str) -> None:
        path = self.workdir / f"swarm-{stack}.yaml"
        path.write_text(text, encoding="utf-8")
        self.lab.docker(self.manager, "stack", "deploy", "--resolve-image", "never", "-c", str(path), stack)

    def rm(self, stack: str) -> None:
        self.lab.docker(self.manager, "stack", "rm", stack, check=False)
        self.lab.wait_gone(stack)
        try:  # the next stack has another name: a network that lingers does it no harm
            wait_until(f"the networks of {stack} to go", lambda: not self.lab.docker(
                self.manager, "network", "ls", "-q", "--filter", f"label={NAMESPACE}={stack}").stdout.strip(),
                timeout=20, interval=0.2)
        except BenchError:
            pass

    # --- measures ----------------------------------------------------------------------------

    def scale_once(self, stack: str) -> float:
        """`docker service scale` 1 -> 30 until 30 containers run (the stack is at 1 on entry and exit)."""
        of = swarm_service_of(stack)
        self.lab.wait_converged(stack, of, {"sl": 1})
        start = time.perf_counter()
        self.lab.docker(self.manager, "service", "scale", "--detach", f"{stack}_sl=30")
        self.lab.wait_converged(stack, of, {"sl": 30}, timeout=300)
        elapsed = time.perf_counter() - start
        self.lab.docker(self.manager, "service", "scale", "--detach", f"{stack}_sl=1")
        self.lab.wait_converged(stack, of, {"sl": 1}, timeout=120)
        return elapsed

    def deploy_once(self, stack: str) -> float:
        """`docker stack deploy` of the webapp-like stack from nothing until converged."""
        start = time.perf_counter()
        self.deploy(stack, WEBAPP)
        self.lab.wait_converged(stack, swarm_service_of(stack), WEBAPP_WANT, timeout=300)
        elapsed = time.perf_counter() - start
        self.rm(stack)
        return elapsed

    def leader_kill_once(self, stack: str, replicas: int) -> float:
        """The leader's dockerd SIGKILLed -> another manager answers `docker node ls`."""
        old = self.leader()
        others = [n.name for n in self.lab.nodes if n.name != old]
        pid = int((self.lab.node(old).run_dir / "docker.pid").read_text().strip())
        os.kill(pid, signal.SIGKILL)
        answered = {"n": 0}

        def answers() -> bool:
            node = others[answered["n"] % len(others)]
            answered["n"] += 1
            try:  # during the election a manager may hold the call until there is a leader
                out = self.lab.docker(node, "node", "ls", "--format", "{{.Hostname}} {{.ManagerStatus}}",
                                      check=False, timeout=30)
            except BenchError:
                return False
            return out.returncode == 0 and any(line.split()[1:] == ["Leader"] and line.split()[0] != old
                                               for line in out.stdout.splitlines())

        try:
            elapsed = wait_until("a new swarm leader", answers, timeout=120, interval=0.05)
        finally:
            self.lab.start(old)
        self.manager = others[0]
        self.wait_healthy()
        self.lab.wait_converged(stack, swarm_service_of(stack), {"sl": replicas}, timeout=180)
        return elapsed

    def respread(self, stack: str, replicas: int) -> None:
        """Down to 1 and up again: the new tasks go to the nodes with the fewest."""
        of = swarm_service_of(stack)
        for n in (1, replicas):
            self.lab.docker(self.manager, "service", "scale", "--detach", f"{stack}_sl={n}")
            self.lab.wait_converged(stack, of, {"sl": n}, timeout=300)

    def node_loss_once(self, stack: str, replicas: int) -> float:
        """A node holding tasks is stopped -> all `replicas` run on the other nodes."""
        of = swarm_service_of(stack)
        leader = self.leader()
        per_node = self.lab.running(stack, of)
        if min(per_node[n]["sl"] for n in per_node if n != leader) < replicas // 4:
            self.respread(stack, replicas)  # neither swarm nor stackctl moves tasks back to a node
            per_node = self.lab.running(stack, of)
        victim = max((n for n in per_node if n != leader), key=lambda n: per_node[n]["sl"])
        self.moved.append(per_node[victim]["sl"])
        alive = [n.name for n in self.lab.nodes if n.name != victim]
        self.lab.stop(victim)
        start = time.perf_counter()
        self.lab.wait_converged(stack, of, {"sl": replicas}, nodes=alive, timeout=180)
        elapsed = time.perf_counter() - start
        self.lab.start(victim)
        self.wait_healthy()
        self.lab.wait_converged(stack, of, {"sl": replicas}, timeout=180)
        return elapsed


def floor_once(lab: Lab, replicas: int = 30) -> float:
    """docker-py creates and starts `replicas` sleepers spread over the engines, on a bridge network
    per engine (what a stack's default network is on one node); they are removed afterwards."""
    nodes = [n.name for n in lab.nodes]
    net = f"{FLOOR}_default"
    for node in nodes:
        for old in lab.engine(node).containers.list(all=True, filters={"label": f"{NAMESPACE}={FLOOR}"}):
            old.remove(force=True)
        if not lab.engine(node).networks.list(names=[net]):
            lab.engine(node).networks.create(net, driver="bridge", labels={NAMESPACE: FLOOR})

    def one(slot: int) -> None:
        node = nodes[(slot - 1) % len(nodes)]
        c = lab.engine(node).containers.create(
            IMAGE, SLEEP, name=f"{FLOOR}_sl.{slot}", network=net, hostname=f"sl-{slot}",
            labels={NAMESPACE: FLOOR, "io.stackctl.service": "sl"})
        c.start()

    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(FLOOR_THREADS * len(nodes)) as pool:
        list(pool.map(one, range(1, replicas + 1)))
    elapsed = time.perf_counter() - start
    def clean(node: str) -> None:
        for c in lab.engine(node).containers.list(all=True, filters={"label": f"{NAMESPACE}={FLOOR}"}):
            c.remove(force=True)

    with concurrent.futures.ThreadPoolExecutor(len(nodes)) as pool:
        list(pool.map(clean, nodes))
    return elapsed

