"""The tasks a stack should have, from its services and nodes, against the tasks it has.

Replicated services have slots; the live tasks (desired ``running``) are kept with their ids, the lowest
``replicas`` slots of them, and scale-down removes the highest slots first. A missing slot gets a new task:
a slot freed in this pass (its node went down, was drained, left the cluster or no longer meets the
constraints) keeps its number, the others take the lowest free numbers. Global services have one task
per node that is ready, ``active`` and meets the constraints (nodes that join later too); a paused or
down node keeps its task, a drained one or one that no longer meets the constraints loses it. Two live
tasks for one slot (or one node) keep the one furthest along. New tasks are ``pending``, with ids from
the injected ``new_id()``; tasks to remove come back with ``desired="shutdown"`` and a message saying why.
The restart policy (replacing a failed task after its delay) is the reconciler's: see :func:`replace`.
Pure code: time and ids are arguments.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stackctl.cluster.scheduler import Requirements, requirements
from stackctl.cluster.state import NodeRecord, ServiceRecord, StackRecord, TaskRecord

# how far along a task is, to choose between two live tasks of one slot
_PROGRESS = {"running": 5, "starting": 4, "assigned": 3, "pending": 2}


@dataclass(frozen=True, slots=True)
class TaskDelta:
    """What to write: ``create`` new task records; ``remove`` existing ones, already set to
    ``desired="shutdown"`` with the reason in ``message`` (highest slots first); ``keep`` the live tasks
    that stay, of which ``outdated`` run an older spec than their service's ``spec_hash``."""

    create: tuple[TaskRecord, ...] = ()
    keep: tuple[TaskRecord, ...] = ()
    remove: tuple[TaskRecord, ...] = ()
    outdated: tuple[TaskRecord, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.create or self.remove)


def desired_tasks(stack: StackRecord, services: Sequence[ServiceRecord], nodes: Sequence[NodeRecord],
                  existing: Iterable[TaskRecord], *, new_id: Callable[[], str], now: float,
                  leader_rev: int = 0) -> TaskDelta:
    """The delta from the ``existing`` tasks of ``stack`` to the ones its ``services`` want on ``nodes``."""
    by_service: dict[str, list[TaskRecord]] = {}
    for task in existing:
        if task.stack == stack.name and task.desired == "running":
            by_service.setdefault(task.service, []).append(task)
    specs: Mapping[str, Any] = stack.document.get("services") or {}
    nodes_by_name = {n.name: n for n in nodes}
    create: list[TaskRecord] = []
    keep: list[TaskRecord] = []
    remove: list[TaskRecord] = []
    for svc in services:
        if svc.stack != stack.name:
            continue
        req = requirements(specs.get(svc.service) or {}, path=f"services.{svc.service}")
        tasks = by_service.pop(svc.service, [])
        made = _new_task_factory(svc, new_id=new_id, now=now, leader_rev=leader_rev)
        plan = _global if svc.mode == "global" else _replicated
        c, k, r = plan(svc, req, tasks, nodes_by_name, made)
        create += c
        keep += k
        remove += [_shutdown(t, why, now) for t, why in r]
    for name, tasks in by_service.items():
        remove += [_shutdown(t, f"service {name} removed from the stack", now) for t in tasks]
    spec_of = {s.service: s.spec_hash for s in services}
    outdated = [t for t in keep if t.spec_hash != spec_of.get(t.service, t.spec_hash)]
    remove.sort(key=lambda t: (t.service, -t.slot, t.node or ""))
    return TaskDelta(create=tuple(create), keep=tuple(keep), remove=tuple(remove), outdated=tuple(outdated))


def replace(task: TaskRecord, *, new_id: Callable[[], str], now: float, leader_rev: int = 0,
            message: str = "replaced") -> tuple[TaskRecord, TaskRecord]:
    """``(old set to desired shutdown, new pending task for the same slot)``: the restart of a failed
    task. A global task stays on its node; a replicated one is placed again."""
    new = dataclasses.replace(task, id=new_id(), node=task.node if task.slot == 0 else None, desired="running",
                              state="pending", container_id=None, message="", leader_rev=leader_rev,
                              created=now, updated=now)
    return _shutdown(task, message, now), new


# -- per mode -----------------------------------------------------------------------------------------

