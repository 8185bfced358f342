"""The stackctl side of bench/cluster.py: the same measures through the CLI a user types.

Needs `stackctl cluster init|status`, `stack deploy|rm`, `service scale` (issue 11). `missing()` says
which is absent, and the bench then prints "stackctl: not available yet (<reason>)".
The leader is read with `stackctl cluster status --format json`; elections and the new leader's first
fenced write are watched in etcd itself (the JSON gateway on a surviving manager's loopback, reached
from inside its network namespace), with the contract's keys: leader = the oldest key under
``/stackctl/<cluster>/election/``, leader writes = keys under ``tasks/`` and ``nodes/``.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import time
from collections.abc import Mapping
from typing import Any

from _cluster_lab import WEBAPP, WEBAPP_WANT, BenchError, Lab, ServiceOf

VERBS = (("cluster", "init"), ("stack", "deploy"), ("stack", "rm"), ("service", "scale"))

# Runs inside a manager's network namespace: prints "elected <t> <node>" then "write <t>" (or "none").
WATCH = r"""
import base64, json, sys, time, urllib.request
prefix, old, timeout = sys.argv[1], sys.argv[2], float(sys.argv[3])
b = lambda s: base64.b64encode(s.encode()).decode()
def end(p): return p[:-1] + chr(ord(p[-1]) + 1)
def rng(body):
    req = urllib.request.Request("http://127.0.0.1:2379/v3/kv/range", json.dumps(body).encode())
    return json.loads(urllib.request.urlopen(req, timeout=2).read()).get("kvs", [])
deadline, rev = time.time() + timeout, None
if old == "-":  # only say who leads now
    kvs = rng({"key": b(prefix + "election/"), "range_end": b(end(prefix + "election/"))})
    kv = min(kvs, key=lambda kv: int(kv["create_revision"])) if kvs else {}
    print("leader", base64.b64decode(kv.get("value", "")).decode() or "-"); sys.exit(0)
while time.time() < deadline:
    try:
        kvs = rng({"key": b(prefix + "election/"), "range_end": b(end(prefix + "election/"))})
    except OSError:
        time.sleep(0.01); continue
    if kvs:
        kv = min(kvs, key=lambda kv: int(kv["create_revision"]))
        node = base64.b64decode(kv.get("value", "")).decode()
        if node and node != old:
            rev = int(kv["create_revision"]); print("elected", time.time(), node, flush=True); break
    time.sleep(0.01)
if rev is None:
    print("none"); sys.exit(0)
while time.time() < deadline:
    kvs = rng({"key": b(prefix), "range_end": b(end(prefix)), "keys_only": True, "min_mod_revision": rev + 1})
    keys = [base64.b64decode(kv["key"]).decode()[len(prefix):] for kv in kvs]
    if any(k.startswith(("tasks/", "nodes/")) for k in keys):
        print("write", time.time(), flush=True); sys.exit(0)
    time.sleep(0.01)
