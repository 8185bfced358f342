"""The DAG executor: eager starts, failures skip dependents, concurrency limit."""

from __future__ import annotations

import asyncio

import pytest

from stackctl.errors import DriverError, ExecutionError
from stackctl.execute import DONE, FAILED, SKIPPED, STARTED, execute, raise_for
from stackctl.plan.actions import Action, Reason


def act(name: str, *needs: str, kind: str = "start_container", service: str | None = None) -> Action:
    return Action(kind, name, Reason("test"), service or name, 1, tuple(f"{kind}:{n}" if ":" not in n else n
                                                                        for n in needs))


def test_an_action_starts_as_soon_as_its_own_needs_are_done_without_waiting_for_a_level() -> None:
    # a -> b; c is slow and only finishes once b ran: a level-by-level executor would deadlock.
    b_ran = None

    async def run(action: Action) -> None:
        if action.target == "c":
            await asyncio.wait_for(b_ran.wait(), 2)
        if action.target == "b":
            b_ran.set()

    async def main():
        nonlocal b_ran
        b_ran = asyncio.Event()
        return await execute([act("a"), act("c"), act("b", "a")], run)

    outcome = asyncio.run(main())
    assert outcome.ok and sorted(outcome.done) == ["start_container:a", "start_container:b", "start_container:c"]


def test_failure_skips_every_dependent_and_reports_both_while_others_finish() -> None:
    events = []

    async def run(action: Action) -> None:
        if action.target == "db":
            raise DriverError("image not found: nope", service="db")

    actions = [act("db"), act("api", "db"), act("web", "api"), act("cache")]
    outcome = asyncio.run(execute(actions, run, reporter=events.append))
    assert outcome.failed == {"start_container:db": "image not found: nope"}
    assert sorted(outcome.skipped) == ["start_container:api", "start_container:web"]
    assert "start_container:cache" in outcome.done
    assert {(e.action.target, e.status) for e in events} >= {("db", FAILED), ("api", SKIPPED), ("cache", DONE)}
    with pytest.raises(ExecutionError) as err:
        raise_for(outcome, {a.id: a for a in actions})
    assert "service db: image not found: nope" in str(err.value)
    assert "api" in str(err.value) and "web" in str(err.value)


def test_concurrency_limit_applies_to_engine_calls_but_not_to_waits() -> None:
    running, peak = 0, 0

    async def run(action: Action) -> None:
        nonlocal running, peak
        if action.kind == "wait":
            await asyncio.sleep(0.05)
            return
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    actions = [act(f"c{i}") for i in range(10)] + [act(f"w{i}", kind="wait") for i in range(5)]
    outcome = asyncio.run(execute(actions, run, limit=3))
    assert outcome.ok and peak == 3


def test_reporter_sees_start_and_end_with_elapsed_time() -> None:
    ticks = iter([0.0, 1.5])
    events = []

    async def run(action: Action) -> None:
        return None

    asyncio.run(execute([act("a")], run, reporter=events.append, clock=lambda: next(ticks)))
    assert [(e.status, e.elapsed) for e in events] == [(STARTED, 0.0), (DONE, 1.5)]


def test_with_a_limit_the_action_heading_the_longest_chain_goes_first() -> None:
    order = []

    async def run(action: Action) -> None:
        order.append(action.target)

    # `leaf` is listed first but nothing waits for it; `root` heads a chain of three.
    actions = [act("leaf"), act("root"), act("mid", "root"), act("top", "mid")]
    outcome = asyncio.run(execute(actions, run, limit=1))
    assert outcome.ok and order[:2] == ["root", "mid"] and sorted(order[2:]) == ["leaf", "top"]


def test_creates_for_later_levels_run_two_at_a_time_while_the_first_level_starts_at_full_width() -> None:
    # Two levels of three: each start needs its own create; level 1 also needs every level-0 start.
    running: set[str] = set()
    peaks = {"ahead": 0, "level0": 0}
    log: list[str] = []

    async def run(action: Action) -> None:
        running.add(action.id)
        log.append(action.id)
        peaks["ahead"] = max(peaks["ahead"], len({f"create_container:{b}" for b in level1} & running))
        peaks["level0"] = max(peaks["level0"], len({f"start_container:{a}" for a in level0} & running))
        await asyncio.sleep(0.01)
        running.discard(action.id)
        log.append(f"done {action.id}")

    level0 = [f"a{i}" for i in range(3)]
    level1 = [f"b{i}" for i in range(3)]
    actions = [act(n, kind="create_container", service=n) for n in level0 + level1]
    actions += [act(n, f"create_container:{n}", service=n) for n in level0]
    actions += [act(n, f"create_container:{n}", *level0, service=n) for n in level1]
    outcome = asyncio.run(execute(actions, run, limit=8, ahead_limit=2))
    assert outcome.ok and len(outcome.done) == 12
    assert peaks["ahead"] == 2  # never the three level-1 creates at once, though the limit allows 8
    assert peaks["level0"] == 3
    first_b = min(log.index(f"create_container:{b}") for b in level1)
    assert all(log.index(f"done create_container:{a}") < first_b for a in level0)  # awaited creates first
    # once level 0 has started, nothing holds level 1 back: its starts come after all three
    assert all(log.index(f"start_container:{b}") > log.index(f"start_container:{a}") for a in level0 for b in level1)


def test_a_create_whose_start_waits_for_nothing_else_is_not_held_back() -> None:
    peak, running = 0, 0

    async def run(action: Action) -> None:
        nonlocal peak, running
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.01)
        running -= 1

    names = [f"s{i}" for i in range(6)]  # six independent services: all their creates are awaited at once
    actions = [act(n, kind="create_container", service=n) for n in names]
    actions += [act(n, f"create_container:{n}", service=n) for n in names]
    outcome = asyncio.run(execute(actions, run, limit=8, ahead_limit=2))
    assert outcome.ok and peak >= 6
