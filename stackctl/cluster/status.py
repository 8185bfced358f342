"""`stackctl cluster status`: the health of a cluster, shaped from what the CLI read.

Pure: the etcd members' answers, the state snapshot (read serializably, so it is there even when etcd has
lost quorum), the inventory's nodes and the clock reading come in as arguments. The result is one JSON
document (``--format json``) with a list of ``problems``; the CLI exits 0 when there is none, 3 when the
cluster is degraded: an etcd member not healthy (or quorum lost), no leader, a manager without a running
agent, a node not ready.
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from stackctl.cluster.scheduler import live_on_node
from stackctl.cluster.state import AgentRecord, NodeRecord, TaskRecord
from stackctl.cluster.store import Snapshot
from stackctl.cluster.views import table
from stackctl.humanize import human_duration


@dataclass(frozen=True)
class MemberHealth:
    """One etcd member as its own manager's loopback answered (or why it did not)."""

    name: str
    member_id: str = ""
    healthy: bool = False
    raft_leader: bool = False  # this member is etcd's raft leader
    version: str = ""
    db_size: int = 0
    message: str = ""  # why it is not healthy


@dataclass(frozen=True)
class InventoryNode:
    name: str
    address: str
    role: str


def member_health(name: str, member_id: str, status: Mapping[str, Any] | None, error: str = "") -> MemberHealth:
    """A member from its ``maintenance/status`` answer (None: it did not answer, ``error`` says why)."""
    if status is None:
        return MemberHealth(name, member_id, message=error or "does not answer")
    header = status.get("header") or {}
    own = str(header.get("member_id") or member_id)
    raft = str(status.get("leader") or "0")
    errors = [str(e) for e in status.get("errors") or ()]
    message = "; ".join(errors) if errors else ("" if raft != "0" else "no raft leader (cut off from the others?)")
    try:
        size = int(status.get("dbSize") or 0)
    except (TypeError, ValueError):
        size = 0
    return MemberHealth(name, own, healthy=not message, raft_leader=raft == own and raft != "0",
                        version=str(status.get("version") or ""), db_size=size, message=message)


def _live_tasks(tasks: Sequence[TaskRecord], node: str) -> int:
    return sum(1 for t in tasks if t.node == node and live_on_node(t))


def _agents(managers: Sequence[str], agents: Sequence[AgentRecord], leader: str | None) -> list[dict[str, Any]]:
    by_node = {a.node: a for a in agents}
    rows: list[dict[str, Any]] = []
    for name in sorted(set(managers) | set(by_node)):
        a = by_node.get(name)
        if a is None:
            rows.append({"node": name, "version": None, "state": "down", "pid": None, "started": None})
        else:
            rows.append({"node": name, "version": a.version, "state": "leader" if name == leader else "standby",
                         "pid": a.pid, "started": a.started})
    return rows


def _nodes(inventory: Sequence[InventoryNode], records: Sequence[NodeRecord],
           tasks: Sequence[TaskRecord]) -> list[dict[str, Any]]:
    by_name = {r.name: r for r in records}
    rows = []
    for name in [n.name for n in inventory] + sorted(set(by_name) - {n.name for n in inventory}):
        rec = by_name.get(name)
        inv = next((n for n in inventory if n.name == name), None)
        rows.append({"name": name, "address": rec.address if rec else inv.address if inv else "",
                     "role": rec.role if rec else inv.role if inv else "",
                     "availability": rec.availability if rec else None,
                     "state": rec.state if rec else "unknown",
                     "message": rec.message if rec else "not in the cluster state (has `cluster init` run?)",
                     "tasks": _live_tasks(tasks, name), "last_seen": rec.last_seen if rec else None,
                     "engine_version": rec.engine_version if rec else ""})
    return rows


