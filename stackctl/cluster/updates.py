"""Rolling updates and rollback: which outdated tasks a pass replaces, and when an update stops.

Pure: the service record (its spec hash, its update status, its previous spec), its tasks, the service's
document entry and the time come in; a :class:`Step` comes out. The reconciler applies it.

A service whose spec hash changed has outdated live tasks (an older ``spec_hash``). They are replaced by
the service's ``deploy.update_config`` (during a rollback, by the ``rollback_config`` of the spec rolled
back from, kept in the status):

- ``parallelism`` slots at a time (0: all), the next batch ``delay`` after the last one became ready
  (running, and healthy when the image has a healthcheck);
- ``order: stop-first`` ends the old task, the slot then gets a new one; ``start-first`` starts the new
  task beside the old one, which is ended once the new one is ready;
- a new task *fails* when it exits, or its container turns unhealthy, within ``monitor`` of its start;
  when more than ``max_failure_ratio`` of the slots failed, ``failure_action`` says: ``pause`` (the rest
  stays on the old spec; a new deploy or ``service rollback`` goes on), ``rollback`` (the previous spec
  becomes the service's spec again and the same machinery rolls it out) or ``continue``.

Nothing is kept in the leader's memory: every decision is made again from the records each pass, so a
new leader carries on where the last one stopped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from stackctl.cluster.state import ServiceRecord, StackRecord, TaskRecord, UpdateState, UpdateStatus
from stackctl.engine.durations import duration_ns

FAILED_STATES = frozenset({"failed", "complete"})
DEFAULT_MONITOR = 5.0  # swarm's default


@dataclass(frozen=True)
class UpdateConfig:
    parallelism: int = 1
    delay: float = 0.0
    order: str = "stop-first"
    failure_action: str = "pause"
    monitor: float = DEFAULT_MONITOR
    max_failure_ratio: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {"parallelism": self.parallelism, "delay": self.delay, "order": self.order,
                "failure_action": self.failure_action, "monitor": self.monitor,
                "max_failure_ratio": self.max_failure_ratio}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UpdateConfig:
        return cls(**{k: data[k] for k in cls().to_dict() if k in data})


def _seconds(value: object, default: float) -> float:
    if value is None:
        return default
    return duration_ns(value) / 1e9


def update_config(svc: Mapping[str, Any], *, rollback: bool = False) -> UpdateConfig:
    """The service's ``deploy.update_config`` (or ``rollback_config``), swarm's defaults filled in."""
    raw = ((svc.get("deploy") or {}).get("rollback_config" if rollback else "update_config")) or {}
    return UpdateConfig(parallelism=int(raw.get("parallelism", 1) or 0), delay=_seconds(raw.get("delay"), 0.0),
                        order=str(raw.get("order") or "stop-first"),
                        failure_action=str(raw.get("failure_action") or "pause"),
                        monitor=_seconds(raw.get("monitor"), DEFAULT_MONITOR),
                        max_failure_ratio=float(raw.get("max_failure_ratio") or 0.0))


@dataclass(frozen=True)
class Step:
    """What a pass does for one service's update."""

    stop: tuple[TaskRecord, ...] = ()  # outdated tasks to end now (their slot is then refilled)
    start_beside: tuple[TaskRecord, ...] = ()  # outdated tasks whose slot gets a new task beside them (start-first)
    hidden: frozenset[str] = frozenset()  # ids of outdated tasks the slot filler must not see (a new task runs beside)
    status: UpdateStatus | None = None  # the service's new update status, when it changed
    rollback: bool = False  # swap the service back to its previous spec
    wake: float | None = None  # when the next batch falls due (delay)


@dataclass
class _Slots:
    old: dict[str, TaskRecord] = field(default_factory=dict)
    new: dict[str, TaskRecord] = field(default_factory=dict)


def slot_key(t: TaskRecord) -> str:
    return str(t.slot) if t.slot else f"node:{t.node}"


def ready(t: TaskRecord) -> bool:
    return t.desired == "running" and t.state == "running" and t.health in ("", "healthy")


