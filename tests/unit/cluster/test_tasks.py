"""desired_tasks: the tasks a stack should have, kept, created and removed."""

from __future__ import annotations

import itertools
from typing import Any

from stackctl.cluster.state import NodeRecord, ServiceRecord, StackRecord, TaskRecord
from stackctl.cluster.tasks import TaskDelta, desired_tasks, replace

NOW = 1000.0


def ids() -> Any:
    counter = itertools.count(0xA00)
    return lambda: f"{next(counter):012x}"


def stack(**services: dict[str, Any]) -> StackRecord:
    return StackRecord(name="shop", document={"services": services or {"web": {"image": "nginx"}}}, version=1)


def service(name: str = "web", *, replicas: int = 3, mode: str = "replicated", spec_hash: str = "h1") -> ServiceRecord:
    return ServiceRecord(stack="shop", service=name, version=2, spec_hash=spec_hash, mode=mode,  # type: ignore[arg-type]
                         replicas=replicas)


def node(name: str, *, state: str = "ready", availability: str = "active", **labels: str) -> NodeRecord:
    return NodeRecord(name=name, address="10.0.0.1", state=state, availability=availability,  # type: ignore[arg-type]
                      labels=labels)


def task(slot: int, *, tid: str | None = None, node_name: str | None = "n1", state: str = "running",
         svc: str = "web", spec_hash: str = "h1", desired: str = "running", leader_rev: int = 5) -> TaskRecord:
    return TaskRecord(id=tid or f"{slot:012x}", stack="shop", service=svc, slot=slot, node=node_name,
                      state=state, desired=desired, spec_hash=spec_hash, leader_rev=leader_rev)  # type: ignore[arg-type]


def delta(svc: list[ServiceRecord], nodes: list[NodeRecord], existing: list[TaskRecord], **docs: dict[str, Any],
          ) -> TaskDelta:
    return desired_tasks(stack(**docs), svc, nodes, existing, new_id=ids(), now=NOW, leader_rev=7)


NODES = [node("n1"), node("n2"), node("n3")]


def test_a_new_service_gets_pending_tasks_in_slots_1_to_n() -> None:
    d = delta([service(replicas=3)], NODES, [])
    assert [(t.slot, t.node, t.state, t.desired) for t in d.create] == [(s, None, "pending", "running") for s in (1, 2, 3)]
    assert {t.id for t in d.create} == {"000000000a00", "000000000a01", "000000000a02"}
    first = d.create[0]
    assert (first.spec_hash, first.service_version, first.leader_rev, first.created) == ("h1", 2, 7, NOW)
    assert not d.keep and not d.remove


def test_no_change_keeps_every_task_id() -> None:
    existing = [task(1), task(2, node_name="n2"), task(3, node_name=None, state="pending")]
    d = delta([service(replicas=3)], NODES, existing)
    assert d.keep == tuple(existing) and not d.changed


def test_scale_up_fills_the_lowest_free_slots() -> None:
    d = delta([service(replicas=4)], NODES, [task(1), task(3)])
    assert [t.slot for t in d.create] == [2, 4]


def test_scale_down_removes_the_highest_slots_first() -> None:
    existing = [task(s) for s in (1, 2, 3, 4, 5)]
    d = delta([service(replicas=2)], NODES, existing)
    assert [t.slot for t in d.keep] == [1, 2]
    assert [(t.slot, t.desired, t.message, t.updated) for t in d.remove] == [
        (s, "shutdown", "scaled down to 2", NOW) for s in (5, 4, 3)]


def test_a_task_on_a_down_or_drained_node_is_replaced_in_the_same_slot() -> None:
    nodes = [node("n1", state="down"), node("n2", availability="drain"), node("n3", availability="pause")]
    existing = [task(1, node_name="n1"), task(5, node_name="n2"), task(3, node_name="n3")]
    d = delta([service(replicas=3)], nodes, existing)
    assert [t.slot for t in d.keep] == [3]  # pause: keeps what runs there
    assert sorted(t.slot for t in d.create) == [1, 5]
    assert {t.message for t in d.remove} == {"node n1 is down", "node n2 drained"}


