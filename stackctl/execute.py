"""Apply a Plan along its DAG: each action starts as soon as all the actions it needs succeeded.

asyncio, no barrier per dependency level, a concurrency limit on engine calls, dependents of a
failure skipped and reported, progress through a reporter callback the caller supplies.
The work of one action is done by the ``run`` coroutine function given by the caller.
"""

from __future__ import annotations

import asyncio
import heapq
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from stackctl.errors import ExecutionError, StackctlError
from stackctl.plan.actions import Action

STARTED, DONE, FAILED, SKIPPED = "started", "done", "failed", "skipped"
AHEAD_LIMIT = 2


@dataclass(frozen=True)
class Event:
    """Progress of one action, given to the reporter."""

    action: Action
    status: str
    elapsed: float = 0.0
    error: str | None = None


@dataclass
class Outcome:
    done: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed


Runner = Callable[[Action], Awaitable[None]]
Reporter = Callable[[Event], None]


def _noop(event: Event) -> None:
    return None


class _Run:
    """One execution. Ready engine actions wait for a free slot in a queue ordered by how long a
    chain of actions still hangs on them (critical path first), so that with a limit the actions
    that unblock the most work go first. A preparatory action (a create) whose dependents still
    wait on other actions is *ahead* of need: it waits until no awaited create is running, and at
    most ``ahead_limit`` of those run at once, so that the engine spends itself on what is awaited
    now (creating every later level at full width slowed the first level's starts)."""

    def __init__(self, actions: Sequence[Action], run: Runner, limit: int, reporter: Reporter,
                 clock: Callable[[], float], ahead_limit: int = AHEAD_LIMIT) -> None:
        self.by_id = {a.id: a for a in actions}
        self.order = {a.id: i for i, a in enumerate(actions)}
        self.run, self.reporter, self.clock = run, reporter, clock
        self.limit, self.busy = max(1, limit), 0
        self.ahead_limit, self.ahead_running = max(1, ahead_limit), set[str]()
        self.awaited_preparing: set[str] = set()  # creates whose start waits for nothing else
        self.ready: list[tuple[int, int, str]] = []  # heap of (-rank, plan order, id)
        self.waiting = {a.id: {n for n in a.needs if n in self.by_id and n != a.id} for a in actions}
        self.dependents: dict[str, list[str]] = {}
        for a in actions:
            for n in self.waiting[a.id]:
                self.dependents.setdefault(n, []).append(a.id)
        self.rank = self._ranks()
        self.outcome = Outcome()
        self.tasks: dict[asyncio.Task[None], str] = {}

    def _ranks(self) -> dict[str, int]:
        """Length of the longest chain of actions from each action to the end of the plan."""
        rank: dict[str, int] = {}
        pending = {aid: len(self.dependents.get(aid, ())) for aid in self.by_id}
        todo = [aid for aid, n in pending.items() if n == 0]
        while todo:
            aid = todo.pop()
            rank[aid] = 1 + max((rank[d] for d in self.dependents.get(aid, ())), default=0)
            for need in self.waiting[aid]:
                pending[need] -= 1
                if pending[need] == 0:
                    todo.append(need)
        return {aid: rank.get(aid, 1) for aid in self.by_id}  # (a cycle would leave some unranked)

    async def go(self) -> Outcome:
        for aid, needs in self.waiting.items():
            if not needs:
                self._launch(aid)
        self._fill()
        while self.tasks:
            finished, _ = await asyncio.wait(list(self.tasks), return_when=asyncio.FIRST_COMPLETED)
            for task in finished:
                aid = self.tasks.pop(task)
                if self.by_id[aid].throttled:
                    self.busy -= 1
                self.ahead_running.discard(aid)
                self.awaited_preparing.discard(aid)
                self._settle(aid, task)
            self._fill()
        return self.outcome

    def _launch(self, aid: str) -> None:
        if self.by_id[aid].throttled:
            heapq.heappush(self.ready, (-self.rank[aid], self.order[aid], aid))  # started by _fill()
        else:
            self.tasks[asyncio.ensure_future(self._timed(self.by_id[aid]))] = aid

    def _fill(self) -> None:
        held = []
        while self.ready and self.busy < self.limit:
            item = heapq.heappop(self.ready)
            aid = item[2]
            if self._ahead(aid):
                if self.awaited_preparing or len(self.ahead_running) >= self.ahead_limit:
                    held.append(item)
                    continue
                self.ahead_running.add(aid)
            elif self.by_id[aid].preparatory:
                self.awaited_preparing.add(aid)
            self.busy += 1
            self.tasks[asyncio.ensure_future(self._timed(self.by_id[aid]))] = aid
        for item in held:
            heapq.heappush(self.ready, item)

    def _ahead(self, aid: str) -> bool:
        """A preparatory action none of whose dependents could start once it is done."""
        deps = self.dependents.get(aid, ())
        return (self.by_id[aid].preparatory and bool(deps)
                and all(self.waiting[d] - {aid} for d in deps))

    async def _timed(self, action: Action) -> None:
        start = self.clock()
        self.reporter(Event(action, STARTED))
        try:
            await self.run(action)
        except Exception as exc:
            self.reporter(Event(action, FAILED, self.clock() - start, _message(exc)))
            raise
        self.reporter(Event(action, DONE, self.clock() - start))

    def _settle(self, aid: str, task: asyncio.Task[None]) -> None:
        exc = task.exception()
        if exc is None:
            self.outcome.done.append(aid)
            for dep in self.dependents.get(aid, ()):
                self.waiting[dep].discard(aid)
                if not self.waiting[dep] and dep not in self.outcome.skipped:
                    self._launch(dep)
            return
        if not isinstance(exc, Exception):
            raise exc
        self.outcome.failed[aid] = _message(exc)
        self._skip_dependents(aid)

    def _skip_dependents(self, aid: str) -> None:
        todo = list(self.dependents.get(aid, ()))
        while todo:
            dep = todo.pop()
            if dep in self.outcome.skipped:
                continue
            self.outcome.skipped.append(dep)
            self.reporter(Event(self.by_id[dep], SKIPPED, error=f"{aid} failed"))
            todo.extend(self.dependents.get(dep, ()))


def _message(exc: BaseException) -> str:
    if isinstance(exc, StackctlError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


async def execute(actions: Sequence[Action], run: Runner, *, limit: int = 16,
                  reporter: Reporter | None = None, clock: Callable[[], float] = time.monotonic,
                  ahead_limit: int = AHEAD_LIMIT) -> Outcome:
    """Run every action once its needs succeeded; never raises for an action's failure."""
    return await _Run(actions, run, limit, reporter or _noop, clock, ahead_limit).go()


def raise_for(outcome: Outcome, by_id: dict[str, Action]) -> None:
    """ExecutionError naming each failed action's service and the skipped dependents."""
    if outcome.ok:
        return
    parts = []
    for aid, msg in outcome.failed.items():
        act = by_id.get(aid)
        who = f"service {act.service}" if act and act.service else aid
        parts.append(f"{who}: {msg}")
    skipped = sorted({by_id[s].service or s for s in outcome.skipped if s in by_id})
    message = "; ".join(parts)
    if skipped:
        message += f" (not started because of it: {', '.join(s for s in skipped if s)})"
    raise ExecutionError(message, failed=dict(outcome.failed), skipped=list(outcome.skipped))
