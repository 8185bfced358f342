"""The agent on a real lab: two `stackctl agent` processes on this machine against a real etcd, driving the
lab nodes' engines over SSH. A stack's tasks run on the nodes; a killed container is replaced; a stopped node's
tasks run elsewhere within the goal (8 s); a SIGKILLed leader is replaced by the standby, which adopts the
running tasks (no duplicates); the returning node's stale containers are removed; SIGTERM resigns at once.

``STACKCTL_AGENT_LAB=<name>`` runs it on an existing lab of that name (its inventory under
``STACKCTL_LAB_ROOT``) instead of the suite's own ``stktest``.
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from stackctl import labels as L
from stackctl.cluster.etcd import Etcd
from stackctl.cluster.state import ServiceRecord, StackRecord, TaskRecord
from stackctl.cluster.store import Store
from stackctl.plan.hashing import service_hash
from tests.support.etcd import EtcdCluster

IMAGE = "stackctl/busybox:latest"
CLUSTER = "agenttest"
GOAL_NODE_DOWN = 8.0


class Lab:
    def __init__(self, name: str, inventory: pathlib.Path, env: dict[str, str]) -> None:
        self.name, self.inventory_file, self.env = name, inventory, env
        self.doc = json.loads(inventory.read_text())
        self.nodes = {n["name"]: n["address"] for n in self.doc["nodes"]}

    def ssh(self, node: str, command: str, *, timeout: float = 5) -> str:
        ssh = self.doc["ssh"]
        out = subprocess.run(["ssh", "-q", "-i", ssh["identity_file"], "-o", f"UserKnownHostsFile={ssh['known_hosts']}",
                              "-o", "StrictHostKeyChecking=yes", "-o", "ConnectTimeout=2",
                              f"root@{self.nodes[node]}", command],
                             check=False, capture_output=True, text=True, timeout=timeout)
        return out.stdout if out.returncode == 0 else ""

    def containers(self, node: str) -> list[dict[str, str]]:
        """The task containers on a node: name, state, task, slot (empty when the node does not answer)."""
        fmt = ('{{.Names}} {{.State}} {{.Label "' + L.TASK + '"}} {{.Label "' + L.SLOT + '"}}')
        try:
            raw = self.ssh(node, f"docker ps -a --filter label={L.STACK} --format '{fmt}'", timeout=4)
        except subprocess.TimeoutExpired:
            return []
        rows = [line.split() for line in raw.splitlines() if line.strip()]
        return [{"node": node, "name": r[0], "state": r[1], "task": r[2], "slot": r[3]} for r in rows if len(r) == 4]

    def running(self) -> list[dict[str, str]]:
        return [c for n in self.nodes for c in self.containers(n) if c["state"] == "running"]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "stackctl", *args], check=False, capture_output=True, text=True,
                              env=self.env, timeout=120)


@pytest.fixture(scope="module")
def the_lab(request: pytest.FixtureRequest) -> Lab:
    name = os.environ.get("STACKCTL_AGENT_LAB")
    if name:
        root = pathlib.Path(os.environ.get("STACKCTL_LAB_ROOT", "/var/lib/stackctl-lab"))
        return Lab(name, root / name / "inventory.json", dict(os.environ))
    lab = request.getfixturevalue("lab")
    return Lab(lab.name, lab.inventory_file, lab.env)


@pytest.fixture(scope="module")
def etcd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdCluster]:
    with EtcdCluster(tmp_path_factory.mktemp("etcd"), size=1) as cluster:
        yield cluster


def run(coro: Any) -> Any:
    return asyncio.run(coro)


async def _with_store(etcd: EtcdCluster, fn: Callable[[Store], Any]) -> Any:
    client = Etcd(etcd.endpoints)
    try:
        return await fn(Store(client, CLUSTER))
    finally:
        await client.aclose()


def tasks(etcd: EtcdCluster) -> list[TaskRecord]:
    async def go(store: Store) -> list[TaskRecord]:
        return await store.tasks()
    return list(run(_with_store(etcd, go)))


def leader(etcd: EtcdCluster) -> str | None:
    async def go(store: Store) -> str | None:
        return await store.leader()
    return run(_with_store(etcd, go))  # type: ignore[no-any-return]


def wait_for(what: str, check: Callable[[], Any], *, timeout: float, every: float = 0.25) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = check()
        if found:
            return found
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


class Agents:
    def __init__(self, lab: Lab, etcd: EtcdCluster, workdir: pathlib.Path) -> None:
        self.lab, self.etcd, self.workdir = lab, etcd, workdir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, node: str) -> None:
        config = self.workdir / f"agent-{node}.json"
        config.write_text(json.dumps({"cluster": CLUSTER, "node": node, "etcd": self.etcd.endpoints,
                                      "inventory": str(self.lab.inventory_file)}))
        log = open(self.workdir / f"agent-{node}.log", "ab")  # noqa: SIM115 - the child keeps it
        self.procs[node] = subprocess.Popen([sys.executable, "-m", "stackctl", "agent", "--config", str(config),
                                             "--log-level", "debug"], stdout=log, stderr=log, env=self.lab.env)
        log.close()

    def log(self, node: str) -> str:
        return (self.workdir / f"agent-{node}.log").read_text(errors="replace")

    def rss_mb(self, node: str) -> float:
        status = pathlib.Path(f"/proc/{self.procs[node].pid}/status").read_text()
        return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))) / 1024

    def close(self) -> None:
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait()


@pytest.fixture(scope="module")
def agents(the_lab: Lab, etcd: EtcdCluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Agents]:
    found = Agents(the_lab, etcd, tmp_path_factory.mktemp("agents"))
    try:
        yield found
    finally:
        found.close()
        for node in the_lab.nodes:
            the_lab.ssh(node, f"docker ps -aq --filter label={L.STACK} | xargs -r docker rm -f", timeout=30)


def deploy(etcd: EtcdCluster, replicas: int, image_id: str) -> None:
    svc = {"image": IMAGE, "command": ["sleep", "3600"], "networks": {"default": None}, "stop_grace_period": "1s"}
    doc = {"name": "demo", "services": {"web": svc}, "networks": {"default": {"name": "demo_default"}}}
    now = time.time()

    async def go(store: Store) -> None:
        await store.put_stack(StackRecord(name="demo", document=doc, version=1, images={IMAGE: image_id},
                                          created=now, updated=now),
                              [ServiceRecord(stack="demo", service="web", version=1, spec_hash=service_hash(svc),
                                             replicas=replicas, updated=now)])
    run(_with_store(etcd, go))


def one_per_slot(lab: Lab) -> dict[str, dict[str, str]]:
    running = lab.running()
    by_slot: dict[str, dict[str, str]] = {}
    for c in running:
        assert c["slot"] not in by_slot, f"two running containers for slot {c['slot']}: {running}"
        by_slot[c["slot"]] = c
    return by_slot


def converged(etcd: EtcdCluster, lab: Lab, replicas: int) -> dict[str, dict[str, str]] | None:
    live = [t for t in tasks(etcd) if t.desired == "running" and t.state == "running"]
    seen = one_per_slot(lab)
    if len(live) == replicas and sorted(seen) == sorted(str(t.slot) for t in live) \
            and {c["task"] for c in seen.values()} == {t.id for t in live}:
        return seen
    return None


def test_agents_run_heal_fail_over_and_resign(the_lab: Lab, etcd: EtcdCluster, agents: Agents) -> None:
    image_id = subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", IMAGE], check=True,
                              capture_output=True, text=True).stdout.strip()
    first, second, third = sorted(the_lab.nodes)[:3]
    # the image is on one node only: the others get it from there, through the leader
    for node in the_lab.nodes:
        the_lab.ssh(node, f"docker rmi -f {IMAGE} >/dev/null 2>&1; true", timeout=30)
    up = subprocess.run([sys.executable, "-c", (
        "import asyncio,sys; from stackctl.cluster.inventory import load_inventory;"
        "from stackctl.drivers.ssh import SshTransport; from stackctl.drivers.ssh_images import ship_image\n"
        "async def m():\n"
        f"  async with SshTransport(load_inventory('{the_lab.inventory_file}').nodes) as t:\n"
        f"    await ship_image(t, '{IMAGE}', nodes=['{first}'])\n"
        "asyncio.run(m())")], check=False, capture_output=True, text=True, timeout=120)
    assert up.returncode == 0, up.stderr

    agents.start(first)
    agents.start(second)
    wait_for("a leader", lambda: leader(etcd), timeout=15)
    started = time.monotonic()
    deploy(etcd, 3, image_id)
    seen = wait_for("3 running tasks", lambda: converged(etcd, the_lab, 3), timeout=60)
    print(f"\ndeploy of 3 tasks converged in {time.monotonic() - started:.1f} s "
          f"(image copied node to node), on {sorted(c['node'] for c in seen.values())}")
    for node in the_lab.nodes:
        assert the_lab.ssh(node, f"docker image inspect --format '{{{{.Id}}}}' {IMAGE}").strip() == image_id

    # a killed container: its task fails and a new one runs in its slot (after swarm's 5 s restart delay)
    victim = seen["1"]
    the_lab.ssh(victim["node"], f"docker kill {victim['name']}")
    started = time.monotonic()
    healed = wait_for("slot 1 replaced", lambda: (s := converged(etcd, the_lab, 3)) and s["1"]["task"] != victim["task"]
                      and s, timeout=30)
    print(f"killed container replaced in {time.monotonic() - started:.1f} s")
    failed = next(t for t in tasks(etcd) if t.id == victim["task"])
    assert (failed.desired, failed.state) == ("shutdown", "failed") and "137" in failed.message

    # a stopped node: its tasks run elsewhere
    on_third = [c for c in healed.values() if c["node"] == third]
    assert on_third, f"no task on {third}: {healed}"
    stop = the_lab.cli("lab", "stop", "--name", the_lab.name, third)
    assert stop.returncode == 0, stop.stderr
    started = time.monotonic()
    moved = wait_for("the stopped node's tasks elsewhere", lambda: (s := converged(etcd, the_lab, 3))
                     and all(c["node"] != third for c in s.values()) and s, timeout=30, every=0.1)
    took = time.monotonic() - started
    print(f"node stopped -> its tasks running elsewhere in {took:.1f} s (goal {GOAL_NODE_DOWN:g} s)")
    assert took <= GOAL_NODE_DOWN

    # the leader SIGKILLed: the standby takes over and adopts what runs (same tasks, no new container)
    boss = leader(etcd)
    assert boss in (first, second)
    standby = second if boss == first else first
    before = {c["task"] for c in moved.values()}
    agents.procs[str(boss)].kill()
    started = time.monotonic()
    wait_for("the standby leads", lambda: leader(etcd) == standby, timeout=15, every=0.05)
    print(f"leader SIGKILLed -> standby elected in {time.monotonic() - started:.2f} s")
    wait_for("the standby's first pass", lambda: "leads" in agents.log(standby), timeout=5)
    time.sleep(3)
    after = converged(etcd, the_lab, 3)
    assert after is not None and {c["task"] for c in after.values()} == before
    print(f"leader RSS with 3 tasks: {agents.rss_mb(standby):.0f} MB")

    # the stopped node comes back: its stale containers are removed, never two for one slot
    start = the_lab.cli("lab", "start", "--name", the_lab.name, third)
    assert start.returncode == 0, start.stderr
    wait_for("no stale container left on the returning node",
             lambda: the_lab.ssh(third, "echo ok").strip() == "ok" and not [c for c in the_lab.containers(third)
                                                               if c["task"] not in before], timeout=40)
    assert converged(etcd, the_lab, 3) is not None

    # SIGTERM: resigns at once and exits
    proc = agents.procs[standby]
    started = time.monotonic()
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    print(f"SIGTERM -> agent exited in {time.monotonic() - started:.2f} s")
    wait_for("no leader", lambda: leader(etcd) is None, timeout=3)
