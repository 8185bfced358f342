"""`logs` and the attached mode of `up`: each container's log stream with a `<service>-<n> | ` prefix."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import TextIO

from stackctl.drivers.base import Driver
from stackctl.plan.observed import ObservedContainer

COLOURS = (36, 33, 32, 35, 34, 96, 93, 92, 95, 94)


def prefixer(containers: Sequence[ObservedContainer], *, colour: bool, no_prefix: bool = False) -> Callable[[ObservedContainer], str]:
    width = max((len(c.replica) for c in containers), default=0) + 1  # docker compose pads one more
    services = sorted({c.service for c in containers})

    def prefix(c: ObservedContainer) -> str:
        if no_prefix:
            return ""
        text = f"{c.replica.ljust(width)} | "
        if colour:
            code = COLOURS[services.index(c.service) % len(COLOURS)] if c.service in services else 0
            return f"\x1b[{code}m{text}\x1b[0m"
        return text
    return prefix


def stream_logs(driver: Driver, containers: Sequence[ObservedContainer], *, follow: bool = False,
                tail: str = "all", timestamps: bool = False, out: TextIO | None = None, colour: bool = False,
                no_prefix: bool = False, since: str | None = None,
                ended: Callable[[ObservedContainer], None] | None = None,
                on_interrupt: Callable[[], None] | None = None) -> bool:
    """Print the logs of every container, one thread per container, whole lines only (``since``: a
    UNIX time, only what was written from then on; ``ended`` is called when a container's stream
    ends, i.e. when it stopped while following). On Ctrl-C, ``on_interrupt`` runs (it stops the
    containers) while their last lines still come, and True is returned once the streams ended."""
    out = out or sys.stdout
    lock = threading.Lock()
    prefix = prefixer(containers, colour=colour, no_prefix=no_prefix)

    def pump(c: ObservedContainer) -> None:
        pending = b""
        for chunk in driver.logs(c.id, follow=follow, tail=tail, timestamps=timestamps, since=since):
            pending += chunk
            *lines, pending = pending.split(b"\n")
            _emit(out, lock, prefix(c), lines)
        if pending:
            _emit(out, lock, prefix(c), [pending])
        if ended is not None:
            with lock:
                ended(c)

    threads = [threading.Thread(target=pump, args=(c,), daemon=True) for c in containers]
    for t in threads:
        t.start()
    return _join(threads, on_interrupt)


def _join(threads: list[threading.Thread], on_interrupt: Callable[[], None] | None, grace: float = 10.0) -> bool:
    interrupted, deadline = False, float("inf")
    for t in threads:
        while t.is_alive() and time.monotonic() < deadline:
            try:
                t.join(0.2)
            except KeyboardInterrupt:
                if on_interrupt is None or interrupted:
                    raise
                interrupted = True
                on_interrupt()
                deadline = time.monotonic() + grace  # the streams of stopped containers end by themselves
    return interrupted


def _emit(out: TextIO, lock: threading.Lock, prefix: str, lines: list[bytes]) -> None:
    if not lines:
        return
    text = "".join(f"{prefix}{line.decode(errors='replace')}\n" for line in lines)
    with lock:
        out.write(text)
        out.flush()
