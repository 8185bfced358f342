"""Run ``loop.create_connection()`` for a session without wrapping it in a Task.

A Task per backend connect costs an object, a registry entry and extra trips through the event
loop (its first step and its done callbacks are scheduled, not run). This small driver steps the
coroutine itself: the connect starts at once, and each later step runs straight from the awaited
future's callback. It does only what a Task would do for this one coroutine: awaited futures are
waited on, a bare ``yield`` is rescheduled, and cancelling cancels the awaited future so that the
coroutine unwinds (closing its socket) exactly as it would under ``Task.cancel()``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any


class Connect:
    """Drives one connect coroutine; ``on_done(True)`` on success, ``on_done(False)`` on failure.

    After :meth:`cancel` the coroutine still runs to its end (its clean-up), but ``on_done`` is
    not called.
    """

    __slots__ = ("abandoned", "coro", "loop", "on_done", "waiting")

    def __init__(self, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any],
                 on_done: Callable[[bool], None]) -> None:
        self.loop = loop
        self.coro = coro
        self.on_done = on_done
        self.abandoned = False
        self.waiting: asyncio.Future[Any] | None = None

    def start(self) -> None:
        self._step()

    def _step(self, _future: asyncio.Future[Any] | None = None) -> None:
        self.waiting = None
        try:
            yielded = self.coro.send(None)
        except StopIteration:
            self._finish(True)
            return
        except (Exception, asyncio.CancelledError):  # noqa: BLE001 - refused, unreachable, cancelled...
            self._finish(False)
            return
        if yielded is None:
            self.loop.call_soon(self._step)
            return
        yielded._asyncio_future_blocking = False
        self.waiting = yielded
        yielded.add_done_callback(self._step)

    def _finish(self, ok: bool) -> None:
        if not self.abandoned:
            self.abandoned = True
            self.on_done(ok)

    def cancel(self) -> None:
        """Give up on this connect; whatever it still does is cleaned up and not reported."""
        self.abandoned = True
        if self.waiting is not None:
            self.waiting.cancel()
