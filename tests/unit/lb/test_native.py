"""The native engine's pure parts: its PROXY headers, how it is told about health, and that it is built."""

from __future__ import annotations

import pytest

from stackctl.lb import native, proxyproto
from stackctl.lb.config import Address, BackendSpec, Listener
from stackctl.lb.native import ELIGIBLE, FALLBACK, NEVER, SyncedPool, backend_state
from stackctl.lb.pool import Pool
from stackctl.lb.server import engine_of
from tests.support.env import missing


def relay() -> object:
    if not native.available():
        missing("the native engine (stackctl.lb._relay) is not built: install with gcc and python3-dev")
    from stackctl.lb import _relay

    return _relay


def test_the_native_engine_is_built_and_chosen_by_default() -> None:
    relay()  # in CI a machine without the extension fails here instead of quietly using asyncio
    assert engine_of(Listener(name="web", bind=Address("127.0.0.1", 80))) == "native"
    assert engine_of(Listener(name="web", bind=Address("127.0.0.1", 80), engine="asyncio")) == "asyncio"


ADDRESSES = [
    (("192.0.2.7", 51234), ("10.0.0.1", 80)),
    (("2001:db8::7", 65535), ("2001:db8::1", 1)),
    (("::1", 5), ("1:0:2:3:4:5:6:7", 443)),  # a lone zero group is not compressed
    (("2001:db8:0:0:1:0:0:1", 9), ("fe80::", 8)),  # the first of two equal runs is compressed
    (("::ffff:192.0.2.7", 5), ("::ffff:10.0.0.1", 80)),  # v4-mapped clients of a dual-stack listener
    (("::ffff:192.0.2.7", 5), ("10.0.0.1", 80)),
    (("192.0.2.7", 5), ("2001:db8::1", 80)),  # mixed families: UNKNOWN / LOCAL
]


@pytest.mark.parametrize("version", [1, 2])
@pytest.mark.parametrize(("src", "dst"), ADDRESSES)
def test_the_relay_writes_the_same_proxy_header_bytes_as_proxyproto(
        version: int, src: tuple[str, int], dst: tuple[str, int]) -> None:
    header = relay().proxy_header(version, src[0], src[1], dst[0], dst[1])  # type: ignore[attr-defined]
    assert header == proxyproto.encode(f"v{version}", src, dst)


def specs(*ports: int, health: str | None = None) -> list[BackendSpec]:
    return [BackendSpec(Address("127.0.0.1", p), health) for p in ports]


def test_backend_states_follow_the_pool_eligible_then_down_as_a_last_resort_never_unhealthy() -> None:
    pool = Pool.of(specs(1, 2) + specs(3, health="unhealthy") + specs(4, health="starting"))
    pool.connect_failed(pool.backends[1])
    assert [backend_state(b) for b in pool.backends] == [ELIGIBLE, FALLBACK, NEVER, FALLBACK]


def test_a_synced_pool_reports_every_health_change_and_keeps_the_state_it_adopted() -> None:
    plain = Pool.of(specs(1, 2), rise=2, fall=1)
    plain.connect_failed(plain.backends[1])
    pool = SyncedPool.adopt(plain)
    assert pool.backends == plain.backends and pool.backends[1].state == "down" and pool.rise == 2
    seen: list[list[int]] = []
    pool.on_change = lambda: seen.append([backend_state(b) for b in pool.backends])
    pool.check_result(pool.backends[1], True)
    pool.check_result(pool.backends[1], True)  # rise 2: back after the second success
    pool.connect_failed(pool.backends[0])
    pool.readmit()
    assert seen == [[ELIGIBLE, FALLBACK], [ELIGIBLE, ELIGIBLE], [FALLBACK, ELIGIBLE], [ELIGIBLE, ELIGIBLE]]
    assert SyncedPool.adopt(pool) is pool
