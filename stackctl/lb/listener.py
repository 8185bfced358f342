"""What both TCP engines share: a listener's config and pool, live reconfiguration and draining.

A backend removed from the list drains: the pool never picks it again, its sessions finish, and
after ``drain_timeout`` the ones left are closed. The engines differ only in how they know a
backend has no session left and how they close a backend's sessions, the two hooks below.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Collection

from stackctl.lb.config import BackendSpec, HealthCheck, Listener
from stackctl.lb.pool import Backend, Pool


class DrainingListener(abc.ABC):
    """Base of :class:`~stackctl.lb.proxy.TcpListener` and :class:`~stackctl.lb.native.NativeListener`."""

    def __init__(self, config: Listener, pool: Pool, *, reuse_port: bool = False) -> None:
        self.config = config
        self.pool = pool
        self.reuse_port = reuse_port
        self.loop = asyncio.get_running_loop()
        self._drain_timers: dict[Backend, asyncio.TimerHandle] = {}

    @property
    def health(self) -> HealthCheck | None:
        return self.config.health

    def reconfigure(self, config: Listener) -> None:
        """New options and backends for the same bind address; established sessions stay."""
        self.config = config
        if config.health is not None:
            self.pool.rise, self.pool.fall = config.health.rise, config.health.fall
        self._options_changed()
        self.set_backends(config.backends)

    def set_backends(self, specs: tuple[BackendSpec, ...] | list[BackendSpec]) -> None:
        started = self.pool.update(specs)
        idle = self._without_sessions(started)
        for backend in started:
            if backend in idle:
                self.pool.forget(backend)
            else:
                self._drain_timers[backend] = self.loop.call_later(
                    self.config.drain_timeout, self._drain_expired, backend)
        for backend in list(self._drain_timers):
            if not backend.draining:  # listed again before it finished draining
                self._drain_timers.pop(backend).cancel()

    def _drain_expired(self, backend: Backend) -> None:
        self._drain_timers.pop(backend, None)
        if backend.draining:
            self._close_sessions_of(backend)
            self.pool.forget(backend)

    def _drained(self, backend: Backend) -> None:
        """A draining backend's last session ended: it is forgotten and its timer cancelled."""
        timer = self._drain_timers.pop(backend, None)
        if timer is not None:
            timer.cancel()
        if backend.draining:
            self.pool.forget(backend)

    def _cancel_drain_timers(self) -> None:
        for timer in self._drain_timers.values():
            timer.cancel()

    # -- what each engine provides --------------------------------------------------------------
    def _options_changed(self) -> None:
        """The config's options changed (the backends are set right after)."""

    @abc.abstractmethod
    def _without_sessions(self, started: Collection[Backend]) -> set[Backend]:
        """Which of the backends that just started draining have no session left."""

    @abc.abstractmethod
    def _close_sessions_of(self, backend: Backend) -> None:
        """The drain timeout passed: close the backend's remaining sessions."""
