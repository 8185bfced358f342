"""Faults on the real lab, driven through the real CLI as a user would: a leader killed mid-deploy, a
partitioned leader, a stopped worker, lost etcd members, a restarted dockerd, a changed host key, an image
that exists nowhere, a bad compose file.

Each test leaves the lab as it found it (nodes started, network healed, host keys back, stacks removed,
``cluster status`` healthy): the ``restored`` fixture checks it after every test. Containers are counted
on each node's own engine socket (as seen from this machine), so a node cut off from the network is
counted too. ``STACKCTL_FAULTS_LAB=<name>`` runs the tests on an existing, initialised lab of that name
(its files under ``STACKCTL_LAB_ROOT``) instead of the suite's ``stktest``.
"""

from __future__ import annotations

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
from tests.conftest import run_cli

pytestmark = pytest.mark.lab

IMAGE = "stackctl/busybox:latest"
# exits at once on SIGTERM (a plain `sleep` as PID 1 ignores it and waits for the 10 s stop grace)
COMMAND = ["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"]
GOAL_NODE_DOWN = 8.0


class FaultLab:
    def __init__(self, name: str, state: pathlib.Path, env: dict[str, str], tmp: pathlib.Path) -> None:
        self.name, self.state, self.env, self.tmp = name, state, env, tmp
        self.doc = json.loads((state / "inventory.json").read_text())
        self.nodes = [n["name"] for n in self.doc["nodes"]]
        self.timings: dict[str, float] = {}

    # -- the CLI ----------------------------------------------------------------------------------------
    def cli(self, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, env_vars=self.env, timeout=timeout)

    @staticmethod
    def cli_argv() -> list[str]:
        return [sys.executable, "-m", "stackctl"]

    def lab(self, verb: str, *args: str) -> None:
        out = self.cli("lab", verb, "--name", self.name, *args)
        assert out.returncode == 0, out.stderr

    def lab_ssh(self, node: str, command: str) -> subprocess.CompletedProcess[str]:
        return self.cli("lab", "ssh", "--name", self.name, node, command, timeout=30)

    def status(self) -> tuple[int, dict[str, Any]]:
        out = self.cli("cluster", "status", "--format", "json", timeout=60)
        assert out.returncode in (0, 3), out.stderr
        return out.returncode, json.loads(out.stdout)

    def leader(self) -> str:
        _, doc = self.status()
        assert doc["leader"], doc["problems"]
        return str(doc["leader"]["node"])

    def ps(self, service: str) -> list[dict[str, str]]:
        out = self.cli("service", "ps", service, "--format", "json", "--no-trunc")
        assert out.returncode == 0, out.stderr
        return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]

    def compose(self, name: str, services: dict[str, Any]) -> pathlib.Path:
        path = self.tmp / f"{name}.yaml"
        path.write_text(json.dumps({"services": services}))
        return path

    def deploy(self, stack: str, services: dict[str, Any], *extra: str,
               timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return self.cli("stack", "deploy", "-c", str(self.compose(stack, services)), *extra, stack, timeout=timeout)

    # -- the nodes' engines, on their own sockets -------------------------------------------------------
    def socket(self, node: str) -> pathlib.Path:
        return self.state / "nodes" / node / "run" / "docker.sock"

    def containers(self, node: str, stack: str) -> list[dict[str, str]]:
        """The stack's task containers on a node (all states); empty when its engine does not answer."""
        fmt = '{{.ID}} {{.State}} {{.Label "' + L.SLOT + '"}} {{.Label "' + L.TASK + '"}}'
        try:
            out = subprocess.run(["docker", "-H", f"unix://{self.socket(node)}", "ps", "-a", "--filter",
                                  f"label={L.STACK}={stack}", "--format", fmt],
                                 capture_output=True, text=True, timeout=5, check=False)
        except subprocess.TimeoutExpired:
            return []
        rows = [line.split() for line in out.stdout.splitlines() if line.strip()]
        return [{"node": node, "id": r[0], "state": r[1], "slot": r[2], "task": r[3]} for r in rows if len(r) == 4]

    def running(self, stack: str, nodes: list[str] | None = None) -> list[dict[str, str]]:
        return [c for n in nodes or self.nodes for c in self.containers(n, stack) if c["state"] == "running"]

    def node_dir(self, node: str) -> pathlib.Path:
        return self.state / "nodes" / node

    def node_pids(self, node: str, comm: str) -> list[int]:
        """The pids of the node's processes named ``comm`` (processes in its network namespace)."""
        out = subprocess.run(["ip", "netns", "pids", f"stackctl-{self.name}-{node}"], capture_output=True,
                             text=True, check=False)
        pids = []
        for pid in out.stdout.split():
            try:
                if pathlib.Path(f"/proc/{pid}/comm").read_text().strip() == comm:
                    pids.append(int(pid))
            except OSError:
                continue
        return pids


def elected_after(lab: FaultLab, since: float, nodes: list[str]) -> tuple[str, float] | None:
    """The first agent of ``nodes`` whose log says it leads after ``since`` (wall clock): (node, when)."""
    import datetime

    found = []
    for node in nodes:
        log = lab.node_dir(node) / "stackctl" / "log" / "agent.log"
        for line in log.read_text(errors="replace").splitlines() if log.exists() else ():
            if f"agent {node}: {node} leads (revision" in line:
                when = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
                if when > since:
                    found.append((when, node))
    return (min(found)[1], min(found)[0]) if found else None


def wait_for(check: Callable[[], Any], timeout: float, what: str, every: float = 0.2) -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"{what}: not within {timeout:g} s (last: {last!r})")


