"""Has a deploy converged? Per-service progress lines and, when it has not, the per-task reasons.

Pure: `stack deploy` (and `service scale`) read the records in a loop and ask :func:`progress` what to
show; the deadline and the clock are the caller's.

A replicated service is converged when exactly ``replicas`` tasks run with the service's current spec
hash and nothing else of it still runs; a global one when it has tasks, all desired running tasks run the
current spec and nothing else runs. A slot whose task failed ``FAIL_LIMIT`` times since the deploy began
fails the deploy early (the reconciler keeps retrying it; the user hears now, not at the timeout).
"""

from __future__ import annotations

from collections.abc import Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass

from stackctl.cluster.state import ServiceRecord, TaskRecord

FAIL_LIMIT = 3


@dataclass(frozen=True)
class ServiceProgress:
    service: str
    running: int  # tasks running the current spec
    desired: int
    converged: bool
    failed: bool
    reasons: tuple[str, ...]  # why not converged, one per task
    update: str = ""  # the rolling update's state since the deploy: "updating 2/4", "paused: ...", ...

    def line(self) -> str:
        """`web: 3/3 running`; until converged, the first reason too; an update's state."""
        text = f"{self.service}: {self.running}/{self.desired} running"
        if self.update:
            text += f", {self.update}"
        if self.failed:
            text += ", FAILED"
        return text if self.converged or not self.reasons or self.update else f"{text} ({self.reasons[0]})"


def _slot(t: TaskRecord) -> str:
    return f"{t.stack}_{t.service}.{t.slot if t.slot else t.node}"


def _reason(t: TaskRecord) -> str:
    where = f" on {t.node}" if t.node else ""
    return f"{_slot(t)}: {t.state}{where}" + (f": {t.message}" if t.message else "")


def service_progress(svc: ServiceRecord, tasks: Sequence[TaskRecord], *, since: float,
                     one_shot: bool = False, rollback_ok: bool = False) -> ServiceProgress:
    """``one_shot``: the service's restart policy does not restart a task that exited 0 (a migration): a
    slot whose task completed with the current spec counts as done."""
    mine = [t for t in tasks if (t.stack, t.service) == (svc.stack, svc.service)]
    wanted = [t for t in mine if t.desired == "running"]
    current = [t for t in wanted if t.spec_hash == svc.spec_hash]
    running = [t for t in current if t.state == "running"]
    if one_shot:
        live_slots = {t.slot for t in wanted}
        running += [t for t in mine if t.state == "complete" and t.spec_hash == svc.spec_hash
                    and t.slot not in live_slots and t.created >= since]
    stale = [t for t in mine if t.state == "running" and t not in running]
    desired = svc.replicas if svc.mode == "replicated" else len(wanted)
    if svc.mode == "replicated":
        done = len(running) == desired and not stale
    else:
        done = bool(wanted) and len(running) == len(wanted) and not stale
    failures: dict[str, int] = {}
    for t in mine:
        if t.state == "failed" and t.created >= since:
            failures[_slot(t)] = failures.get(_slot(t), 0) + 1
    gave_up = [t for t in mine if t.created >= since and "gave up after" in t.message]
    up = svc.update if svc.update is not None and svc.update.started >= since else None
    governed = up is not None and up.state in ("updating", "rollback_started")
    if governed:
        done = False  # until the update says completed: its last tasks may still fail within monitor
    failed = not done and not governed and (any(n >= FAIL_LIMIT for n in failures.values()) or bool(gave_up))
    update = ""
    if up is not None:
        if up.state == "updating":
            update = f"updating {len(running)}/{desired}"
        elif up.state == "rollback_started":
            update = up.message if up.message.startswith("rolling back") else "rolling back"
        elif up.state != "completed" and not (rollback_ok and up.state == "rollback_completed"):
            update = up.message
        if up.state in ("paused", "rollback_paused") or (up.state == "rollback_completed" and not rollback_ok):
            failed, done = True, False
    reasons: list[str] = []
    if not done:
        reasons += [_reason(t) for t in sorted(wanted, key=_slot) if t.state != "running" or t not in current]
        reasons += [f"{_slot(t)}: still running an older spec or an extra slot" for t in stale]
        if up is not None and failed and up.state != "updating":
            reasons.insert(0, f"{_slot_of(svc)}: {up.message}")
        elif failed:
            last = [t for t in sorted(mine, key=lambda t: t.updated) if t.state == "failed"][-1]
            reasons.insert(0, f"{_slot(last)} failed {max(failures.values())} times: {last.message or 'no reason given'}")
        if not wanted and desired:
            reasons.append(f"{svc.stack}_{svc.service}: no task yet")
        elif svc.mode == "global" and not wanted:
            reasons.append(f"{svc.stack}_{svc.service}: no task yet (no eligible node, or no leader acting)")
    return ServiceProgress(service=svc.service, running=len(running), desired=desired, converged=done,
                           failed=failed, reasons=tuple(reasons), update=update)


def _slot_of(svc: ServiceRecord) -> str:
    return f"{svc.stack}_{svc.service}"


def progress(services: Sequence[ServiceRecord], tasks: Sequence[TaskRecord], *,
             since: float, one_shot: AbstractSet[str] = frozenset(), rollback_ok: bool = False) -> list[ServiceProgress]:
    return [service_progress(s, tasks, since=since, one_shot=s.service in one_shot, rollback_ok=rollback_ok)
            for s in sorted(services, key=lambda s: s.service)]
