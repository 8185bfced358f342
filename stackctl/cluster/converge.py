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

    def line(self) -> str:
        """`web: 3/3 running`; until converged, the first reason too."""
        text = f"{self.service}: {self.running}/{self.desired} running"
        if self.failed:
            text += ", FAILED"
        return text if self.converged or not self.reasons else f"{text} ({self.reasons[0]})"


def _slot(t: TaskRecord) -> str:
    return f"{t.stack}_{t.service}.{t.slot if t.slot else t.node}"


def _reason(t: TaskRecord) -> str:
    where = f" on {t.node}" if t.node else ""
    return f"{_slot(t)}: {t.state}{where}" + (f": {t.message}" if t.message else "")


def service_progress(svc: ServiceRecord, tasks: Sequence[TaskRecord], *, since: float) -> ServiceProgress:
    mine = [t for t in tasks if (t.stack, t.service) == (svc.stack, svc.service)]
    wanted = [t for t in mine if t.desired == "running"]
    current = [t for t in wanted if t.spec_hash == svc.spec_hash]
    running = [t for t in current if t.state == "running"]
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
    failed = not done and any(n >= FAIL_LIMIT for n in failures.values())
    reasons: list[str] = []
    if not done:
        reasons += [_reason(t) for t in sorted(wanted, key=_slot) if t.state != "running" or t not in current]
        reasons += [f"{_slot(t)}: still running an older spec or an extra slot" for t in stale]
        if failed:
            last = [t for t in sorted(mine, key=lambda t: t.updated) if t.state == "failed"][-1]
            reasons.insert(0, f"{_slot(last)} failed {max(failures.values())} times: {last.message or 'no reason given'}")
        if not wanted and desired:
            reasons.append(f"{svc.stack}_{svc.service}: no task yet")
        elif svc.mode == "global" and not wanted:
            reasons.append(f"{svc.stack}_{svc.service}: no task yet (no eligible node, or no leader acting)")
    return ServiceProgress(service=svc.service, running=len(running), desired=desired, converged=done,
                           failed=failed, reasons=tuple(reasons))


def progress(services: Sequence[ServiceRecord], tasks: Sequence[TaskRecord], *,
             since: float) -> list[ServiceProgress]:
    return [service_progress(s, tasks, since=since) for s in sorted(services, key=lambda s: s.service)]