def one_per_slot(running: list[dict[str, str]], replicas: int) -> bool:
    return sorted(int(c["slot"]) for c in running) == list(range(1, replicas + 1))


def sleeper(replicas: int, **extra: Any) -> dict[str, Any]:
    return {"image": IMAGE, "command": COMMAND, "deploy": {"replicas": replicas}, **extra}


@pytest.fixture(scope="module")
def flab(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultLab]:
    name = os.environ.get("STACKCTL_FAULTS_LAB")
    tmp = tmp_path_factory.mktemp("faults")
    if name:
        root = pathlib.Path(os.environ.get("STACKCTL_LAB_ROOT", "/var/lib/stackctl-lab"))
        the_lab = FaultLab(name, root / name, dict(os.environ), tmp)
    else:
        cluster = request.getfixturevalue("cluster")
        the_lab = FaultLab(cluster.lab.name, cluster.lab.state, cluster.lab.env, tmp)
    yield the_lab
    print("\nfault timings: " + ", ".join(f"{k} {v:.1f} s" for k, v in the_lab.timings.items()))


@pytest.fixture
def restored(flab: FaultLab) -> Iterator[FaultLab]:
    """The test's lab; afterwards every node runs, the network is whole, no stack is left, status healthy."""
    yield flab
    flab.cli("lab", "heal", "--name", flab.name)
    for node in flab.nodes:
        flab.cli("lab", "start", "--name", flab.name, node)  # harmless on a running node
    stacks = flab.cli("stack", "ls", "--format", "json", timeout=60)
    names = [json.loads(line)["Name"] for line in stacks.stdout.splitlines() if line.strip()]
    if names:
        flab.cli("stack", "rm", *names)
    for stack in names:
        wait_for(lambda s=stack: not any(flab.containers(n, s) for n in flab.nodes), 60, f"stack {stack} removed")
    wait_for(lambda: flab.status()[0] == 0, 60, "cluster status healthy again")


# -- refused before any change --------------------------------------------------------------------------

def test_a_bad_compose_file_is_refused_before_any_change(restored: FaultLab) -> None:
    lab = restored
    assert lab.deploy("good", {"web": sleeper(2)}).returncode == 0
    before = {r["ID"] for r in lab.ps("good_web")}
    bad = {"web": {**sleeper(2), "deploy": {"replicas": "many"}}}
    for stack in ("good", "fresh"):
        out = lab.deploy(stack, bad)
        assert out.returncode == 1, out
        lines = out.stderr.strip().splitlines()
        assert len(lines) == 1 and "replicas" in lines[0], out.stderr
    refused = lab.deploy("good", {"web": {**sleeper(2), "network_mode": "service:db"}})
    assert refused.returncode == 1 and "network_mode" in refused.stderr and "Traceback" not in refused.stderr
    assert {r["ID"] for r in lab.ps("good_web")} == before  # nothing replaced
    stacks = [json.loads(line)["Name"] for line in lab.cli("stack", "ls", "--format", "json").stdout.splitlines()]
    assert stacks == ["good"]
    assert len(lab.running("good")) == 2


# -- an image on no node and in no registry -------------------------------------------------------------

