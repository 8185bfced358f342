"""`cluster status` shaping: what makes a cluster degraded, and what the document says."""

from __future__ import annotations

from stackctl.cluster.state import AgentRecord, NodeRecord, TaskRecord
from stackctl.cluster.status import InventoryNode, MemberHealth, member_health, shape, text
from stackctl.cluster.store import Snapshot

INVENTORY = [InventoryNode(f"n{i}", f"10.0.0.{i}", "manager") for i in (1, 2, 3)]
HEALTHY = [MemberHealth(f"n{i}", str(i), healthy=True, raft_leader=i == 2) for i in (1, 2, 3)]


def snapshot(**changes: object) -> Snapshot:
    base = {"revision": 10, "leader": "n1", "leader_revision": 7,
            "agents": [AgentRecord(node=f"n{i}", version="0.1.0", pid=i, started=50.0,
                                   role="leader" if i == 1 else "standby", leading_since=60.0 if i == 1 else 0.0)
                       for i in (1, 2, 3)],
            "nodes": [NodeRecord(name=f"n{i}", address=f"10.0.0.{i}", role="manager", state="ready") for i in (1, 2, 3)],
            "tasks": [TaskRecord(id="a" * 12, stack="s", service="web", slot=1, node="n2", state="running"),
                      TaskRecord(id="b" * 12, stack="s", service="web", slot=2, node="n2", desired="shutdown",
                                 state="shutdown")]}
    return Snapshot(**{**base, **changes})  # type: ignore[arg-type]


def test_a_healthy_cluster() -> None:
    doc = shape("c", manager="n1", members=HEALTHY, snapshot=snapshot(), inventory=INVENTORY, now=100.0)
    assert doc["healthy"] and doc["problems"] == []
    assert doc["leader"] == {"node": "n1", "revision": 7, "since": 60.0}
    assert [(a["node"], a["state"]) for a in doc["agents"]] == [("n1", "leader"), ("n2", "standby"), ("n3", "standby")]
    assert [n["tasks"] for n in doc["nodes"]] == [0, 1, 0]
    assert "cluster c: healthy" in text(doc) and "LEADER: n1 since" in text(doc)


def test_a_member_down_a_node_down_and_a_missing_agent_degrade_it() -> None:
    members = [*HEALTHY[:2], member_health("n3", "3", None, "node n3 is unreachable")]
    snap = snapshot(agents=snapshot().agents[:2],
                    nodes=[*snapshot().nodes[:2], NodeRecord(name="n3", address="x", state="down", message="gone")])
    doc = shape("c", manager="n1", members=members, snapshot=snap, inventory=INVENTORY, now=100.0)
    assert not doc["healthy"] and doc["etcd"]["quorum"]
    assert doc["problems"] == ["etcd member n3 is not healthy: node n3 is unreachable",
                               "the agent on n3 is not running", "node n3 is down: gone"]


def test_quorum_lost_means_no_leader() -> None:
    members = [HEALTHY[0], *(member_health(f"n{i}", str(i), None, "down") for i in (2, 3))]
    doc = shape("c", manager="n1", members=members, snapshot=snapshot(), inventory=INVENTORY, now=100.0)
    assert doc["leader"] is None and not doc["etcd"]["quorum"]
    assert any("lost quorum (1 of 3 members healthy)" in p for p in doc["problems"])


def test_no_leader_with_quorum_is_a_problem() -> None:
    doc = shape("c", manager="n1", members=HEALTHY, snapshot=snapshot(leader=None, leader_revision=0),
                inventory=INVENTORY, now=100.0)
    assert doc["leader"] is None and any(p.startswith("no leader") for p in doc["problems"])


def test_member_health_from_a_status_answer() -> None:
    ok = member_health("n1", "", {"header": {"member_id": "5"}, "leader": "5", "version": "3.4.23", "dbSize": "4096"})
    assert ok == MemberHealth("n1", "5", healthy=True, raft_leader=True, version="3.4.23", db_size=4096)
    cut = member_health("n2", "", {"header": {"member_id": "6"}, "leader": "0"})
    assert not cut.healthy and "no raft leader" in cut.message