def test_an_unknown_node_state_keeps_its_tasks() -> None:
    d = delta([service(replicas=1)], [node("n1", state="unknown")], [task(1)])
    assert not d.changed


def test_a_task_whose_node_no_longer_meets_the_constraints_moves() -> None:
    doc = {"image": "nginx", "deploy": {"placement": {"constraints": ["node.labels.disk==ssd"]}}}
    nodes = [node("n1", disk="hdd"), node("n2", disk="ssd")]
    d = delta([service(replicas=2)], nodes, [task(1, node_name="n1"), task(2, node_name="n2")], web=doc)
    assert [t.slot for t in d.keep] == [2] and [t.slot for t in d.create] == [1]
    assert d.remove[0].message == "node n1 no longer meets the constraints"


def test_two_live_tasks_in_one_slot_keep_the_one_furthest_along() -> None:
    old = task(1, tid="0000000000aa", state="running", leader_rev=3)
    new = task(1, tid="0000000000bb", state="starting", leader_rev=9, node_name="n2")
    d = delta([service(replicas=1)], NODES, [new, old])
    assert d.keep == (old,) and [t.id for t in d.remove] == ["0000000000bb"]
    assert d.remove[0].message == "duplicate of task 0000000000aa"


def test_shut_down_tasks_are_history_not_slots() -> None:
    d = delta([service(replicas=1)], NODES, [task(1, desired="shutdown", state="shutdown")])
    assert [t.slot for t in d.create] == [1] and not d.remove


def test_tasks_of_a_service_no_longer_in_the_stack_are_removed() -> None:
    d = delta([service("web", replicas=1)], NODES, [task(1), task(1, svc="old", tid="00000000000f")])
    assert [(t.service, t.message) for t in d.remove] == [("old", "service old removed from the stack")]


def test_outdated_tasks_are_named() -> None:
    d = delta([service(replicas=2, spec_hash="h2")], NODES, [task(1), task(2, spec_hash="h2")])
    assert [t.slot for t in d.outdated] == [1]


def test_global_one_task_per_eligible_node_and_later_joiners() -> None:
    svc = [service(mode="global")]
    doc = {"image": "agent", "deploy": {"mode": "global", "placement": {"constraints": ["node.role==worker"]}}}
    nodes = [node("n1"), node("n2", state="down"), node("n3", availability="pause"),
             NodeRecord(name="m1", address="x", role="manager", state="ready")]
    d = delta(svc, nodes, [], web=doc)
    assert [(t.slot, t.node) for t in d.create] == [(0, "n1")]
    joined = delta(svc, [*nodes, node("n4")], list(d.create), web=doc)
    assert [t.node for t in joined.create] == ["n4"] and [t.node for t in joined.keep] == ["n1"]


def test_global_tasks_stay_on_paused_and_down_nodes_and_leave_drained_ones() -> None:
    svc = [service(mode="global")]
    nodes = [node("n1", state="down"), node("n2", availability="pause"), node("n3", availability="drain")]
    existing = [task(0, node_name=n, tid=f"00000000000{i}") for i, n in enumerate(("n1", "n2", "n3", "n9"))]
    d = delta(svc, nodes, existing)
    assert [t.node for t in d.keep] == ["n1", "n2"]
    assert sorted(t.message for t in d.remove) == ["node n3 drained", "node n9 left the cluster"]
    assert not d.create


def test_replace_keeps_the_slot_and_makes_a_new_pending_task() -> None:
    failed = task(2, state="failed")
    old, new = replace(failed, new_id=lambda: "00000000beef", now=NOW, leader_rev=8, message="task failed")
    assert (old.desired, old.message, old.state) == ("shutdown", "task failed", "failed")
    assert (new.id, new.slot, new.node, new.state, new.leader_rev, new.container_id) == (
        "00000000beef", 2, None, "pending", 8, None)
    _, again = replace(task(0, node_name="n3"), new_id=lambda: "00000000cafe", now=NOW)
    assert again.node == "n3"  # a global task is restarted on its node
