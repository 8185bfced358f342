"""Names and labels of a cluster task's container, and the task a container says it runs.

Pure. A task's container is ``<stack>_<service>.<slot>.<task-id>`` (global mode: ``<stack>_<service>.<node>.<task-id>``),
so a repeated create is refused by the engine instead of making a second container, and a new leader finds
(and adopts) what an earlier one started by its labels.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stackctl import labels as L
from stackctl.cluster.state import TaskRecord


def task_container_name(task: TaskRecord) -> str:
    where = str(task.slot) if task.slot else str(task.node or "0")
    return f"{task.stack}_{task.service}.{where}.{task.id}"


def task_labels(task: TaskRecord, *, leader_rev: int) -> dict[str, str]:
    """The labels the cluster adds to the container config of ``task`` (made by the leader at ``leader_rev``)."""
    return {L.STACK: task.stack, L.STACK_SERVICE: task.service, L.SLOT: str(task.slot), L.TASK: task.id,
            L.LEADER_REV: str(leader_rev), L.SPEC_HASH: task.spec_hash, L.STACK_NAMESPACE: task.stack}


@dataclass(frozen=True)
class TaskRef:
    """What a container's labels say about the task it runs."""

    stack: str
    service: str
    slot: int
    task: str
    leader_rev: int
    spec_hash: str


def task_ref(labels: Mapping[str, str]) -> TaskRef | None:
    """The task a container runs, or None for a container that is no cluster task's."""
    task, stack, service = labels.get(L.TASK), labels.get(L.STACK), labels.get(L.STACK_SERVICE)
    if not task or not stack or not service:
        return None
    return TaskRef(stack, service, _int(labels.get(L.SLOT)), task, _int(labels.get(L.LEADER_REV)),
                   labels.get(L.SPEC_HASH, ""))


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def network_name(stack: str, key: str, config: Mapping[str, object] | None = None) -> str:
    """A stack network's engine name: its ``name:`` when given, else ``<stack>_<key>``."""
    name = (config or {}).get("name")
    return str(name) if name else f"{stack}_{key}"


def volume_name(stack: str, key: str, config: Mapping[str, object] | None = None) -> str:
    name = (config or {}).get("name")
    return str(name) if name else f"{stack}_{key}"