def failures(svc: ServiceRecord, tasks: Sequence[TaskRecord], status: UpdateStatus,
             config: UpdateConfig) -> list[TaskRecord]:
    """New tasks of this update that exited or turned unhealthy within ``monitor`` of their start."""
    out = []
    for t in tasks:
        if t.spec_hash != status.target or t.created < status.started or t.state not in FAILED_STATES:
            continue
        if t.desired != "shutdown":
            continue
        if not t.started or t.updated - t.started <= config.monitor:
            out.append(t)
    return out


def why_failed(failed: Sequence[TaskRecord], total: int, config: UpdateConfig) -> str:
    unhealthy = sum(1 for t in failed if "unhealthy" in t.message)
    word = "unhealthy" if unhealthy == len(failed) else "exited" if unhealthy == 0 else "failed"
    last = failed[-1].message if failed else ""
    return (f"{len(failed)} of {total} new tasks {word} within {config.monitor:g}s"
            + (f" (last: {last})" if last else ""))


def plan_update(svc: ServiceRecord, doc: Mapping[str, Any], tasks: Sequence[TaskRecord], *, now: float) -> Step:
    """The next step of ``svc``'s update. ``tasks`` are all its task records (live and finished)."""
    live = [t for t in tasks if t.desired == "running"]
    slots: dict[str, _Slots] = {}
    for t in sorted(live, key=lambda t: (t.slot, t.node or "", t.created)):
        side = slots.setdefault(slot_key(t), _Slots())
        (side.new if t.spec_hash == svc.spec_hash else side.old)[t.id] = t
    outdated = [t for s in slots.values() for t in s.old.values()]
    status = svc.update
    if status is None or status.target != svc.spec_hash:
        if not outdated:
            return Step()
        config = update_config(doc)
        status = UpdateStatus(state="updating", target=svc.spec_hash, started=now, updated=now,
                              message="updating", config=config.to_dict())
        return replace(_advance(svc, slots, status, config, now=now), status=status)
    config = UpdateConfig.from_dict(status.config)
    if status.stopped or status.state.endswith("completed"):
        if status.state.endswith("completed") and outdated:
            return _advance(svc, slots, status, config, now=now)  # e.g. a node came back with an old task
        return Step(hidden=_hidden(slots))
    failed = failures(svc, tasks, status, config)
    total = max(1, svc.replicas if svc.mode == "replicated" else len(slots))
    if failed and len(failed) / total > config.max_failure_ratio and config.failure_action != "continue":
        return _on_failure(svc, status, config, why_failed(failed, total, config), now=now, slots=slots)
    settled = [all(ready(t) and now >= t.started + config.monitor for t in s.new.values()) and s.new
               for s in slots.values()]
    if not outdated and all(settled):
        done: UpdateState = "rollback_completed" if status.rollback else "completed"
        text = "update completed"
        if status.rollback:
            text = ("rolled back: " + status.message.removeprefix("rolling back: ")
                    if status.message.startswith("rolling back: ") else "rollback completed")
        return Step(status=replace(status, state=done, updated=now, message=text))
    return _advance(svc, slots, status, config, now=now)


def _on_failure(svc: ServiceRecord, status: UpdateStatus, config: UpdateConfig, why: str, *, now: float,
                slots: Mapping[str, _Slots]) -> Step:
    if config.failure_action == "rollback" and not status.rollback:
        if svc.previous is None:
            return Step(status=replace(status, state="paused", updated=now,
                                       message=f"paused: {why}; no previous spec to roll back to"),
                        hidden=_hidden(slots))
        return Step(rollback=True, status=replace(status, state="rollback_started", updated=now,
                                                  message=f"rolling back: {why}"))
    state: UpdateState = "rollback_paused" if status.rollback else "paused"
    prefix = "rollback paused" if status.rollback else "paused"
    return Step(status=replace(status, state=state, updated=now, message=f"{prefix}: {why}"), hidden=_hidden(slots))