def shape(cluster: str, *, manager: str, members: Sequence[MemberHealth], snapshot: Snapshot | None,
          state_error: str = "", inventory: Sequence[InventoryNode], now: float) -> dict[str, Any]:
    """The status document; ``manager`` is the one whose etcd answered the CLI."""
    problems: list[str] = []
    healthy = sum(1 for m in members if m.healthy)
    quorum = healthy > len(members) // 2 if members else False
    for m in members:
        if not m.healthy:
            problems.append(f"etcd member {m.name} is not healthy: {m.message}")
    managers = [n.name for n in inventory if n.role == "manager"]
    names = {m.name for m in members}
    for name in managers:
        if members and name not in names:
            problems.append(f"manager {name} is not an etcd member")
    if members and not quorum:
        problems.append(f"etcd has lost quorum ({healthy} of {len(members)} members healthy): the state cannot "
                        "change and no leader can act")
    snap = snapshot or Snapshot(revision=0)
    if snapshot is None:
        problems.append(f"the cluster state could not be read: {state_error or 'no answer'}")
    leader_name = snap.leader if quorum else None
    leader: dict[str, Any] | None = None
    if leader_name:
        rec = next((a for a in snap.agents if a.node == leader_name), None)
        since = rec.leading_since if rec is not None and rec.leading_since else None
        leader = {"node": leader_name, "revision": snap.leader_revision, "since": since}
    elif quorum and snapshot is not None:
        problems.append("no leader: no agent is campaigning (are the agents running?)")
    agents = _agents(managers, snap.agents, leader_name)
    for a in agents:
        if a["state"] == "down":
            problems.append(f"the agent on {a['node']} is not running")
    nodes = _nodes(inventory, snap.nodes, snap.tasks)
    for n in nodes:
        if n["state"] != "ready" and snapshot is not None:
            why = f": {n['message']}" if n["message"] else ""
            problems.append(f"node {n['name']} is {n['state']}{why}")
    return {"cluster": cluster, "healthy": not problems, "manager": manager,
            "etcd": {"quorum": quorum, "healthy_members": healthy, "members": [asdict(m) for m in members]},
            "leader": leader, "agents": agents, "nodes": nodes, "problems": problems, "time": now}


def _when(ts: float | None, now: float) -> str:
    if not ts:
        return "-"
    at = datetime.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S")
    return f"{at} ({human_duration(max(0.0, now - ts))} ago)"


def _size(n: int) -> str:
    for unit in ("B", "kB", "MB", "GB"):
        if n < 1000 or unit == "GB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n = n / 1000  # type: ignore[assignment]
    return "-"  # pragma: no cover


def text(doc: Mapping[str, Any]) -> str:
    """The status as a person reads it: a verdict, then members, leader, agents, nodes, problems."""
    now = float(doc.get("time") or 0)
    verdict = "healthy" if doc["healthy"] else f"DEGRADED ({len(doc['problems'])} problem" + (
        "s)" if len(doc["problems"]) != 1 else ")")
    out = [f"cluster {doc['cluster']}: {verdict} (read through {doc['manager']})", ""]
    etcd = doc["etcd"]
    out.append(table(["ETCD MEMBER", "HEALTH", "RAFT", "VERSION", "DB SIZE", "MESSAGE"], (
        [m["name"], "healthy" if m["healthy"] else "UNHEALTHY", "leader" if m["raft_leader"] else "follower"
         if m["healthy"] else "-", m["version"] or "-", _size(m["db_size"]) if m["db_size"] else "-",
         m["message"]] for m in etcd["members"])).rstrip("\n"))
    leader = doc["leader"]
    out.append("")
    out.append(f"LEADER: {leader['node']} since {_when(leader['since'], now)}, leader key revision "
               f"{leader['revision']}" if leader else "LEADER: none")
    out.append("")
    out.append(table(["AGENT", "STATE", "VERSION", "PID", "STARTED"], (
        [a["node"], a["state"], a["version"] or "-", str(a["pid"] or "-"), _when(a["started"], now)]
        for a in doc["agents"])).rstrip("\n"))
    out.append("")
    out.append(table(["NODE", "ROLE", "AVAILABILITY", "STATE", "TASKS", "MESSAGE"], (
        [n["name"], n["role"], n["availability"] or "-", n["state"], str(n["tasks"]), n["message"]]
        for n in doc["nodes"])).rstrip("\n"))
    if doc["problems"]:
        out.append("")
        out.append("problems:")
        out += [f"  - {p}" for p in doc["problems"]]
    return "\n".join(out) + "\n"