Made = Callable[[int, "str | None"], TaskRecord]
Plan = tuple[list[TaskRecord], list[TaskRecord], list[tuple[TaskRecord, str]]]


def _replicated(svc: ServiceRecord, req: Requirements, tasks: list[TaskRecord],
                nodes: Mapping[str, NodeRecord], made: Made) -> Plan:
    live, remove = _one_per(tasks, lambda t: str(t.slot))
    freed: list[int] = []
    kept: list[TaskRecord] = []
    for task in sorted(live, key=lambda t: t.slot):
        why = _gone_from_node(task, req, nodes)
        if why is None:
            kept.append(task)
        else:
            remove.append((task, why))
            freed.append(task.slot)
    for task in kept[svc.replicas:]:
        remove.append((task, f"scaled down to {svc.replicas}"))
    kept = kept[:svc.replicas]
    taken = {t.slot for t in kept}
    create = []
    for slot in _free_slots(freed, taken, svc.replicas - len(kept)):
        create.append(made(slot, None))
    return create, kept, remove


def _free_slots(freed: list[int], taken: set[int], count: int) -> list[int]:
    slots: list[int] = []
    for slot in sorted(freed):
        if len(slots) < count and slot not in taken:
            slots.append(slot)
            taken.add(slot)
    candidate = 1
    while len(slots) < count:
        if candidate not in taken:
            slots.append(candidate)
            taken.add(candidate)
        candidate += 1
    return sorted(slots)


def _global(svc: ServiceRecord, req: Requirements, tasks: list[TaskRecord],
            nodes: Mapping[str, NodeRecord], made: Made) -> Plan:
    live, remove = _one_per(tasks, lambda t: t.node or "")
    kept: list[TaskRecord] = []
    for task in sorted(live, key=lambda t: t.node or ""):
        node = nodes.get(task.node or "")
        if node is None:
            remove.append((task, f"node {task.node} left the cluster" if task.node else "global task without a node"))
        elif node.availability == "drain":
            remove.append((task, f"node {node.name} drained"))
        elif not _meets(req, node):
            remove.append((task, f"node {node.name} no longer meets the constraints"))
        else:
            kept.append(task)
    hosting = {t.node for t in kept}
    create = [made(0, name) for name, node in sorted(nodes.items())
              if name not in hosting and node.state == "ready" and node.availability == "active" and _meets(req, node)]
    return create, kept, remove


def _one_per(tasks: list[TaskRecord], key: Callable[[TaskRecord], str],
             ) -> tuple[list[TaskRecord], list[tuple[TaskRecord, str]]]:
    """The task furthest along for each key; the others are duplicates to remove."""
    best: dict[str, TaskRecord] = {}
    extra: list[tuple[TaskRecord, str]] = []
    for task in sorted(tasks, key=_rank, reverse=True):
        k = key(task)
        if k in best:
            extra.append((task, f"duplicate of task {best[k].id}"))
        else:
            best[k] = task
    return list(best.values()), extra


def _rank(task: TaskRecord) -> tuple[int, int, float, str]:
    return _PROGRESS.get(task.state, 0), task.leader_rev, task.created, task.id


def _gone_from_node(task: TaskRecord, req: Requirements, nodes: Mapping[str, NodeRecord]) -> str | None:
    """Why a replicated task must move off its node, or None."""
    if task.node is None:
        return None
    node = nodes.get(task.node)
    if node is None:
        return f"node {task.node} left the cluster"
    if node.state == "down":
        return f"node {node.name} is down"
    if node.availability == "drain":
        return f"node {node.name} drained"
    if not _meets(req, node):
        return f"node {node.name} no longer meets the constraints"
    return None


def _meets(req: Requirements, node: NodeRecord) -> bool:
    return all(c.matches(node) for c in req.constraints)


def _new_task_factory(svc: ServiceRecord, *, new_id: Callable[[], str], now: float, leader_rev: int) -> Made:
    def made(slot: int, node: str | None) -> TaskRecord:
        return TaskRecord(id=new_id(), stack=svc.stack, service=svc.service, slot=slot, node=node,
                          desired="running", state="pending", spec_hash=svc.spec_hash,
                          service_version=svc.version, leader_rev=leader_rev, created=now, updated=now)
    return made


def _shutdown(task: TaskRecord, message: str, now: float) -> TaskRecord:
    return dataclasses.replace(task, desired="shutdown", message=message, updated=now)
