"""Campaigning for the cluster's leadership through etcd (the effects around :class:`Election`).

A term: grant a lease (2 s), keep it alive every 0.5 s, campaign with it through etcd's election service
(``/v3/election/campaign``: the leader key is ``<name>/<lease hex>``, the oldest candidate key leads).
The term ends when the lease is lost (a keepalive says it is gone, or none succeeded for ``ttl - margin``):
then :meth:`Leadership.wait_lost` returns, and a new term begins with a new lease. :meth:`resign` (the
graceful stop) ends the term at once: it gives up the leader key and revokes the lease, so the next
candidate is elected within milliseconds instead of after the TTL.

    async with Leadership(etcd, name=prefix + "election", node="node-1") as leadership:
        leader = await leadership.wait_elected()
        await store.write_tasks(leadership.fence, [...])   # raises Deposed when no longer the leader
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import Self

from stackctl.cluster.election import Election
from stackctl.cluster.etcd import Compare, Etcd, LeaderKey
from stackctl.errors import ClusterError, Deposed

OnLease = Callable[[int], Awaitable[None]]


class Leadership:
    def __init__(self, etcd: Etcd, *, name: str, node: str, ttl: int = 2, interval: float = 0.5,
                 margin: float = 0.5, on_lease: OnLease | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.etcd = etcd
        self.name = name
        self.node = node
        self.ttl = ttl
        self.interval = interval
        self.election = Election(ttl=float(ttl), margin=margin)
        self.lease = 0
        self.terms = 0
        self._on_lease = on_lease
        self._clock = clock
        self._changed = asyncio.Condition()
        self._runner: asyncio.Task[None] | None = None
        self._end_term = asyncio.Event()
        self.error: BaseException | None = None  # what ended the runner, if not a resign

    # -- lifecycle -------------------------------------------------------------------------------
    def start(self) -> None:
        if self._runner is None:
            self._runner = asyncio.create_task(self._run(), name=f"leadership {self.node}")

    async def __aenter__(self) -> Self:
        self.start()
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self.resign()

    async def resign(self) -> None:
        """Graceful stop: no more campaigning; the leader key and the lease are given up at once."""
        leader, lease = self.election.leader_key, self.lease
        self.election.resigned(self._clock())
        await self._notify()
        if self._runner is not None:
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, ClusterError):
                await self._runner
        with contextlib.suppress(ClusterError):
            if leader is not None:
                await self.etcd.resign(leader)
        with contextlib.suppress(ClusterError):
            if lease:
                await self.etcd.lease_revoke(lease)

    def abandon(self) -> None:
        """Stop at once without telling etcd (what a killed agent does): the lease runs out by itself."""
        self.election.resigned(self._clock())
        if self._runner is not None:
            self._runner.cancel()

    # -- what the agent asks ---------------------------------------------------------------------
    def is_leader(self) -> bool:
        return self.election.is_leader(self._clock())

    @property
    def leader_key(self) -> LeaderKey | None:
        return self.election.leader_key if self.is_leader() else None

    @property
    def fence(self) -> list[Compare]:
        """The compare list of every leader write; raises :class:`Deposed` when not (or no more) leading."""
        if not self.is_leader():
            raise Deposed(f"{self.node} is not the leader")
        return self.election.fence()

    async def wait_elected(self) -> LeaderKey:
        """Returns the leader key once this agent leads (starts campaigning if :meth:`start` was not called);
        raises :class:`Deposed` (or the etcd error that stopped it) when it stopped campaigning."""
        self.start()
        async with self._changed:
            while not (self.is_leader() or self._finished()):  # looked at again each interval: a keepalive
                with contextlib.suppress(TimeoutError):        # that succeeds again notifies nobody
                    await asyncio.wait_for(self._changed.wait(), self.interval)
        if not self.is_leader():
            raise self.error if isinstance(self.error, ClusterError) else Deposed(f"{self.node} stopped campaigning")
        assert self.election.leader_key is not None
        return self.election.leader_key

    async def wait_lost(self) -> None:
        """Returns when this agent does not lead (at once when it does not lead now)."""
        while self.is_leader():
            deadline = self.election.deadline()
            remaining = max(0.0, deadline - self._clock()) if deadline is not None else 0.0
            async with self._changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), remaining + 0.01)

    async def deposed(self) -> None:
        """A fenced write was refused: this term is over (a new one begins with a new lease)."""
        self.election.lost(self._clock())
        self._end_term.set()
        await self._notify()

    def _finished(self) -> bool:
        return self.election.phase == "resigned" or (self._runner is not None and self._runner.done())

    async def _notify(self) -> None:
        async with self._changed:
            self._changed.notify_all()

    # -- the terms -------------------------------------------------------------------------------
    async def _run(self) -> None:
        try:
            while self.election.phase != "resigned":
                await self._term()
        except ClusterError as exc:
            self.error = exc
            raise
        finally:
            await self._notify()

    async def _term(self) -> None:
        sent = self._clock()
        try:
            self.lease = await self.etcd.lease_grant(self.ttl)
        except ClusterError as exc:
            self.error = exc
            await asyncio.sleep(self.interval)
            return
        self.terms += 1
        self._end_term.clear()
        self.election.keepalive_ok(sent)
        keeper = asyncio.create_task(self._keepalive(self.lease))
        campaign = asyncio.create_task(self._campaign(self.lease))
        try:
            await asyncio.wait({keeper, campaign}, return_when=asyncio.FIRST_COMPLETED)
            if campaign.done() and not campaign.cancelled() and campaign.exception() is None:
                self.election.elected(campaign.result(), self._clock())
                self.error = None
                await self._notify()
                ended = asyncio.create_task(self._end_term.wait())
                # the term lasts as long as the lease, or until a fenced write was refused
                await asyncio.wait({keeper, ended}, return_when=asyncio.FIRST_COMPLETED)
                ended.cancel()
            elif campaign.done() and not campaign.cancelled():
                error = campaign.exception()
                self.error = error if isinstance(error, ClusterError) else self.error
        finally:
            for task in (keeper, campaign):
                task.cancel()
            await asyncio.gather(keeper, campaign, return_exceptions=True)
            if self.election.phase != "resigned":
                self.election.lost(self._clock())
                await self._notify()
                with contextlib.suppress(ClusterError):
                    await self.etcd.lease_revoke(self.lease)  # a standby's key leaves the queue at once

    async def _campaign(self, lease: int) -> LeaderKey:
        if self._on_lease is not None:
            await self._on_lease(lease)
        return await self.etcd.campaign(self.name, lease, self.node.encode())

    async def _keepalive(self, lease: int) -> None:
        """Renews ``lease`` every ``interval``; returns when it is gone or not renewed in time."""
        while True:
            sent = self._clock()
            deadline = self.election.deadline()
            budget = max(0.05, (deadline - sent) if deadline is not None else self.interval)
            try:
                ttl = await asyncio.wait_for(self.etcd.lease_keepalive(lease, timeout=budget), budget)
            except (ClusterError, TimeoutError) as exc:
                self.election.keepalive_failed(self._clock())
                if isinstance(exc, ClusterError):
                    self.error = exc
            else:
                if ttl <= 0:
                    return
                self.election.keepalive_ok(sent)
            if not self.election.lease_alive(self._clock()):
                return
            await asyncio.sleep(max(0.0, sent + self.interval - self._clock()))