def _hidden(slots: Mapping[str, _Slots]) -> frozenset[str]:
    """Outdated tasks sharing their slot with a live new one (start-first): the slot filler sees the new one."""
    return frozenset(t.id for s in slots.values() if s.new for t in s.old.values())


def _advance(svc: ServiceRecord, slots: Mapping[str, _Slots], status: UpdateStatus, config: UpdateConfig, *,
             now: float) -> Step:
    """The next batch: a slot is busy until its new task is ready and has lived through ``monitor`` (so a
    task that crashes a second after it started stops the update before the next batch); the batch after
    that waits ``delay``. A start-first slot's old task goes as soon as the new one is ready."""
    stop: list[TaskRecord] = []
    beside: list[TaskRecord] = []
    busy = 0
    settled_at = 0.0
    wake: float | None = None
    waiting: list[TaskRecord] = []
    for key in sorted(slots, key=_order):
        s = slots[key]
        mine = [t for t in s.new.values() if t.created >= status.started]
        new_ready = [t for t in s.new.values() if ready(t)]
        if s.old and s.new and new_ready:
            stop += s.old.values()
        if s.old and not s.new:
            waiting += sorted(s.old.values(), key=lambda t: t.created)[:1]
            continue
        for t in mine:
            if not ready(t):
                busy += 1
            elif now < t.started + config.monitor:
                busy += 1
                wake = _earliest(wake, t.started + config.monitor)
            else:
                settled_at = max(settled_at, t.started + config.monitor)
    room = (len(waiting) if config.parallelism <= 0 else config.parallelism) - busy
    if room > 0 and waiting and busy == 0 and settled_at and settled_at + config.delay > now:
        wake, room = _earliest(wake, settled_at + config.delay), 0
    for t in waiting[:max(0, room)]:
        (beside if config.order == "start-first" else stop).append(t)
    hidden = _hidden(slots) | {t.id for t in beside}
    return Step(stop=tuple(stop), start_beside=tuple(beside), hidden=frozenset(hidden), wake=wake)


def _earliest(a: float | None, b: float) -> float:
    return b if a is None else min(a, b)


def _order(key: str) -> tuple[int, str]:
    return (int(key), "") if key.isdigit() else (1 << 30, key)


def new_beside(old: TaskRecord, svc: ServiceRecord, *, new_id: Callable[[], str], now: float,
               leader_rev: int) -> TaskRecord:
    """A pending task of the current spec for ``old``'s slot (start-first); a global one stays on its node."""
    return TaskRecord(id=new_id(), stack=svc.stack, service=svc.service, slot=old.slot,
                      node=old.node if old.slot == 0 else None, spec_hash=svc.spec_hash,
                      service_version=svc.version, leader_rev=leader_rev, created=now, updated=now)


def rolled_back(stack: StackRecord, svc: ServiceRecord, *, now: float,
                status: UpdateStatus | None) -> tuple[StackRecord, ServiceRecord]:
    """The stack and service with the previous spec made current again (and the current one kept as the
    previous, so a second rollback goes forward again), as swarm's rollback does."""
    prev = svc.previous
    if prev is None:
        raise ValueError(f"service {svc.stack}_{svc.service} has no previous spec")
    services = dict(stack.document.get("services") or {})
    current = services.get(svc.service) or {}
    ref = str(current.get("image") or "")
    services[svc.service] = prev["service"]
    images = {**stack.images, **dict(prev.get("images") or {})}
    document = {**stack.document, "services": services}
    new_stack = replace(stack, document=document, images=images, version=stack.version + 1, updated=now)
    back = {"spec_hash": svc.spec_hash, "service": current,
            "images": {ref: stack.images[ref]} if ref in stack.images else {}}
    config = update_config(current, rollback=True)
    new_status = status or UpdateStatus(state="rollback_started", target="", started=now,
                                        message="rollback requested")
    new_status = replace(new_status, target=str(prev["spec_hash"]), started=now, updated=now,
                         config=config.to_dict())
    new_svc = replace(svc, spec_hash=str(prev["spec_hash"]), previous=back, update=new_status,
                      version=svc.version + 1, updated=now)
    return new_stack, new_svc
