"""The native TCP engine: :class:`NativeListener` gives TcpListener's surface over a C relay loop.

The data path (accept, connect, relay with backpressure and half-close, retry/replay, max
connections, connect and idle timeouts, PROXY headers, counters) runs in ``stackctl.lb._relay`` on
its own thread without the GIL. Python keeps control:

- the listening socket is created and bound here, so a bind error stays a one-line
  LoadBalancerError, and handed to the relay by descriptor;
- the :class:`~stackctl.lb.pool.Pool` stays the source of truth for health: every change of a
  backend's state (health checks, readmission, passive failures) is pushed to the relay as the
  round-robin list ``(id, ip, port, state)``;
- the relay reports passive failures (refused or timed-out connects, a reset before the first
  byte) and drained backends through an eventfd this loop watches; it also marks a failed backend
  down on its own side at once, so that the next client does not wait for Python;
- drain timers, reloads and graceful close are Python's; the relay is told what to do.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Collection
from typing import Any

from stackctl.errors import LoadBalancerError
from stackctl.lb.config import Address, Listener, os_reason
from stackctl.lb.listener import DrainingListener
from stackctl.lb.pool import Backend, Pool
from stackctl.lb.proxy import backend_stats

try:
    from stackctl.lb import _relay
except ImportError:  # built without a compiler: the asyncio engine runs instead
    _relay = None  # type: ignore[assignment]

_PROXY_VERSIONS = {"none": 0, "v1": 1, "v2": 2}
ELIGIBLE, FALLBACK, NEVER = 2, 1, 0  # the relay's backend states


def available() -> bool:
    """Whether the extension module imported."""
    return _relay is not None


def backend_state(backend: Backend) -> int:
    """How the relay may pick a backend: as the Pool does, eligible first, then down as a last resort."""
    if backend.eligible:
        return ELIGIBLE
    return NEVER if backend.external == "unhealthy" else FALLBACK


class SyncedPool(Pool):
    """A Pool that calls ``on_change`` after every health change, so that the relay learns it at once."""

    on_change: Callable[[], object] | None = None

    @classmethod
    def adopt(cls, pool: Pool) -> SyncedPool:
        if isinstance(pool, SyncedPool):
            return pool
        return cls(rise=pool.rise, fall=pool.fall, backends=pool.backends, draining=pool.draining)

    def _changed(self) -> None:
        if self.on_change is not None:
            self.on_change()

    def connect_failed(self, backend: Backend) -> None:
        super().connect_failed(backend)
        self._changed()

    def check_result(self, backend: Backend, ok: bool) -> None:
        super().check_result(backend, ok)
        self._changed()

    def readmit(self) -> None:
        super().readmit()
        self._changed()


async def bind_socket(bind: Address, *, reuse_port: bool) -> socket.socket:
    """A listening, non-blocking TCP socket on ``bind`` (OSError as the system reports it)."""
    loop = asyncio.get_running_loop()
    family, kind, proto, _, address = (await loop.getaddrinfo(
        bind.host, bind.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE))[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # accepted sockets inherit it
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
        sock.listen(4096)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock


class NativeListener(DrainingListener):
    """One listening socket whose sessions the native relay runs."""

    engine = "native"

    def __init__(self, config: Listener, pool: Pool, *, reuse_port: bool = False) -> None:
        if _relay is None:
            raise LoadBalancerError(f"listener {config.name}: the native engine is not built here")
        synced = SyncedPool.adopt(pool)
        super().__init__(config, synced, reuse_port=reuse_port)
        synced.on_change = self._push
        self.sock: socket.socket | None = None
        self.relay: Any = None
        self._ids: dict[Backend, int] = {}
        self._by_id: dict[int, Backend] = {}
        self._addresses: dict[Backend, str | None] = {}
        self._pushed: list[tuple[int, str, int, int]] | None = None

    async def start(self) -> None:
        bind = self.config.bind
        try:
            self.sock = await bind_socket(bind, reuse_port=self.reuse_port)
        except OSError as exc:
            raise LoadBalancerError(
                f"listener {self.config.name}: cannot bind {bind}/tcp: {os_reason(exc)}") from exc
        self.relay = _relay.Relay(self.sock.fileno(), **self._options())
        self.loop.add_reader(self.relay.event_fd, self._on_events)
        self._push()

    def _options(self) -> dict[str, Any]:
        c = self.config
        return {"max_connections": c.max_connections, "connect_timeout": c.connect_timeout,
                "idle_timeout": c.idle_timeout, "proxy_protocol": _PROXY_VERSIONS[c.proxy_protocol]}

    @property
    def port(self) -> int:
        """The bound port (useful when the configured port is 0)."""
        assert self.sock is not None
        return int(self.sock.getsockname()[1])

    def session_count(self) -> int:
        return int(self.relay.stats()["active"])

    # -- backends: Python decides, the relay is told ----------------------------------------------
    def _id(self, backend: Backend) -> int:
        ident = self._ids.get(backend)
        if ident is None:
            ident = self._ids[backend] = len(self._by_id) + 1
            self._by_id[ident] = backend
        return ident

    def _address(self, backend: Backend) -> str | None:
        """The backend's IP (names resolved once); None when it does not resolve."""
        if backend not in self._addresses:
            try:
                infos = socket.getaddrinfo(backend.host, backend.port, type=socket.SOCK_STREAM)
                ip = str(infos[0][4][0])
                self._addresses[backend] = None if "%" in ip else ip  # scoped IPv6: not for the relay
            except (OSError, IndexError):
                self._addresses[backend] = None
        return self._addresses[backend]

    def _push(self) -> list[int]:
        """Send the round-robin list if it changed; returns the ids the relay dropped at once."""
        items = []
        for backend in self.pool.backends:
            ip = self._address(backend)
            if ip is not None:  # an unresolvable name is never picked
                items.append((self._id(backend), ip, backend.port, backend_state(backend)))
        if items == self._pushed or self.relay is None:
            return []
        self._pushed = items
        return list(self.relay.set_backends(items))

    def _on_events(self) -> None:
        for kind, ident in self.relay.events():
            backend = self._by_id.get(ident)
            if backend is None:
                continue
            if kind == _relay.EV_FAILED:
                self.pool.connect_failed(backend)
            elif kind == _relay.EV_DRAINED:
                self._drained(backend)

    # -- draining (the rest is DrainingListener's) ----------------------------------------------
    def _options_changed(self) -> None:
        self.relay.set_options(**self._options())

    def _without_sessions(self, started: Collection[Backend]) -> set[Backend]:
        dropped = set(self._push())  # the relay drops at once a backend it holds no session of
        return {backend for backend in started if self._ids.get(backend) in dropped or backend not in self._ids}

    def _close_sessions_of(self, backend: Backend) -> None:
        self.relay.close_backend(self._ids[backend])

    # -- shutdown -------------------------------------------------------------------------------
    def stop_accepting(self) -> None:
        if self.sock is not None:
            self.relay.stop_accepting()
            self.sock.close()
            self.sock = None

    async def close(self, *, drain: float = 0.0) -> None:
        """Stop accepting; let sessions finish for up to ``drain`` seconds; then close the rest."""
        if self.relay is None:
            return
        self.stop_accepting()
        deadline = self.loop.time() + drain
        while self.loop.time() < deadline and self.session_count():
            await asyncio.sleep(0.05)
        self._cancel_drain_timers()
        self.loop.remove_reader(self.relay.event_fd)
        self.relay.shutdown()

    def stats(self) -> dict[str, Any]:
        """Counters so far, read from the relay; the backends' counters are refreshed from it."""
        raw = self.relay.stats()
        rows = raw["backends"]
        for backend in self.pool.all():
            row = rows.get(self._ids.get(backend))
            if row is not None:
                backend.connections, backend.active, backend.bytes_in, backend.bytes_out = row
        return {
            "name": self.config.name, "protocol": "tcp", "bind": str(self.config.bind), "engine": self.engine,
            "connections": raw["connections"], "active": raw["active"], "rejected": raw["rejected"],
            "no_backend": raw["no_backend"], "bytes_in": raw["bytes_in"], "bytes_out": raw["bytes_out"],
            "backends": [backend_stats(b) for b in self.pool.all()],
        }
