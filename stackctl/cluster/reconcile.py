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

from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from stackctl.cluster.naming import (
    container_labels,
    container_name,
    network_name,
    resource_labels,
    task_of,
    volume_name,
)
from stackctl.cluster.ordering import restart_after, waiting_for
from stackctl.cluster.restarts import DEFAULT_DELAY, restart_policy, verdict
from stackctl.cluster.scheduler import Placement, schedule
from stackctl.cluster.state import NodeRecord, ServiceRecord, StackRecord, TaskRecord
from stackctl.cluster.tasks import desired_tasks
from stackctl.cluster.updates import new_beside, plan_update, rolled_back
from stackctl.engine.container_config import (
    ProjectContext,
    build_container_spec,
    image_ref,
    network_body,
    volume_body,
)
from stackctl.engine.durations import duration_s
from stackctl.plan.actions import Action, ContainerSpec, Reason
from stackctl.plan.observed import ObservedContainer

RESTART_DELAY = DEFAULT_DELAY  # swarm's default restart policy: condition any, delay 5 s
HISTORY = 3  # finished tasks kept per slot (the rows `service ps` shows under the current one)
STOP_GRACE = 10  # seconds a removed task's container gets to stop (swarm's default stop_grace_period)
TERMINAL = frozenset({"complete", "failed", "shutdown", "orphaned"})

# With the routing mesh (cluster/traffic.py), an ingress published port is the node proxies' on every
# node; a task publishes its target port on an ephemeral host port: any number of replicas per node.
INGRESS_BINDS_HOST = False


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
    services: tuple[ServiceRecord, ...] = ()  # update statuses (and rolled back specs) to write, compare-and-swap
    stacks: tuple[StackRecord, ...] = ()  # stacks whose service went back to its previous spec (rollback)

    @property
    def idle(self) -> bool:
        return not (self.put or self.delete or any(self.actions.values()) or self.services or self.stacks)


