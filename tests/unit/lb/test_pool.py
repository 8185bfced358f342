"""Round-robin order, health skipping and live backend changes of the pure pool."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stackctl.lb.config import Address, BackendSpec
from stackctl.lb.pool import Pool


def specs(*ports: int, health: str | None = None) -> list[BackendSpec]:
    return [BackendSpec(Address("10.0.0.1", p), health) for p in ports]


def picks(pool: Pool, n: int) -> list[int]:
    out = []
    for _ in range(n):
        backend = pool.pick()
        assert backend is not None
        out.append(backend.port)
    return out


def test_round_robin_cycles_in_configuration_order() -> None:
    pool = Pool.of(specs(1, 2, 3))
    assert picks(pool, 7) == [1, 2, 3, 1, 2, 3, 1]


def test_a_failed_connect_takes_the_backend_out_at_once() -> None:
    pool = Pool.of(specs(1, 2, 3))
    assert picks(pool, 3) == [1, 2, 3]
    pool.connect_failed(pool.backends[1])
    assert picks(pool, 4) == [1, 3, 1, 3]
    assert pool.backends[1].state == "down"
    assert pool.backends[1].connect_failures == 1


def test_skip_lists_the_backends_already_tried_for_this_client() -> None:
    pool = Pool.of(specs(1, 2, 3))
    first = pool.pick()
    assert first is not None
    pool.connect_failed(first)
    second = pool.pick(skip=[first])
    assert second is not None and second.port == 2
    pool.connect_failed(second)
    third = pool.pick(skip=[first, second])
    assert third is not None and third.port == 3
    assert pool.pick(skip=[first, second, third]) is None


def test_when_every_backend_is_down_one_is_still_tried_as_a_last_resort() -> None:
    pool = Pool.of(specs(1, 2))
    for backend in pool.backends:
        pool.connect_failed(backend)
    assert picks(pool, 3) == [1, 2, 1]


@pytest.mark.parametrize(("rise", "fall", "results", "up_after"), [
    (2, 1, [False], False),
    (2, 2, [False], True),
    (2, 2, [False, False], False),
    (2, 2, [False, True, False], True),  # failures must be consecutive
    (2, 1, [False, True], False),  # one success is not enough to return
    (2, 1, [False, True, True], True),
    (3, 1, [False, True, False, True, True], False),  # successes must be consecutive too
])
def test_active_checks_follow_rise_and_fall(rise: int, fall: int, results: list[bool], up_after: bool) -> None:
    pool = Pool.of(specs(1, 2), rise=rise, fall=fall)
    backend = pool.backends[0]
    for ok in results:
        pool.check_result(backend, ok)
        pool.pick()  # picks in between must see each change
    assert backend.up is up_after
    assert (1 in picks(pool, 2)) is up_after


def test_without_active_checks_backends_taken_out_by_a_failed_connect_are_readmitted() -> None:
    pool = Pool.of(specs(1, 2))
    pool.connect_failed(pool.backends[0])
    assert picks(pool, 2) == [2, 2]
    pool.readmit()
    assert sorted(picks(pool, 2)) == [1, 2]


def test_docker_health_gates_the_backend() -> None:
    pool = Pool.of([BackendSpec(Address("10.0.0.1", 1), "starting"), BackendSpec(Address("10.0.0.1", 2), "healthy")])
    assert picks(pool, 3) == [2, 2, 2]
    assert pool.backends[0].state == "starting"
    pool.update([BackendSpec(Address("10.0.0.1", 1), "healthy"), BackendSpec(Address("10.0.0.1", 2), "unhealthy")])
    assert picks(pool, 2) == [1, 1]


def test_an_unhealthy_container_is_not_even_a_last_resort() -> None:
    pool = Pool.of([BackendSpec(Address("10.0.0.1", 1), "unhealthy")])
    assert pool.pick() is None


def test_update_keeps_the_state_of_backends_still_listed_and_drains_the_others() -> None:
    pool = Pool.of(specs(1, 2, 3))
    pool.connect_failed(pool.backends[0])
    pool.backends[2].active = 4
    drained = pool.update(specs(1, 2, 4))
    assert [b.port for b in drained] == [3]
    assert drained[0].state == "draining" and drained[0].active == 4
    assert pool.backends[0].state == "down"  # its history was kept
    assert sorted(picks(pool, 4)) == [2, 2, 4, 4]
    pool.forget(drained[0])
    assert [b.port for b in pool.all()] == [1, 2, 4]


def test_a_draining_backend_listed_again_comes_back_with_its_counters() -> None:
    pool = Pool.of(specs(1, 2))
    pool.backends[1].connections = 9
    pool.update(specs(1))
    assert picks(pool, 2) == [1, 1]
    assert pool.update(specs(1, 2)) == []
    assert pool.backends[1].connections == 9 and pool.backends[1].state == "up"
    assert sorted(picks(pool, 2)) == [1, 2]


def test_scaling_down_to_nothing_and_up_again() -> None:
    pool = Pool.of(specs(1, 2))
    pool.update([])
    assert pool.pick() is None
    pool.update(specs(5))
    assert picks(pool, 2) == [5, 5]


@given(st.lists(st.tuples(st.sampled_from(["fail", "check_ok", "check_bad", "update", "docker", "pick"]),
                          st.integers(0, 5), st.lists(st.integers(1, 6), max_size=6, unique=True)),
                max_size=40))
def test_any_history_leaves_a_fair_rotation_over_exactly_the_eligible_backends(
        history: list[tuple[str, int, list[int]]]) -> None:
    pool = Pool.of(specs(1, 2, 3), rise=2, fall=2)
    for op, index, ports in history:
        backend = pool.backends[index % len(pool.backends)] if pool.backends else None
        if op == "pick":
            pool.pick()
        elif op == "update":
            pool.update(specs(*ports))
        elif op == "docker":
            pool.update([BackendSpec(b.address, ("healthy", "starting", "unhealthy")[(index + i) % 3])
                         for i, b in enumerate(pool.backends)])
        elif backend is not None and op == "fail":
            pool.connect_failed(backend)
        elif backend is not None:
            pool.check_result(backend, op == "check_ok")
    eligible = [b for b in pool.backends if b.eligible]
    round_ = [pool.pick() for _ in range(len(eligible))]
    if eligible:  # one full turn picks each eligible backend once, and nothing else
        assert sorted(id(b) for b in round_) == sorted(id(b) for b in eligible)
    else:  # a last resort is never draining nor reported unhealthy by Docker
        last = pool.pick()
        assert last is None or (not last.draining and last.external != "unhealthy")
    assert all(not b.draining for b in pool.backends)