def test_a_task_whose_image_exists_nowhere_stays_pending_with_the_reason(restored: FaultLab) -> None:
    lab = restored
    out = lab.deploy("ghost", {"web": {**sleeper(2), "image": "stackctl/nowhere:1"}}, "--timeout", "15")
    assert out.returncode == 1, out
    assert "stackctl/nowhere:1" in out.stderr and "Traceback" not in out.stderr, out.stderr
    rows = lab.ps("ghost_web")
    current = [r for r in rows if r["DesiredState"] == "Running"]
    assert len(current) == 2, rows
    for row in current:
        assert row["CurrentState"].startswith("Pending"), rows
        assert "stackctl/nowhere:1" in row["Error"], rows
    assert not any(lab.containers(n, "ghost") for n in lab.nodes)


# -- a worker stopped, then started ---------------------------------------------------------------------

def test_a_stopped_worker_s_replicas_run_elsewhere_within_the_goal_and_its_stale_ones_go_on_return(
        restored: FaultLab) -> None:
    lab = restored
    assert lab.deploy("w", {"web": sleeper(6)}).returncode == 0
    leader = lab.leader()
    victim = next(n for n in reversed(lab.nodes) if n != leader)
    others = [n for n in lab.nodes if n != victim]
    assert [c for c in lab.running("w") if c["node"] == victim], "the victim runs no task: nothing to test"
    started = time.monotonic()
    lab.lab("stop", victim)
    wait_for(lambda: one_per_slot(lab.running("w", others), 6), 30, "6 replicas running on the other nodes",
             every=0.1)
    lab.timings["node stopped -> replicas elsewhere"] = elapsed = time.monotonic() - started
    assert elapsed <= GOAL_NODE_DOWN, f"{elapsed:.1f} s"
    rows = [r for r in lab.ps("w_web") if r["DesiredState"] == "Running"]
    assert sorted(r["Node"] for r in rows if r["Node"] == victim) == [] and len(rows) == 6
    lab.lab("start", victim)
    wait_for(lambda: lab.status()[1]["nodes"][lab.nodes.index(victim)]["state"] == "ready", 30, f"{victim} ready")
    wait_for(lambda: not lab.containers(victim, "w"), 20, f"stale containers removed from {victim}")
    assert one_per_slot(lab.running("w"), 6)


# -- the leader agent killed in the middle of a deploy --------------------------------------------------

