"""UDP listeners: each client address is a flow, pinned to one backend until it is idle.

A flow owns a connected datagram socket towards its backend; replies on it go back to the client
through the listening socket. A flow idle for ``idle_timeout`` seconds is closed; the next datagram
from that client starts a new flow on the next backend. An ICMP "port unreachable" from a backend
(seen as ``error_received``) marks it down like a refused TCP connect, and the flow moves on.
"""

from __future__ import annotations

import asyncio
from typing import Any

from stackctl.errors import LoadBalancerError
from stackctl.lb.config import BackendSpec, HealthCheck, Listener, os_reason
from stackctl.lb.pool import Backend, Pool
from stackctl.lb.proxy import IDLE_TICKS, backend_stats

MAX_QUEUED = 64  # datagrams held per flow while its socket is being set up


class UdpListener:
    def __init__(self, config: Listener, pool: Pool) -> None:
        self.config = config
        self.pool = pool
        self.flows: dict[Any, Flow] = {}
        self.transport: asyncio.DatagramTransport | None = None
        self.connections = 0
        self.no_backend = 0
        self.rejected = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self.loop = asyncio.get_running_loop()
        self._sweeper: asyncio.TimerHandle | None = None

    @property
    def health(self) -> HealthCheck | None:
        return None  # UDP has no connect to probe; Docker health and ICMP errors still apply

    @property
    def port(self) -> int:
        assert self.transport is not None
        return int(self.transport.get_extra_info("sockname")[1])

    async def start(self) -> None:
        bind = self.config.bind
        try:
            self.transport, _ = await self.loop.create_datagram_endpoint(
                lambda: _Front(self), local_addr=(bind.host, bind.port))
        except OSError as exc:
            raise LoadBalancerError(
                f"listener {self.config.name}: cannot bind {bind}/udp: {os_reason(exc)}") from exc
        self._schedule_sweep()

    def reconfigure(self, config: Listener) -> None:
        self.config = config
        self.set_backends(config.backends)

    def set_backends(self, specs: tuple[BackendSpec, ...] | list[BackendSpec]) -> None:
        for backend in self.pool.update(specs):  # UDP flows hold no stream: move them now
            for flow in [f for f in self.flows.values() if f.backend is backend]:
                flow.close()
            self.pool.forget(backend)

    def received(self, data: bytes, client: Any) -> None:
        self.bytes_in += len(data)
        flow = self.flows.get(client)
        if flow is None:
            if len(self.flows) >= self.config.max_connections:
                self.rejected += 1
                return
            flow = Flow(self, client)
            self.flows[client] = flow
            self.connections += 1
            flow.open()
        flow.send(data)

    def reply(self, data: bytes, client: Any) -> None:
        self.bytes_out += len(data)
        if self.transport is not None:
            self.transport.sendto(data, client)

    def _schedule_sweep(self) -> None:
        self._sweeper = self.loop.call_later(self.config.idle_timeout / IDLE_TICKS, self._sweep)

    def _sweep(self) -> None:
        for flow in list(self.flows.values()):
            flow.idle += 1
            if flow.idle > IDLE_TICKS:
                flow.close()
        self._schedule_sweep()

    def stop_accepting(self) -> None:
        pass  # a datagram socket has no backlog; close() ends it

    async def close(self, *, drain: float = 0.0) -> None:
        for flow in list(self.flows.values()):
            flow.close()
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self.transport is not None:
            self.transport.close()

    def stats(self) -> dict[str, Any]:
        return {
            "name": self.config.name, "protocol": "udp", "bind": str(self.config.bind),
            "connections": self.connections, "active": len(self.flows), "rejected": self.rejected,
            "no_backend": self.no_backend, "bytes_in": self.bytes_in, "bytes_out": self.bytes_out,
            "backends": [backend_stats(b) for b in self.pool.all()],
        }


class _Front(asyncio.DatagramProtocol):
    def __init__(self, listener: UdpListener) -> None:
        self.listener = listener

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.listener.received(data, addr)


class Flow(asyncio.DatagramProtocol):
    """One client's datagrams, relayed to one backend."""

    def __init__(self, listener: UdpListener, client: Any) -> None:
        self.listener = listener
        self.client = client
        self.backend: Backend | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.queue: list[bytes] = []
        self.tried: list[Backend] = []
        self.idle = 0
        self.closed = False

    def open(self) -> None:
        backend = self.listener.pool.pick(self.tried)
        if backend is None:
            self.listener.no_backend += 1
            self.close()
            return
        self.backend = backend
        self.listener.loop.create_task(self._connect(backend))

    async def _connect(self, backend: Backend) -> None:
        try:
            await self.listener.loop.create_datagram_endpoint(lambda: self, remote_addr=(backend.host, backend.port))
        except OSError:
            self._failed(backend)

    def _failed(self, backend: Backend) -> None:
        self.listener.pool.connect_failed(backend)
        self.tried.append(backend)
        if self.transport is not None:
            self.transport.close()
            self.transport = None
        if not self.closed:
            self.open()

    def connection_made(self, transport: Any) -> None:
        if self.closed:
            transport.close()
            return
        self.transport = transport
        assert self.backend is not None
        self.backend.connections += 1
        self.backend.active += 1
        for data in self.queue:
            self._send(data)
        self.queue.clear()

    def send(self, data: bytes) -> None:
        self.idle = 0
        if self.transport is None:
            if len(self.queue) < MAX_QUEUED:
                self.queue.append(data)
            return
        self._send(data)

    def _send(self, data: bytes) -> None:
        assert self.backend is not None and self.transport is not None
        self.backend.bytes_in += len(data)
        self.transport.sendto(data)

    def datagram_received(self, data: bytes, addr: Any) -> None:
        self.idle = 0
        assert self.backend is not None
        self.backend.bytes_out += len(data)
        self.listener.reply(data, self.client)

    def error_received(self, exc: Exception) -> None:
        if self.backend is not None and not self.closed:
            self.backend.active -= 1
            self._failed(self.backend)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.listener.flows.pop(self.client, None)
        if self.transport is not None:
            self.transport.close()
            if self.backend is not None:
                self.backend.active -= 1
            self.transport = None