def reconcile(stacks: Sequence[StackRecord], services: Sequence[ServiceRecord], tasks: Sequence[TaskRecord],
              nodes: Sequence[NodeRecord], observed: Mapping[str, NodeView], *, now: float, leader_rev: int,
              new_id: Callable[[], str], held_images: Collection[str] = ()) -> Decision:
    """One pass. ``observed`` holds the nodes whose engine answered this pass (a node missing there is
    left alone until it is declared down). ``held_images``: image references on no node whose pull just
    failed; their pending tasks stay pending (with the reason they have) until the agent tries again."""
    p = _Pass(stacks, services, tasks, nodes, observed, now=now, leader_rev=leader_rev, new_id=new_id)
    p.held = frozenset(held_images)
    p.observe()
    p.update()
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
        self.hidden: set[str] = set()  # outdated tasks with a new task beside them (start-first)
        self.service_writes: dict[tuple[str, str], ServiceRecord] = {}
        self.stack_writes: dict[str, StackRecord] = {}
        self.held: frozenset[str] = frozenset()
        self.by_task = {node: {ref.task: c for c in view.containers if (ref := task_of(c.labels))}
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
        if c.running and c.health == "unhealthy":
            self.end(t, "failed", "the container is unhealthy", container_id=c.id, health="unhealthy",
                     started=t.started or self.now)
        elif c.running:
            self.set(t, state="running", container_id=c.id, message="", health=c.health or "",
                     started=t.started or (0.0 if t.state == "running" else self.now))
        elif c.state in ("exited", "dead"):
            code = c.exit_code if c.exit_code is not None else -1
            self.end(t, "complete" if code == 0 else "failed", f"the container exited with code {code}",
                     container_id=c.id)

    # -- 2. updates (cluster/updates.py), dependents restarted with a dependency (cluster/ordering.py) ----

    def update(self) -> None:
        by_service: dict[tuple[str, str], list[TaskRecord]] = {}
        for t in self.tasks.values():
            by_service.setdefault((t.stack, t.service), []).append(t)
        for key, svc in sorted(self.services.items()):
            doc = self.service_doc(*key)
            step = plan_update(svc, doc, by_service.get(key, []), now=self.now)
            self.hidden |= step.hidden
            if step.wake is not None:
                self.wake = step.wake if self.wake is None else min(self.wake, step.wake)
            if step.rollback:
                stack, new = rolled_back(self.stacks[svc.stack], svc, now=self.now, status=step.status)
                self.stacks[stack.name] = self.stack_writes[stack.name] = stack
                self.services[key] = self.service_writes[key] = new
                continue
            if step.status is not None:
                self.services[key] = self.service_writes[key] = replace(svc, update=step.status)
            for t in step.stop:
                self.end(t, "shutdown", "replaced by the update")
            for t in step.start_beside:
                new_task = new_beside(t, svc, new_id=self.new_id, now=self.now, leader_rev=self.leader_rev)
                self.tasks[new_task.id] = self.changed[new_task.id] = new_task
        for stack in self.stacks.values():
            mine = [t for t in self.tasks.values() if t.stack == stack.name]
            services = {s: rec for (st, s), rec in self.services.items() if st == stack.name}
            for name in sorted(services):
                for t in restart_after(name, stack.document.get("services") or {}, services, mine):
                    self.end(t, "shutdown", "restarted: a dependency with restart: true was updated")

    # -- 3. slots and placement -------------------------------------------------------------------------

    def fill_slots(self) -> None:
        """The scheduler's tasks per stack; a new task for a slot whose task ended by itself waits for the
        restart delay (swarm's default: condition any, 5 s)."""
        nodes = list(self.nodes.values())
        for stack in sorted(self.stacks.values(), key=lambda s: s.name):
            services = [svc for (st, _), svc in sorted(self.services.items()) if st == stack.name]
            live = [t for t in self.live() if t.id not in self.hidden]
            delta = desired_tasks(stack, services, nodes, live, new_id=self.new_id, now=self.now,
                                  leader_rev=self.leader_rev)
            for t in delta.remove:
                self.end(self.tasks[t.id], "shutdown", t.message)
            for t in delta.create:
                attempt = self.restart_due(t)
                if attempt is not None:
                    t = replace(t, attempt=attempt)
                    self.tasks[t.id] = self.changed[t.id] = t

    def stopping(self) -> list[TaskRecord]:
        """Tasks no longer wanted whose container still runs (it is being stopped): until it is gone it
        holds its place on the node, its published port above all."""
        out = []
        for t in self.tasks.values():
            c = self.by_task.get(t.node or "", {}).get(t.id) if t.desired == "shutdown" else None
            if c is not None and c.running:
                out.append(replace(t, state="running"))
        return out

    def restart_due(self, new: TaskRecord) -> int | None:
        """The new task's attempt number when its slot may get it now (the service's restart policy, see
        cluster/restarts.py), else None; a slot the policy gives up on says so in its last task."""
        ended = [t for t in self.tasks.values() if t.stack == new.stack and t.service == new.service
                 and t.desired == "shutdown" and t.slot == new.slot and (new.slot != 0 or t.node == new.node)]
        policy = restart_policy(self.service_doc(new.stack, new.service))
        v = verdict(policy, ended, spec_hash=new.spec_hash, now=self.now)
        if v.start:
            return v.attempt
        if v.due is not None:
            self.wake = v.due if self.wake is None else min(self.wake, v.due)
        elif v.gave_up:
            last = max(ended, key=lambda t: (t.updated, t.created))
            if v.gave_up not in last.message:
                self.set(last, message=f"{last.message}; {v.gave_up}" if last.message else v.gave_up)
        return None

    def place_pending(self) -> None:
        pending = [t for t in self.live() if t.state == "pending" and self.image_of(t) not in self.held
                   and not self.wait_dependencies(t)]
        if not pending:
            return
        placed = [t for t in self.live() if t.state != "pending"] + self.stopping()
        specs = {k: self.service_doc(*k) for k in self.services}
        for decision in schedule(pending, list(self.nodes.values()), placed, specs,
                                 ingress_binds_host=INGRESS_BINDS_HOST):
            t = self.tasks[decision.task.id]
            if isinstance(decision, Placement):
                self.set(t, node=decision.node, state="assigned", message="")
            else:
                self.set(t, state="pending", message=decision.message)

    def wait_dependencies(self, t: TaskRecord) -> bool:
        """True (and the reason in its message) while a dependency of the task's service is not ready."""
        stack = self.stacks[t.stack]
        services = {s: rec for (st, s), rec in self.services.items() if st == t.stack}
        mine = [x for x in self.tasks.values() if x.stack == t.stack]
        why = waiting_for(t.service, stack.document.get("services") or {}, services, mine)
        if why:
            self.set(t, message=why)
        return why is not None

    # -- 4. engine actions ----------------------------------------------------------------------------------

    def start_tasks(self) -> None:
        for t in self.live():
            if t.node is None or t.node not in self.observed or t.state not in ("assigned", "starting"):
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
        name = container_name(t)
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
            name = str(cfg.get("name") or network_name(stack.name, key))
            if cfg.get("external") or name in view.networks:
                continue
            body, labels = network_body(ctx, key, cfg)
            self.emit(node, Action("create_network", name, Reason("stack network"), engine=node,
                                   params={"body": body, "labels": _own(labels, stack.name)}))
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
            name = str(cfg.get("name") or volume_name(stack.name, key))
            if cfg.get("external") or name in view.volumes:
                continue
            body, labels = volume_body(ctx, key, cfg)
            self.emit(node, Action("create_volume", name, Reason("stack volume"), engine=node,
                                   params={"body": body, "labels": _own(labels, stack.name)}))
            needs.append(f"create_volume:{name}")
        return needs

    def remove_stale(self) -> None:
        for node, view in sorted(self.observed.items()):
            for c in view.containers:
                ref = task_of(c.labels)
                if ref is None:
                    continue
                t = self.tasks.get(ref.task)
                if t is not None and t.desired == "running" and t.node == node:
                    continue
                why = "no such task" if t is None else f"task {t.state}" if t.node == node else "task moved"
                self.emit(node, Action("remove_container", c.name, Reason("stale", why), service=ref.service,
                                       number=ref.slot, engine=node,
                                       params={"id": c.id, "timeout": self.grace(ref.stack, ref.service) if c.running else 0}))

    def grace(self, stack: str, service: str) -> int:
        """The service's stop_grace_period (swarm's default 10 s) for a container being stopped."""
        raw = self.service_doc(stack, service).get("stop_grace_period") if (stack, service) in self.services else None
        return duration_s(raw) if raw else STOP_GRACE

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

    def image_of(self, t: TaskRecord) -> str:
        stack = self.stacks[t.stack]
        return image_ref(stack.name, t.service, stack.document["services"][t.service])

    def service_doc(self, stack: str, service: str) -> Mapping[str, Any]:
        return dict(self.stacks[stack].document.get("services", {}).get(service) or {})

    def decision(self) -> Decision:
        return Decision(put=tuple(sorted(self.changed.values(), key=lambda t: t.id)),
                        delete=tuple(sorted(self.deleted, key=lambda t: t.id)),
                        actions={n: tuple(a.values()) for n, a in sorted(self.actions.items())}, wake=self.wake,
                        services=tuple(v for _, v in sorted(self.service_writes.items())),
                        stacks=tuple(v for _, v in sorted(self.stack_writes.items())))


def task_spec(stack: StackRecord, t: TaskRecord, *, leader_rev: int) -> ContainerSpec:
    """The task's container: the laptop's create request for the service (project = stack), renamed
    after the task, with its labels, and no engine restart policy (the reconciler restarts tasks)."""
    ref = image_ref(stack.name, t.service, stack.document["services"][t.service])
    spec = build_container_spec(stack.document, ProjectContext(stack.name), t.service, max(t.slot, 1),
                                image_id=stack.images.get(ref) or None)
    name = container_name(t)
    config = dict(spec.config)
    config["Labels"] = container_labels(config.get("Labels", {}), t, leader_rev=leader_rev)
    config["HostConfig"] = {**config.get("HostConfig", {}), "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0}}
    networks = {net: {**ep, "Aliases": [name, *ep.get("Aliases", [])[1:]]} for net, ep in spec.networks.items()}
    return ContainerSpec(name, config, networks, t.service)


def _own(labels: Mapping[str, str], stack: str) -> dict[str, str]:
    """A stack network's or volume's labels: the file's own and the stack's, not compose's (a compose
    project of the same name on that node must not take them for its own)."""
    return {**{k: v for k, v in labels.items() if not k.startswith("com.docker.compose.")},
            **resource_labels(stack)}


def node_actions(decision: Decision) -> Iterable[tuple[str, tuple[Action, ...]]]:
    return ((n, a) for n, a in decision.actions.items() if a)