def test_the_leader_killed_mid_deploy_the_deploy_completes_with_exactly_n_tasks(restored: FaultLab) -> None:
    lab = restored
    leader = lab.leader()
    pid = next(a["pid"] for a in lab.status()[1]["agents"] if a["node"] == leader)
    deploy = subprocess.Popen(
        [*lab.cli_argv(), "stack", "deploy", "-c", str(lab.compose("k", {"web": sleeper(9)})), "k"],
        env=lab.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_for(lambda: any(lab.containers(n, "k") for n in lab.nodes), 60, "the first task container", every=0.05)
        killed, at = time.monotonic(), time.time()
        kill = lab.lab_ssh(leader, f"kill -9 {pid}")
        assert kill.returncode == 0, kill.stderr
        out, err = deploy.communicate(timeout=120)
    finally:
        if deploy.poll() is None:
            deploy.kill()
    lab.timings["leader SIGKILL -> deploy converged"] = time.monotonic() - killed
    assert deploy.returncode == 0, out + err
    elected = elected_after(lab, at, lab.nodes)
    assert elected is not None, "no agent took the lead after the kill"
    lab.timings["leader SIGKILL -> new leader elected"] = elected[1] - at
    assert "9/9 running" in out
    running = lab.running("k")
    assert one_per_slot(running, 9), running
    time.sleep(2)  # nothing more comes: no duplicate started late
    every = [c for n in lab.nodes for c in lab.containers(n, "k")]
    assert len(every) == 9 and one_per_slot([c for c in every if c["state"] == "running"], 9), every
    tasks = [r for r in lab.ps("k_web") if r["DesiredState"] == "Running"]
    assert len(tasks) == 9 and all(r["CurrentState"].startswith("Running") for r in tasks), tasks


# -- the leader cut off from the network ----------------------------------------------------------------

async def _with_client(lab: FaultLab, work: Callable[[Any], Any]) -> Any:
    from stackctl.cluster.client import ClusterClient
    from stackctl.cluster.inventory import load_inventory

    async with ClusterClient.open(load_inventory(lab.state / "inventory.json")) as cc:
        return await work(cc)


def leader_key(lab: FaultLab) -> tuple[str, int]:
    """The current leader key and its create revision (what the leader's writes are fenced on)."""
    import asyncio

    async def work(cc: Any) -> tuple[str, int]:
        kv = await cc.etcd.leader(cc.store.election)
        assert kv is not None
        return str(kv.key), int(kv.create_revision)

    return asyncio.run(_with_client(lab, work))  # type: ignore[no-any-return]


def fenced_write(lab: FaultLab, key: tuple[str, int]) -> str:
    """A task write fenced on ``key``, as the agent that held it would make it: "accepted" or the refusal."""
    import asyncio

    from stackctl.cluster.etcd import Compare
    from stackctl.cluster.state import TaskRecord
    from stackctl.errors import Deposed

    async def work(cc: Any) -> str:
        task = TaskRecord(id="0123456789ab", stack="fenced", service="web", slot=1, leader_rev=key[1])
        try:
            await cc.store.write_tasks([Compare.create_revision(key[0], key[1])], [task])
        except Deposed as exc:
            return str(exc)
        await cc.store.write_tasks([Compare.create_revision(key[0], key[1])], [], [task])
        return "accepted"

    return asyncio.run(_with_client(lab, work))  # type: ignore[no-any-return]


def test_a_partitioned_leader_is_fenced_another_leads_and_no_duplicate_remains_after_heal(
        restored: FaultLab) -> None:
    lab = restored
    assert lab.deploy("p", {"web": sleeper(6)}).returncode == 0
    old = lab.leader()
    old_key = leader_key(lab)
    assert fenced_write(lab, old_key) == "accepted"  # the control: the leader's fence holds while it leads
    others = [n for n in lab.nodes if n != old]
    started, cut = time.monotonic(), time.time()
    lab.lab("partition", old)
    # the new leader acts: the cut-off node's slots run again on the others (counted on their engines)
    wait_for(lambda: one_per_slot(lab.running("p", others), 6), 30, "6 replicas on the connected nodes", every=0.1)
    lab.timings["leader partitioned -> replicas on the others"] = time.monotonic() - started

    def other_leader() -> str | None:
        doc = lab.status()[1]
        return doc["leader"]["node"] if doc["leader"] and doc["leader"]["node"] != old else None

    new = wait_for(other_leader, 30, "another leader")
    elected = elected_after(lab, cut, others)
    assert elected is not None and elected[0] == new
    lab.timings["leader partitioned -> new leader elected"] = elected[1] - cut
    assert new in others
    # the old leader's writes are refused, and it knows it no longer leads
    assert "no longer the leader" in fenced_write(lab, old_key)
    log = (lab.node_dir(old) / "stackctl" / "log" / "agent.log").read_text(errors="replace")
    assert f"{old} no longer leads" in log.split(f"{old} leads (revision {old_key[1]})")[-1], log[-2000:]
    assert lab.running("p", [old]), "the cut-off node's containers keep running meanwhile"
    lab.lab("heal")
    healed = time.monotonic()
    wait_for(lambda: lab.status()[0] == 0, 40, "healthy after heal")
    wait_for(lambda: not lab.containers(old, "p"), 20, f"stale containers removed from {old}")
    lab.timings["heal -> stale containers removed"] = time.monotonic() - healed
    time.sleep(2)
    running = lab.running("p")
    assert one_per_slot(running, 6), (running, lab.cli("service", "ps", "p_web").stdout)
    _, after = lab.status()
    assert [a["node"] for a in after["agents"] if a["state"] == "leader"] == [after["leader"]["node"]]
    assert after["leader"]["revision"] != old_key[1]


# -- etcd members lost ----------------------------------------------------------------------------------

def stop_etcd(lab: FaultLab, node: str) -> None:
    """Stop the node's etcd member as `systemctl stop` would: its supervisor and etcd (SIGTERM)."""
    out = lab.lab_ssh(node, "kill -TERM $(cat /run/stackctl-etcd.pid)")
    assert out.returncode == 0, out.stderr
    wait_for(lambda: not lab.node_pids(node, "etcd"), 15, f"etcd stopped on {node}")


def test_one_etcd_member_lost_deploys_work_two_lost_a_deploy_fails_in_one_line_and_tasks_keep_running(
        restored: FaultLab) -> None:
    lab = restored
    assert lab.deploy("e1", {"web": sleeper(3)}).returncode == 0
    first, second = lab.nodes[0], lab.nodes[1]  # node1 is the CLI's first choice: it must move on
    stop_etcd(lab, first)
    code, doc = lab.status()
    assert code == 3 and any(f"etcd member {first}" in p for p in doc["problems"]), doc["problems"]
    started = time.monotonic()
    out = lab.deploy("e2", {"web": sleeper(3)})
    lab.timings["deploy with 1 of 3 etcd members lost"] = time.monotonic() - started
    assert out.returncode == 0, out.stderr
    assert one_per_slot(lab.running("e2"), 3)
    stop_etcd(lab, second)
    code, doc = lab.status()
    assert code == 3 and not doc["etcd"]["quorum"] and doc["leader"] is None, doc
    started = time.monotonic()
    out = lab.deploy("e3", {"web": sleeper(3)}, timeout=60)
    lab.timings["deploy refused with 2 of 3 etcd members lost"] = time.monotonic() - started
    assert out.returncode == 1, out
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "etcd" in lines[0] and "Traceback" not in out.stderr, out.stderr
    time.sleep(3)  # without quorum no leader acts: nothing is stopped either
    assert one_per_slot(lab.running("e1"), 3) and one_per_slot(lab.running("e2"), 3)
    for node in (first, second):
        lab.lab("start", node)
    wait_for(lambda: lab.status()[0] == 0, 40, "healthy with the members back")
    assert one_per_slot(lab.running("e1"), 3) and one_per_slot(lab.running("e2"), 3)


# -- a worker's dockerd restarted -----------------------------------------------------------------------

def test_a_restarted_dockerd_s_tasks_come_back(restored: FaultLab) -> None:
    lab = restored
    assert lab.deploy("d", {"web": sleeper(3)}).returncode == 0
    node = next(c["node"] for c in lab.running("d"))
    out = lab.lab_ssh(node, "kill -TERM $(cat /run/docker.pid)")
    assert out.returncode == 0, out.stderr
    started = time.monotonic()
    wait_for(lambda: not lab.node_pids(node, "dockerd"), 30, f"dockerd stopped on {node}")
    lab.lab("start", node)
    wait_for(lambda: one_per_slot(lab.running("d"), 3) and len(lab.running("d")) == 3, 30, "3 tasks running again")
    lab.timings["dockerd restarted -> tasks back"] = time.monotonic() - started
    rows = [r for r in lab.ps("d_web") if r["DesiredState"] == "Running"]
    assert len(rows) == 3 and all(r["CurrentState"].startswith("Running") for r in rows), rows


# -- a node's host key changed --------------------------------------------------------------------------

def restart_sshd(lab: FaultLab, node: str) -> None:
    """sshd restarted on the node, every session of it ended (as when the machine is rebuilt)."""
    for pid in lab.node_pids(node, "sshd"):
        os.kill(pid, signal.SIGKILL)
    wait_for(lambda: not lab.node_pids(node, "sshd"), 10, f"sshd gone on {node}")
    lab.lab("start", node)


def test_a_node_whose_host_key_changed_is_reported_unreachable_with_the_reason_and_never_trusted(
        restored: FaultLab) -> None:
    lab = restored
    assert lab.deploy("h", {"web": sleeper(3)}).returncode == 0
    leader = lab.leader()
    node = next(n for n in reversed(lab.nodes) if n != leader)
    others = [n for n in lab.nodes if n != node]
    key = lab.node_dir(node) / "ssh_host_ed25519_key"
    saved = lab.tmp / "saved_host_key"
    saved.write_bytes(key.read_bytes())
    try:
        key.unlink()
        (lab.node_dir(node) / "ssh_host_ed25519_key.pub").unlink(missing_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
        started = time.monotonic()
        restart_sshd(lab, node)
        wait_for(lambda: one_per_slot(lab.running("h", others), 3), 30, "3 replicas on the other nodes")
        lab.timings["host key changed -> replicas elsewhere"] = time.monotonic() - started
        time.sleep(3)  # and it stays so: the new key is not trusted later either
        code, doc = lab.status()
        row = next(n for n in doc["nodes"] if n["name"] == node)
        assert code == 3 and row["state"] == "down" and "host key CHANGED" in row["message"], row
        ls = json.loads(lab.cli("node", "ls", "--format", "json").stdout)
        mine = next(n for n in ls if n["name"] == node)
        assert mine["status"] == "host-key" and "host key CHANGED" in mine["error"], mine
        assert lab.deploy("h2", {"web": sleeper(2)}).returncode == 0  # the others keep working
        assert {c["node"] for c in lab.running("h2")} <= set(others)
    finally:
        key.write_bytes(saved.read_bytes())
        key.chmod(0o600)
        restart_sshd(lab, node)
    wait_for(lambda: lab.status()[0] == 0, 40, "healthy with the old key back")
    wait_for(lambda: not lab.containers(node, "h"), 20, f"stale containers removed from {node}")
    assert one_per_slot(lab.running("h"), 3)
