"""Active health checks: a TCP connect to every backend of a listener at the configured interval.

Results go to the pool (:meth:`Pool.check_result`), which applies the rise/fall rules. Backends
whose container health Docker reports are still probed: the Docker status gates eligibility, the
probe notices a dead socket.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from stackctl.lb.config import HealthCheck
from stackctl.lb.pool import Backend, Pool


class Checked(Protocol):
    """What the checker needs from a listener."""

    pool: Pool

    @property
    def health(self) -> HealthCheck | None: ...


async def probe(backend: Backend, *, timeout: float) -> bool:
    """True when a TCP connection to the backend opens within ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(timeout):
            transport, _ = await loop.create_connection(asyncio.Protocol, backend.host, backend.port)
    except (OSError, TimeoutError):
        return False
    transport.close()
    return True


async def check_once(pool: Pool, health: HealthCheck) -> None:
    """Probe every configured backend once, concurrently, and record the results."""
    backends = list(pool.backends)
    results = await asyncio.gather(*(probe(b, timeout=health.timeout) for b in backends))
    for backend, ok in zip(backends, results):
        pool.check_result(backend, ok)


READMIT_AFTER = 5.0  # seconds a backend stays out after a failed connect when nothing probes it


async def run_checks(target: Checked) -> None:
    """Check forever at the listener's current interval (re-read each round: it may be reloaded).

    Listeners without active checks (``health: false``, UDP) readmit backends that a failed
    connect took out every READMIT_AFTER seconds; the passive check takes them out again if needed.
    """
    while True:
        health = target.health
        if health is None:
            await asyncio.sleep(READMIT_AFTER)
            target.pool.readmit()
            continue
        await asyncio.sleep(health.interval)
        await check_once(target.pool, health)
