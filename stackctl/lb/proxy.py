"""The TCP side of the balancer: accept, pick a backend, connect, pump bytes both ways.

Built on asyncio *protocols* rather than streams: each received chunk goes to the other
transport's ``write`` (no coroutine, no copy), at once until the backend first answers and then
through the :class:`~stackctl.lb.outbox.Outbox` at the end of the loop's batch; backpressure is
the transports' own flow control: when one side's write buffer passes its high-water mark the
other side stops reading until it drains. Half-close is relayed with ``write_eof``; the session
ends when both directions are done or either side goes away, and both sides are then closed.

A refused or timed-out backend connect marks the backend down (passive check) and the next one is
tried for the same client, so a new connection never fails while a healthy backend exists. A
backend that resets the connection before answering anything (it died with our connect still in
its accept queue) is treated the same way: what the client sent so far (up to PENDING_LIMIT) is
kept until the backend's first byte, and replayed to the next backend.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from functools import partial
from typing import Any

from stackctl.errors import LoadBalancerError
from stackctl.lb import proxyproto
from stackctl.lb.config import Listener, os_reason
from stackctl.lb.connect import Connect
from stackctl.lb.listener import DrainingListener
from stackctl.lb.outbox import Outbox
from stackctl.lb.pool import Backend, Pool

PENDING_LIMIT = 256 * 1024  # client bytes held while the backend connect is in flight
IDLE_TICKS = 4  # the idle sweep runs IDLE_TICKS times per idle_timeout
CONNECT_TICKS = 4  # and the connect sweep CONNECT_TICKS times per connect_timeout


class TcpListener(DrainingListener):
    """One listening socket and the sessions it accepted."""

    def __init__(self, config: Listener, pool: Pool, *, reuse_port: bool = False) -> None:
        super().__init__(config, pool, reuse_port=reuse_port)
        self.sessions: set[ClientSide] = set()
        self.server: asyncio.Server | None = None
        self.connections = 0
        self.rejected = 0
        self.no_backend = 0
        self.bytes_in = 0
        self.bytes_out = 0
        self._sweeper: asyncio.TimerHandle | None = None
        self._connect_sweeper: asyncio.TimerHandle | None = None
        self.tick = 0  # advanced CONNECT_TICKS times per connect_timeout
        self.outbox = Outbox(self.loop)  # relayed chunks, written at the end of each batch of reads

    async def start(self) -> None:
        bind = self.config.bind
        try:
            self.server = await self.loop.create_server(
                lambda: ClientSide(self), bind.host, bind.port, backlog=4096,
                reuse_address=True, reuse_port=self.reuse_port or None)
        except OSError as exc:
            raise LoadBalancerError(
                f"listener {self.config.name}: cannot bind {bind}/tcp: {os_reason(exc)}") from exc
        self._schedule_sweep()
        self._schedule_connect_sweep()

    @property
    def port(self) -> int:
        """The bound port (useful when the configured port is 0)."""
        assert self.server is not None
        return int(self.server.sockets[0].getsockname()[1])

    # -- draining (the rest is DrainingListener's) ----------------------------------------------
    def _without_sessions(self, started: Collection[Backend]) -> set[Backend]:
        return {backend for backend in started if backend.active == 0}

    def _close_sessions_of(self, backend: Backend) -> None:
        for session in [s for s in self.sessions if s.backend is backend]:
            session.close()

    def session_ended(self, session: ClientSide) -> None:
        self.sessions.discard(session)
        self.bytes_in += session.nin
        self.bytes_out += session.nout
        backend = session.backend
        if backend is not None and session.peer is not None:
            backend.bytes_in += session.nin
            backend.bytes_out += session.nout
            backend.active -= 1
            if backend.draining and backend.active == 0:
                self._drained(backend)

    # -- connect timeout: one periodic sweep rather than a timer per connection -----------------
    def _schedule_connect_sweep(self) -> None:
        self._connect_sweeper = self.loop.call_later(self.config.connect_timeout / CONNECT_TICKS,
                                                     self._connect_sweep)

    def _connect_sweep(self) -> None:
        self.tick += 1
        late = [s for s in self.sessions
                if s.connector is not None and s.peer is None and self.tick - s.connect_tick > CONNECT_TICKS]
        for session in late:  # retrying may end sessions: not while iterating over them
            if session.connector is not None:
                session.connector.cancel()
                session.connect_done(False)
        self._schedule_connect_sweep()

    # -- idle timeout ---------------------------------------------------------------------------
    def _schedule_sweep(self) -> None:
        self._sweeper = self.loop.call_later(self.config.idle_timeout / IDLE_TICKS, self._sweep)

    def _sweep(self) -> None:
        for session in list(self.sessions):
            moved = session.nin + session.nout
            if moved != session.seen:
                session.seen, session.idle = moved, 0
                continue
            session.idle += 1
            if session.idle >= IDLE_TICKS:
                session.close()
        self._schedule_sweep()

    # -- shutdown -------------------------------------------------------------------------------
    def stop_accepting(self) -> None:
        if self.server is not None:
            self.server.close()

    async def close(self, *, drain: float = 0.0) -> None:
        """Stop accepting; let sessions finish for up to ``drain`` seconds; then close the rest."""
        self.stop_accepting()
        deadline = self.loop.time() + drain
        while self.sessions and self.loop.time() < deadline:
            await asyncio.sleep(0.05)
        for session in list(self.sessions):
            session.close()
        self._cancel_drain_timers()
        for timer in (self._sweeper, self._connect_sweeper):
            if timer is not None:
                timer.cancel()
        if self.server is not None:
            await self.server.wait_closed()

    def stats(self) -> dict[str, Any]:
        """Counters so far; open sessions' bytes are added in here, not on every chunk."""
        live: dict[Backend | None, list[int]] = {}
        for session in self.sessions:
            counts = live.setdefault(session.backend if session.peer is not None else None, [0, 0])
            counts[0] += session.nin
            counts[1] += session.nout
        total = [sum(c[0] for c in live.values()), sum(c[1] for c in live.values())]
        return {
            "name": self.config.name, "protocol": "tcp", "bind": str(self.config.bind),
            "connections": self.connections, "active": len(self.sessions), "rejected": self.rejected,
            "no_backend": self.no_backend, "bytes_in": self.bytes_in + total[0],
            "bytes_out": self.bytes_out + total[1],
            "backends": [backend_stats(b, live.get(b, (0, 0))) for b in self.pool.all()],
        }


