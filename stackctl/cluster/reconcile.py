"""The reconciler's decisions: desired state + what every node's engine shows -> task changes and engine actions.

Pure: records, observations, the time and new task ids come in as arguments. One call is one pass:

- observation -> task states: a task's container running adopts it (``running``, whoever started it); one
  that exited fails the task (``complete``/``failed``); a running task whose container vanished fails;
  a task on a node that is down is ``orphaned``, on a draining node ``shutdown``; a task whose service is
  gone or changed is shut down;
- slots: replicated services have slots 1..replicas (slots above are shut down, the highest first by
  construction), global ones one task per ready and active node; an empty slot gets a new task, a
  failed or completed one only after swarm's default restart delay (condition any, 5 s);
- placement of the new tasks (ready and active nodes; pause takes none, drain none);
- engine actions per node: the task's image (from another node or a pull, see the agent), the stack's
  networks and volumes on that node, create + start of the task's container (deterministic name, so a
  repeated create fails instead of doubling it), and the removal of every container that runs no task
  desired on that node (old leaders' leftovers, shut down or failed tasks, a returning node's stale copies):
  never two running containers for one slot.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from stackctl import labels as L
from stackctl.cluster.naming import network_name, task_container_name, task_labels, task_ref, volume_name
from stackctl.cluster.placement import place
from stackctl.cluster.state import NodeRecord, ServiceRecord, StackRecord, TaskRecord
from stackctl.engine.container_config import (
    ProjectContext,
    build_container_spec,
    image_ref,
    network_body,
    volume_body,
)
from stackctl.plan.actions import Action, ContainerSpec, Reason
from stackctl.plan.observed import ObservedContainer

RESTART_DELAY = 5.0  # swarm's default restart policy: condition any, delay 5 s
HISTORY = 3  # finished tasks kept per slot (the rows `service ps` shows under the current one)
STOP_GRACE = 10  # seconds a removed task's container gets to stop (swarm's default stop_grace_period)
TERMINAL = frozenset({"complete", "failed", "shutdown", "orphaned"})


@dataclass(frozen=True)
class NodeView:
    """One node's engine as observed this pass: the cluster's containers and what exists there."""

    containers: tuple[ObservedContainer, ...] = ()
    networks: frozenset[str] = frozenset()
    volumes: frozenset[str] = frozenset()
    images: frozenset[str] = frozenset()  # image IDs and the repo:tag references present


@dataclass(frozen=True)
class Decision:
    put: tuple[TaskRecord, ...] = ()  # task records to write (new and changed), fenced, before any action
    delete: tuple[TaskRecord, ...] = ()  # finished task records no longer kept
    actions: Mapping[str, tuple[Action, ...]] = field(default_factory=dict)  # node -> its engine's actions
    wake: float | None = None  # when a delayed restart falls due (the agent's next pass at the latest)

    @property
    def idle(self) -> bool:
        return not (self.put or self.delete or any(self.actions.values()))


def reconcile(stacks: Sequence[StackRecord], services: Sequence[ServiceRecord], tasks: Sequence[TaskRecord],
              nodes: Sequence[NodeRecord], observed: Mapping[str, NodeView], *, now: float, leader_rev: int,
              new_id: Callable[[], str]) -> Decision:
    """One pass. ``observed`` holds the nodes whose engine answered this pass (a node missing there is
    left alone until it is declared down)."""
    p = _Pass(stacks, services, tasks, nodes, observed, now=now, leader_rev=leader_rev, new_id=new_id)
    p.observe()
    p.fill_slots()
    p.place_pending()
    p.start_tasks()
    p.remove_stale()
    p.prune()
    return p.decision()


class _Pass:
    def __init__(self, stacks: Sequence[StackRecord], services: Sequence[ServiceRecord],
                 tasks: Sequence[TaskRecord], nodes: Sequence[NodeRecord], observed: Mapping[str, NodeView], *,
                 now: float, leader_rev: int, new_id: Callable[[], str]) -> None:
        self.stacks = {s.name: s for s in stacks}
        self.services = {(s.stack, s.service): s for s in services if s.stack in self.stacks}
        self.tasks = {t.id: t for t in tasks}
        self.nodes = {n.name: n for n in nodes}
        self.observed = observed
        self.now, self.leader_rev, self.new_id = now, leader_rev, new_id
        self.changed: dict[str, TaskRecord] = {}
        self.deleted: list[TaskRecord] = []
        self.actions: dict[str, dict[str, Action]] = {}
        self.wake: float | None = None
        self.by_task = {node: {ref.task: c for c in view.containers if (ref := task_ref(c.labels))}
                        for node, view in observed.items()}

    # -- task records ----------------------------------------------------------------------------------

    def set(self, task: TaskRecord, **changes: Any) -> TaskRecord:
        new = replace(task, **changes)
        if new == task:
            return task
        new = replace(new, updated=self.now)
        self.tasks[new.id] = self.changed[new.id] = new
        return new

    def end(self, task: TaskRecord, state: str, message: str, **changes: Any) -> None:
        """The task stops being wanted (its container, if any, is removed below)."""
        final = task.state if task.state in TERMINAL else state
        self.set(task, desired="shutdown", state=final, message=message, **changes)

    def live(self) -> list[TaskRecord]:
        return sorted((t for t in self.tasks.values() if t.desired == "running"), key=lambda t: (t.slot, t.id))

    # -- 1. what the engines show ------------------------------------------------------------------------

    def observe(self) -> None:
        for t in self.live():
            svc = self.services.get((t.stack, t.service))
            if svc is None:
                self.end(t, "shutdown", "the service was removed")
            elif t.spec_hash != svc.spec_hash:
                self.end(t, "shutdown", "the service changed: replaced")
            elif t.node is not None:
                self.observe_placed(t)

    def observe_placed(self, t: TaskRecord) -> None:
        assert t.node is not None
        node = self.nodes.get(t.node)
        if node is None or node.state == "down":
            self.end(t, "orphaned", f"node {t.node} is down")
            return
        if node.availability == "drain":
            self.end(t, "shutdown", f"node {t.node} is drained")
            return
        if t.node not in self.observed:
            return  # not seen this pass: left as it is until the node is declared down
        c = self.by_task[t.node].get(t.id)
        if c is None:
            if t.state == "running":
                self.end(t, "failed", "the task's container was removed")
            return  # pending/assigned/starting: created below
        if c.running:
            self.set(t, state="running", container_id=c.id, message="")
        elif c.state in ("exited", "dead"):
            code = c.exit_code if c.exit_code is not None else -1
            self.end(t, "complete" if code == 0 else "failed", f"the container exited with code {code}",
                     container_id=c.id)

    # -- 2. slots ---------------------------------------------------------------------------------------

    def fill_slots(self) -> None:
        for (stack, name), svc in sorted(self.services.items()):
            mine = [t for t in self.live() if t.stack == stack and t.service == name]
            if svc.mode == "global":
                self.fill_global(svc, mine)
            else:
                self.fill_replicated(svc, mine)

    def fill_replicated(self, svc: ServiceRecord, mine: list[TaskRecord]) -> None:
        by_slot: dict[int, list[TaskRecord]] = {}
        for t in mine:
            by_slot.setdefault(t.slot, []).append(t)
        for slot in sorted(by_slot, reverse=True):  # the highest slots go first
            ts = sorted(by_slot[slot], key=lambda t: (t.state != "running", -t.created, t.id))
            if slot > svc.replicas or slot < 1:
                for t in ts:
                    self.end(t, "shutdown", f"scaled down to {svc.replicas}")
            for t in ts[1:] if 1 <= slot <= svc.replicas else ():
                self.end(t, "shutdown", f"slot {slot} has another task")
        for slot in range(1, svc.replicas + 1):
            if slot not in by_slot and self.restart_due(svc, slot=slot):
                self.add(svc, slot=slot)

    def fill_global(self, svc: ServiceRecord, mine: list[TaskRecord]) -> None:
        eligible = {n.name for n in self.nodes.values() if n.state == "ready" and n.availability == "active"}
        taken = set()
        for t in mine:
            if t.node is not None and t.node not in eligible and t.node in self.nodes \
                    and self.nodes[t.node].state == "ready":
                self.end(t, "shutdown", f"node {t.node} takes no tasks")
            elif t.node is not None:
                taken.add(t.node)
        for node in sorted(eligible - taken):
            if self.restart_due(svc, slot=0, node=node):
                self.add(svc, slot=0, node=node, state="assigned")

    def restart_due(self, svc: ServiceRecord, *, slot: int, node: str | None = None) -> bool:
        """False while the slot's last task ended by itself less than RESTART_DELAY ago."""
        ended = [t for t in self.tasks.values() if t.stack == svc.stack and t.service == svc.service
                 and t.desired == "shutdown" and t.state in ("failed", "complete") and t.slot == slot
                 and (node is None or t.node == node)]
        if not ended:
            return True
        due = max(t.updated for t in ended) + RESTART_DELAY
        if due <= self.now:
            return True
        self.wake = due if self.wake is None else min(self.wake, due)
        return False

    def add(self, svc: ServiceRecord, *, slot: int, node: str | None = None, state: str = "pending") -> None:
        t = TaskRecord(id=self.new_id(), stack=svc.stack, service=svc.service, slot=slot, node=node,
                       desired="running", state=state,  # type: ignore[arg-type]
                       spec_hash=svc.spec_hash, service_version=svc.version, leader_rev=self.leader_rev,
                       created=self.now, updated=self.now)
        self.tasks[t.id] = self.changed[t.id] = t

    # -- 3. placement -------------------------------------------------------------------------------------

    def place_pending(self) -> None:
        pending = [t for t in self.live() if t.node is None]
        if not pending:
            return
        placed = place(pending, list(self.nodes.values()), [t for t in self.live() if t.node is not None],
                       {k: self.service_doc(*k) for k in self.services})
        for t in pending:
            where = placed.get(t.id)
            if isinstance(where, str):
                self.set(t, node=where, state="assigned", message="")
            else:
                self.set(t, state="pending", message=where.reason if where else "not placed")

    # -- 4. engine actions ----------------------------------------------------------------------------------

    def start_tasks(self) -> None:
        for t in self.live():
            if t.node is None or t.node not in self.observed or t.state not in ("assigned", "starting", "pending"):
                continue
            c = self.by_task[t.node].get(t.id)
            if c is not None and c.running:
                continue
            if c is None:
                self.create(t)
            self.start(t, created=c is None)
            self.set(t, state="starting")

    def create(self, t: TaskRecord) -> None:
        assert t.node is not None
        stack = self.stacks[t.stack]
        doc, view = stack.document, self.observed[t.node]
        svc = doc["services"][t.service]
        needs = [*self.ensure_image(t.node, view, stack, t), *self.ensure_networks(t.node, view, stack, svc),
                 *self.ensure_volumes(t.node, view, stack, svc)]
        spec = task_spec(stack, t, leader_rev=self.leader_rev)
        self.emit(t.node, Action("create_container", spec.name, Reason("task", t.id), service=t.service,
                                 number=t.slot, needs=tuple(needs), params={"task": t.id}, engine=t.node, spec=spec))

    def start(self, t: TaskRecord, *, created: bool) -> None:
        assert t.node is not None
        name = task_container_name(t)
        svc = self.stacks[t.stack].document["services"][t.service]
        self.emit(t.node, Action("start_container", name, Reason("task", t.id), service=t.service, number=t.slot,
                                 needs=(f"create_container:{name}",) if created else (), engine=t.node,
                                 params={"task": t.id, "ports": bool(svc.get("ports"))}))

    def ensure_image(self, node: str, view: NodeView, stack: StackRecord, t: TaskRecord) -> list[str]:
        ref = image_ref(stack.name, t.service, stack.document["services"][t.service])
        image_id = stack.images.get(ref, "")
        if (image_id or ref) in view.images:
            return []
        have = sorted(n for n, v in self.observed.items() if n != node and (image_id or ref) in v.images)
        self.emit(node, Action("pull_image", ref, Reason("image missing"), engine=node,
                               params={"image_id": image_id, "from": have}))
        return [f"pull_image:{ref}"]

    def ensure_networks(self, node: str, view: NodeView, stack: StackRecord, svc: Mapping[str, Any]) -> list[str]:
        if svc.get("network_mode"):
            return []
        ctx, needs = ProjectContext(stack.name), []
        for key in svc.get("networks") or {"default": None}:
            cfg = (stack.document.get("networks") or {}).get(key) or {}
            name = network_name(stack.name, key, cfg)
            if cfg.get("external") or name in view.networks:
                continue
            body, labels = network_body(ctx, key, cfg)
            self.emit(node, Action("create_network", name, Reason("stack network"), engine=node,
                                   params={"body": body, "labels": {**labels, L.STACK: stack.name}}))
            needs.append(f"create_network:{name}")
        return needs

    def ensure_volumes(self, node: str, view: NodeView, stack: StackRecord, svc: Mapping[str, Any]) -> list[str]:
        ctx, needs = ProjectContext(stack.name), []
        declared = stack.document.get("volumes") or {}
        for vol in svc.get("volumes") or []:
            key = vol.get("source") if isinstance(vol, Mapping) and vol.get("type") == "volume" else None
            if not key or key not in declared:
                continue
            cfg = declared[key] or {}
            name = volume_name(stack.name, key, cfg)
            if cfg.get("external") or name in view.volumes:
                continue
            body, labels = volume_body(ctx, key, cfg)
            self.emit(node, Action("create_volume", name, Reason("stack volume"), engine=node,
                                   params={"body": body, "labels": {**labels, L.STACK: stack.name}}))
            needs.append(f"create_volume:{name}")
        return needs

    def remove_stale(self) -> None:
        for node, view in sorted(self.observed.items()):
            for c in view.containers:
                ref = task_ref(c.labels)
                if ref is None:
                    continue
                t = self.tasks.get(ref.task)
                if t is not None and t.desired == "running" and t.node == node:
                    continue
                why = "no such task" if t is None else f"task {t.state}" if t.node == node else "task moved"
                self.emit(node, Action("remove_container", c.name, Reason("stale", why), service=ref.service,
                                       number=ref.slot, engine=node,
                                       params={"id": c.id, "timeout": STOP_GRACE if c.running else 0}))

    def emit(self, node: str, action: Action) -> None:
        self.actions.setdefault(node, {}).setdefault(action.id, action)

    # -- 5. history -----------------------------------------------------------------------------------------

    def prune(self) -> None:
        """Finished tasks: the last HISTORY per slot are kept; those of removed services go at once."""
        groups: dict[tuple[str, str, int, str | None], list[TaskRecord]] = {}
        for t in self.tasks.values():
            if t.desired == "shutdown" and t.state in TERMINAL:
                key = (t.stack, t.service, t.slot, t.node if t.slot == 0 else None)
                groups.setdefault(key, []).append(t)
        for (stack, service, _, _), ended in groups.items():
            keep = HISTORY if (stack, service) in self.services else 0
            ended.sort(key=lambda t: (-t.updated, t.id))
            for t in ended[keep:]:
                if self.tasks.pop(t.id, None) is not None:
                    self.changed.pop(t.id, None)
                    self.deleted.append(t)

    def service_doc(self, stack: str, service: str) -> Mapping[str, Any]:
        return dict(self.stacks[stack].document.get("services", {}).get(service) or {})

    def decision(self) -> Decision:
        return Decision(put=tuple(sorted(self.changed.values(), key=lambda t: t.id)),
                        delete=tuple(sorted(self.deleted, key=lambda t: t.id)),
                        actions={n: tuple(a.values()) for n, a in sorted(self.actions.items())}, wake=self.wake)


def task_spec(stack: StackRecord, t: TaskRecord, *, leader_rev: int) -> ContainerSpec:
    """The task's container: the laptop's create request for the service (project = stack), renamed
    after the task, with its labels, and no engine restart policy (the reconciler restarts tasks)."""
    ref = image_ref(stack.name, t.service, stack.document["services"][t.service])
    spec = build_container_spec(stack.document, ProjectContext(stack.name), t.service, max(t.slot, 1),
                                image_id=stack.images.get(ref) or None)
    name = task_container_name(t)
    config = dict(spec.config)
    config["Labels"] = {**config.get("Labels", {}), **task_labels(t, leader_rev=leader_rev)}
    config["HostConfig"] = {**config.get("HostConfig", {}), "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}}
    networks = {net: {**ep, "Aliases": [name, *ep.get("Aliases", [])[1:]]} for net, ep in spec.networks.items()}
    return ContainerSpec(name, config, networks, t.service)


def node_actions(decision: Decision) -> Iterable[tuple[str, tuple[Action, ...]]]:
    return ((n, a) for n, a in decision.actions.items() if a)
