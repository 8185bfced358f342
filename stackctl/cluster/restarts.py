"""``deploy.restart_policy`` per slot, as swarm defines it: may a slot whose task ended get a new one, when?

Pure. ``condition``: ``any`` (default: every ended task is replaced), ``on-failure`` (only a non-zero exit,
an unhealthy container or a failed start), ``none`` (never); ``delay`` (default 5 s) between the end and
the new task; ``max_attempts`` (default 0: no limit) restarts of the slot before it is left empty;
``window``: a task that ran at least that long before ending counts as a success, and the slot's restart
count starts again. A slot whose last task ran an older spec (an update, a one-shot service deployed
again) always gets a first run of the current spec.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stackctl.cluster.state import TaskRecord
from stackctl.engine.durations import duration_ns

DEFAULT_DELAY = 5.0


@dataclass(frozen=True)
class RestartPolicy:
    condition: str = "any"
    delay: float = DEFAULT_DELAY
    max_attempts: int = 0
    window: float = 0.0


def restart_policy(svc: Mapping[str, Any]) -> RestartPolicy:
    raw = (svc.get("deploy") or {}).get("restart_policy") or {}

    def seconds(key: str, default: float) -> float:
        return default if raw.get(key) is None else duration_ns(raw[key]) / 1e9
    return RestartPolicy(condition=str(raw.get("condition") or "any"), delay=seconds("delay", DEFAULT_DELAY),
                         max_attempts=int(raw.get("max_attempts") or 0), window=seconds("window", 0.0))


@dataclass(frozen=True)
class Verdict:
    start: bool  # a new task may be made now
    attempt: int = 0  # the new task's attempt number
    due: float | None = None  # when it may, if later
    gave_up: str = ""  # why the slot stays empty (for the last task's message)


def verdict(policy: RestartPolicy, ended: Sequence[TaskRecord], *, spec_hash: str, now: float) -> Verdict:
    """May the slot whose finished tasks are ``ended`` get a new task now?"""
    if not ended:
        return Verdict(True)
    last = max(ended, key=lambda t: (t.updated, t.created))
    if last.spec_hash != spec_hash or last.state not in ("failed", "complete"):
        return Verdict(True)  # an update, a scale, a drain: not a restart
    failed = last.state == "failed"
    if policy.condition == "none" or (policy.condition == "on-failure" and not failed):
        return Verdict(False, gave_up=f"not restarted (restart_policy condition {policy.condition})")
    ran_long = bool(policy.window) and bool(last.started) and last.updated - last.started >= policy.window
    attempt = 1 if ran_long else last.attempt + 1
    if policy.max_attempts and attempt > policy.max_attempts:
        return Verdict(False, gave_up=f"gave up after {last.attempt} restarts (max_attempts {policy.max_attempts})")
    due = last.updated + policy.delay
    if due > now:
        return Verdict(False, attempt=attempt, due=due)
    return Verdict(True, attempt=attempt)