def backend_stats(backend: Backend, live: tuple[int, int] | list[int] = (0, 0)) -> dict[str, Any]:
    return {
        "address": str(backend.address), "state": backend.state, "connections": backend.connections,
        "active": backend.active, "bytes_in": backend.bytes_in + live[0], "bytes_out": backend.bytes_out + live[1],
        "connect_failures": backend.connect_failures, "check_failures": backend.check_failures,
    }


class ClientSide(asyncio.Protocol):
    """The client's connection; owns the session and its backend connection (``peer``)."""

    __slots__ = ("attempt", "backend", "closed", "connect_tick", "connector", "eof_in", "eof_out", "idle",
                 "listener", "nin", "nout", "outbox", "peer", "pending", "pending_size", "replay", "seen",
                 "transport", "tried")

    def __init__(self, listener: TcpListener) -> None:
        self.listener = listener
        self.outbox = listener.outbox
        self.transport: Any = None
        self.peer: Any = None  # the backend transport, once connected
        self.backend: Backend | None = None
        self.pending: list[bytes] = []
        self.pending_size = 0
        self.replay: list[bytes] | None = None  # sent to the backend, kept until it answers
        self.eof_in = False  # the client finished sending
        self.eof_out = False  # the backend finished sending
        self.nin = 0  # bytes from the client
        self.nout = 0  # bytes from the backend
        self.seen = -1  # nin + nout at the last idle sweep (none yet)
        self.idle = 0
        self.closed = False
        self.tried: list[Backend] = []
        self.connector: Connect | None = None
        self.attempt = 0  # which connect attempt a backend connection belongs to
        self.connect_tick = 0

    def connection_made(self, transport: Any) -> None:
        listener = self.listener
        self.transport = transport
        if len(listener.sessions) >= listener.config.max_connections:
            listener.rejected += 1
            self.closed = True
            transport.close()
            return
        listener.connections += 1
        listener.sessions.add(self)
        self._connect_next()

    def _connect_next(self) -> None:
        backend = self.listener.pool.pick(self.tried)
        if backend is None:
            self.listener.no_backend += 1
            self.close()
            return
        self.backend = backend
        loop = self.listener.loop
        self.connect_tick = self.listener.tick
        self.attempt += 1
        coro = loop.create_connection(partial(BackendSide, self, backend, self.attempt), backend.host, backend.port)
        self.connector = connector = Connect(loop, coro, self.connect_done)
        connector.start()

    def connect_done(self, ok: bool) -> None:
        """A connect finished; on failure (refused, unreachable, timed out) try the next backend."""
        self.connector = None
        if ok:
            return  # attached() already ran from the backend protocol's connection_made
        if self.closed:
            return
        backend = self.backend
        assert backend is not None
        self.listener.pool.connect_failed(backend)
        self.tried.append(backend)
        self._connect_next()

    def attached(self, transport: Any, backend: Backend, attempt: int) -> None:
        """The backend connection is up: send the PROXY header and what the client already sent."""
        if self.closed or attempt != self.attempt:  # the session ended or gave up on this connect
            transport.close()
            return
        self.peer = transport
        backend.connections += 1
        backend.active += 1
        version = self.listener.config.proxy_protocol
        if version != "none":
            client = self.transport.get_extra_info("peername")
            local = self.transport.get_extra_info("sockname")
            transport.write(proxyproto.encode(version, client[:2], local[:2]))
        if self.pending_size > PENDING_LIMIT:
            self.transport.resume_reading()
        else:
            self.replay = self.pending
        if self.pending:
            transport.write(b"".join(self.pending))
            self.pending = []
        if self.eof_in:
            transport.write_eof()

    # -- client -> backend ----------------------------------------------------------------------
    def data_received(self, data: bytes) -> None:
        self.nin += len(data)
        peer = self.peer
        if peer is not None:
            if self.replay is None:  # the backend has answered: relayed at the end of the batch
                self.outbox.write(peer, data)
            else:  # still kept for a replay, and written at once as the first exchange is
                peer.write(data)
                self._keep_for_replay(data)
            return
        self.pending.append(data)
        self.pending_size += len(data)
        if self.pending_size > PENDING_LIMIT:
            self.transport.pause_reading()

    def _keep_for_replay(self, data: bytes) -> None:
        self.pending_size += len(data)
        if self.pending_size > PENDING_LIMIT:
            self.replay = None  # too much to hold: this session can no longer move
        else:
            self.replay.append(data)  # type: ignore[union-attr]

    def backend_reset(self, backend: Backend) -> None:
        """The backend reset the connection before answering anything (e.g. it died with our connect
        still in its accept queue): it is marked down and what the client sent goes to the next one."""
        backend.active -= 1
        self.listener.pool.connect_failed(backend)
        self.tried.append(backend)
        self.peer = None
        self.pending, self.replay = self.replay or [], None
        self.pending_size = sum(len(chunk) for chunk in self.pending)
        self._connect_next()

    def eof_received(self) -> bool:
        self.eof_in = True
        if self.peer is not None:
            if self.eof_out:
                self.close()
                return False
            self.outbox.flush()
            self.peer.write_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self.close()

    def pause_writing(self) -> None:
        if self.peer is not None:
            self.peer.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None:
            self.peer.resume_reading()

    # -- backend -> client (called by BackendSide) ----------------------------------------------
    def backend_eof(self) -> bool:
        self.eof_out = True
        if self.eof_in:
            self.close()
            return False
        self.outbox.flush()
        self.transport.write_eof()
        return True

    def close(self) -> None:
        """End the session: both sides closed (queued bytes are still flushed)."""
        if self.closed:
            return
        self.closed = True
        self.outbox.flush()  # what was queued for either side still goes out before the close
        self.transport.close()
        if self.peer is not None:
            self.peer.close()
        elif self.connector is not None:
            self.connector.cancel()
            self.connector = None
        self.listener.session_ended(self)


class BackendSide(asyncio.Protocol):
    """The backend connection of one session; relays to the client's transport."""

    __slots__ = ("attempt", "backend", "client", "listener", "out", "outbox")

    def __init__(self, client: ClientSide, backend: Backend, attempt: int) -> None:
        self.client = client
        self.backend = backend
        self.attempt = attempt
        self.listener = client.listener
        self.out: Any = client.transport
        self.outbox = client.outbox

    def connection_made(self, transport: Any) -> None:
        self.client.attached(transport, self.backend, self.attempt)

    def data_received(self, data: bytes) -> None:
        client = self.client
        client.nout += len(data)
        if client.replay is not None:  # the backend's first answer, written at once: a
            client.replay = None  # connection per request never waits; the session is bound to it
            self.out.write(data)
            return
        self.outbox.write(self.out, data)

    def eof_received(self) -> bool:
        return self.client.backend_eof()

    def connection_lost(self, exc: Exception | None) -> None:
        client = self.client
        if exc is not None and client.replay is not None and not client.closed and not client.eof_out:
            client.backend_reset(self.backend)
            return
        client.close()

    def pause_writing(self) -> None:
        self.out.pause_reading()

    def resume_writing(self) -> None:
        self.out.resume_reading()
