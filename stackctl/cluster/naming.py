"""Names and labels of what the cluster makes on a node, derived from the task alone.

A task's container is ``<stack>_<service>.<slot>.<task-id>`` (global mode: ``<stack>_<service>.<node>.<task-id>``),
so a repeated or interrupted create finds the same name, and its labels say which stack, service, slot
and task it is, the spec it runs and the leader revision that made it: a new leader adopts a running
container from its labels (:func:`task_of`) instead of starting another. The stack's networks are
``<stack>_<net>`` and its named volumes ``<stack>_<vol>`` on each node, labelled with the stack.
Pure code.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from stackctl import labels as L
from stackctl.cluster.state import TaskRecord

_COMPOSE = "com.docker.compose."


def container_name(task: TaskRecord) -> str:
    """``shop_web.2.0a1b2c3d4e5f`` (global: ``shop_web.node1.0a1b2c3d4e5f``)."""
    where = task.node if task.slot == 0 and task.node else str(task.slot)
    return f"{task.stack}_{task.service}.{where}.{task.id}"


def task_labels(task: TaskRecord, *, leader_rev: int | None = None) -> dict[str, str]:
    """The labels that tie a container to its task (``leader_rev``: the revision of the leader making it,
    by default the task's own)."""
    return {
        L.STACK: task.stack,
        L.STACK_SERVICE: task.service,
        L.SLOT: str(task.slot),
        L.TASK: task.id,
        L.LEADER_REVISION: str(task.leader_rev if leader_rev is None else leader_rev),
        L.SPEC_HASH: task.spec_hash,
        L.STACK_NAMESPACE: task.stack,
    }


def container_labels(base: Mapping[str, str], task: TaskRecord, *, leader_rev: int | None = None,
                     ) -> dict[str, str]:
    """The labels of a task's container: the service's own (``base``, from the container config) without
    the ``com.docker.compose.*`` ones, which would make it look like a compose project's to
    ``compose ps``/``down`` on that node, plus :func:`task_labels`."""
    out = {k: v for k, v in base.items() if not k.startswith(_COMPOSE)}
    out.update(task_labels(task, leader_rev=leader_rev))
    return out


@dataclass(frozen=True, slots=True)
class TaskRef:
    """What a container's labels say about its task."""

    stack: str
    service: str
    slot: int
    task: str
    leader_rev: int
    spec_hash: str


def task_of(container_labels: Mapping[str, str]) -> TaskRef | None:
    """The task a container belongs to, or None when it is not a cluster task's (or its labels are
    damaged)."""
    try:
        return TaskRef(stack=container_labels[L.STACK], service=container_labels[L.STACK_SERVICE],
                       slot=int(container_labels[L.SLOT]), task=container_labels[L.TASK],
                       leader_rev=int(container_labels.get(L.LEADER_REVISION, "0")),
                       spec_hash=container_labels.get(L.SPEC_HASH, ""))
    except (KeyError, ValueError):
        return None


def network_name(stack: str, network: str) -> str:
    return f"{stack}_{network}"


def volume_name(stack: str, volume: str) -> str:
    return f"{stack}_{volume}"


def resource_labels(stack: str) -> dict[str, str]:
    """Labels of a stack's networks and volumes on a node."""
    return {L.STACK: stack, L.STACK_NAMESPACE: stack}