print("none")
"""


def stackctl_service_of(stack: str) -> ServiceOf:
    def service_of(labels: Mapping[str, str]) -> str | None:
        return labels.get("io.stackctl.service") if labels.get("io.stackctl.stack") == stack else None

    return service_of


def missing(lab: Lab) -> str | None:
    """None when every verb the bench needs exists, else why not."""
    for verb in VERBS:
        out = lab.stackctl(*verb, "--help", check=False, timeout=30)
        if out.returncode != 0:
            return f"`stackctl {' '.join(verb)}` is missing"
    return None


class Stackctl:
    def __init__(self, lab: Lab, workdir: pathlib.Path) -> None:
        self.lab = lab
        self.workdir = workdir
        self.moved: list[int] = []  # tasks on each stopped node
        self.notes: set[str] = set()
        self.has_status: bool | None = None
        self.cluster = str(json.loads(lab.inventory.read_text(encoding="utf-8")).get("name", lab.name))

    @property
    def prefix(self) -> str:
        return f"/stackctl/{self.cluster}/"

    def init(self) -> None:
        self.lab.stackctl("cluster", "init", timeout=600)
        self.leader()

    def deploy(self, stack: str, text: str) -> float:
        path = self.workdir / f"stackctl-{stack}.yaml"
        path.write_text(text, encoding="utf-8")
        start = time.perf_counter()
        self.lab.stackctl("stack", "deploy", "-c", str(path), stack, timeout=600)
        return time.perf_counter() - start

    def rm(self, stack: str) -> None:
        self.lab.stackctl("stack", "rm", stack, timeout=300)
        self.lab.wait_gone(stack)

    def status(self) -> dict[str, Any]:
        out = self.lab.stackctl("cluster", "status", "--format", "json", check=False, timeout=60)
        try:
            return dict(json.loads(out.stdout))
        except ValueError as e:
            raise BenchError(f"`stackctl cluster status --format json` printed no JSON object: "
                             f"{(out.stdout or out.stderr)[:300]}") from e

    def leader(self) -> str:
        """The leader's node, from `cluster status --format json`, else (no such verb yet) from etcd."""
        if self.has_status is None:
            self.has_status = self.lab.stackctl("cluster", "status", "--help", check=False).returncode == 0
        if not self.has_status:
            return self.etcd_leader()
        doc = self.status()
        leader = doc.get("leader")
        if isinstance(leader, dict):
            leader = leader.get("node") or leader.get("name")
        if not leader:
            agents = doc.get("agents") or []
            leader = next((a.get("node") for a in agents if isinstance(a, dict) and a.get("role") == "leader"), None)
        if not isinstance(leader, str) or leader not in {n.name for n in self.lab.nodes}:
            raise BenchError(f"no leader in `stackctl cluster status --format json`: {json.dumps(doc)[:300]}")
        return leader

    def etcd_leader(self) -> str:
        for node in self.lab.nodes:
            out = self.lab.node_run(node.name, ["python3", "-c", WATCH, self.prefix, "-", "5"], check=False)
            words = out.stdout.split()
            if out.returncode == 0 and words[:1] == ["leader"] and words[1] != "-":
                return words[1]
        raise BenchError(f"no leader key under {self.prefix}election/ in etcd on any manager")

    # --- measures ----------------------------------------------------------------------------

    def scale_once(self, stack: str) -> float:
        of = stackctl_service_of(stack)
        self.lab.wait_converged(stack, of, {"sl": 1})
        start = time.perf_counter()
        self.lab.stackctl("service", "scale", f"{stack}_sl=30", timeout=300)
        self.lab.wait_converged(stack, of, {"sl": 30}, timeout=300)
        elapsed = time.perf_counter() - start
        self.lab.stackctl("service", "scale", f"{stack}_sl=1", timeout=300)
        self.lab.wait_converged(stack, of, {"sl": 1}, timeout=120)
        return elapsed

    def deploy_once(self, stack: str) -> tuple[float, float]:
        """(from nothing until converged, the same deploy again with nothing changed)."""
        start = time.perf_counter()
        self.deploy(stack, WEBAPP)
        self.lab.wait_converged(stack, stackctl_service_of(stack), WEBAPP_WANT, timeout=300)
        elapsed = time.perf_counter() - start
        again = self.deploy(stack, WEBAPP)
        self.rm(stack)
        return elapsed, again

    def leader_stop_once(self, sig: signal.Signals) -> tuple[float, float | None]:
        """The leader agent gets `sig` -> (a new leader elected, its first fenced write or None)."""
        old = self.leader()
        witness = next(n for n in self.lab.nodes if n.name != old)
        watch = subprocess.Popen(["nsenter", f"--net=/run/netns/{witness.netns}", "python3", "-c", WATCH,
                                  self.prefix, old, "60"], stdout=subprocess.PIPE, text=True)
        if not self.has_status:
            self.notes.add("leader read from etcd: `stackctl cluster status` is missing")
        time.sleep(0.5)  # the watcher is polling before the kill
        pids = self.agent_pids(old)
        if not pids:
            watch.kill()
            raise BenchError(f"no `stackctl agent` process found on {old}")
        killed = time.time()
        for pid in pids:
            os.kill(pid, sig)
        try:
            out, _ = watch.communicate(timeout=90)
        finally:
            watch.kill()
            self.lab.start(old)  # `lab start` starts the node's agent again (the supervisor did already)
        lines = {ln.split()[0]: ln.split()[1:] for ln in out.splitlines() if ln.strip()}
        if "elected" not in lines:
            raise BenchError(f"no new leader within 60 s after {sig.name} to the agent on {old}")
        elected = float(lines["elected"][0]) - killed
        write = float(lines["write"][0]) - killed if "write" in lines else None
        return elected, write

    def agent_pids(self, node: str) -> list[int]:
        """The node's `stackctl agent` processes that are not a supervisor of another one."""
        agents: dict[int, int] = {}
        for pid in self.lab.node_pids(node):
            try:
                argv = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                ppid = int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            words = b" ".join(argv)
            if b"stackctl" in words and b"agent" in words:
                agents[pid] = ppid
        return [pid for pid in agents if pid not in agents.values()]

    def respread(self, stack: str, replicas: int) -> None:
        """Down to 1 and up again: the new tasks go to the nodes with the fewest."""
        of = stackctl_service_of(stack)
        for n in (1, replicas):
            self.lab.stackctl("service", "scale", f"{stack}_sl={n}", timeout=300)
            self.lab.wait_converged(stack, of, {"sl": n}, timeout=300)

    def node_loss_once(self, stack: str, replicas: int) -> float:
        of = stackctl_service_of(stack)
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
        self.lab.wait_converged(stack, of, {"sl": replicas}, timeout=180)
        return elapsed

