"""What the elected agent does while it leads: observe every node, reconcile, write fenced, apply.

One :class:`Leader` per term. Each pass (every TICK seconds, sooner when the state changes or an apply
finishes): every node's engine is observed in parallel through its SSH tunnel (that observation is also the
node's health probe: MISSES misses in a row mark it down), the node records are updated, the reconciler
decides, its task records are written in one transaction fenced on the leader key, and only then its
engine actions run, per node, in the background (a node still applying is left out of the next passes
until it is done). Failed actions fail their task. The term ends the moment leadership is lost: no write
and no new action after that, and the actions under way are cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any, Protocol

from stackctl import labels as L
from stackctl.cluster.health import Facts, Health, node_updates
from stackctl.cluster.proxies import Traffic, current_tasks
from stackctl.cluster.reconcile import Decision, NodeView, reconcile
from stackctl.cluster.state import NodeRecord, ServiceRecord, StackRecord, TaskRecord
from stackctl.cluster.store import Snapshot
from stackctl.cluster.traffic import DEFAULT_VIP_RANGE
from stackctl.drivers.docker_engine import DockerEngine
from stackctl.drivers.ssh import SshTransport
from stackctl.drivers.ssh_images import relay_image
from stackctl.engine.apply import Applier
from stackctl.errors import Deposed, DriverError, StackctlError
from stackctl.execute import Event, execute
from stackctl.nodes import NodeSpec
from stackctl.plan.actions import Action

log = logging.getLogger("stackctl.agent")

TICK = 1.0
PROBE_TIMEOUT = 1.0  # a probe slower than this is a miss
APPLY_LIMIT = 8  # engine calls at once per node
IMAGE_RETRY, IMAGE_RETRY_MAX = 5.0, 60.0  # an image on no node that could not be pulled: tried again after


class StateStore(Protocol):
    """The part of cluster/store.Store the leader uses."""

    async def snapshot(self) -> Snapshot: ...

    async def write_tasks(self, fence: Any, put: Sequence[TaskRecord], delete: Sequence[TaskRecord] = ()) -> None: ...

    async def write_nodes(self, fence: Any, nodes: Sequence[NodeRecord]) -> None: ...

    async def write_services(self, fence: Any, services: Sequence[ServiceRecord], stacks: Sequence[StackRecord] = (),
                             *, revision: int) -> bool: ...


class Term(Protocol):
    """This agent's leadership: whether it still holds, the fence of its writes, its revision."""

    def is_leader(self) -> bool: ...

    @property
    def fence(self) -> Any: ...

    @property
    def revision(self) -> int: ...


def _report(event: Event) -> None:
    if event.status != "started":
        log.debug("node %s: %s %s in %.2f s%s", event.action.engine, event.action.id, event.status, event.elapsed,
                  f": {event.error}" if event.error else "")


def new_task_id() -> str:
    return secrets.token_hex(6)


class Leader:
    def __init__(self, store: StateStore, term: Term, nodes: Sequence[NodeSpec], *,
                 clock: Callable[[], float] = time.time, tick: float = TICK,
                 vip_range: str = DEFAULT_VIP_RANGE) -> None:
        self.store, self.term, self.specs = store, term, list(nodes)
        self.clock, self.tick = clock, tick
        self.transport = SshTransport(nodes, connect_timeout=PROBE_TIMEOUT, retries=0)
        self.health = Health()
        self.facts: dict[str, Facts] = {}
        self.probes: dict[str, DockerEngine] = {}
        self.drivers: dict[str, DockerEngine] = {}
        self.busy: set[asyncio.Task[None]] = set()
        self.in_flight: dict[str, set[str]] = {}  # node -> ids of its actions under way
        # applies finished per node, and that count when the node was last observed: a view taken before an
        # apply finished misses what it made (a create would be sent again and fail on the name)
        self.applied: dict[str, int] = {}
        self.seen: dict[str, int] = {}
        self.failures: dict[str, str] = {}  # task id -> why its actions failed
        self.no_image: dict[str, str] = {}  # task id -> why its image could not be had (it waits, pending)
        self.held: dict[str, tuple[float, float]] = {}  # image ref on no node: (retry at, backoff)
        self.wake = asyncio.Event()
        # probes get threads of their own: actions (a slow stop, a copy) must not delay them into misses
        self.probe_pool = ThreadPoolExecutor(max_workers=min(64, 4 * len(self.specs) + 2),
                                             thread_name_prefix="probe")
        self.passes = 0
        self.first_write: float | None = None  # clock() of this term's first fenced write
        self.traffic = Traffic(getattr(store, "etcd", None), str(getattr(store, "prefix", "")), self.transport,
                               self.specs, vip_range=vip_range)

    # -- the term -------------------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Passes until ``stop`` is set or leadership is lost."""
        try:
            while not stop.is_set() and self.term.is_leader():
                started = time.monotonic()
                await self.one_pass()
                await self._pause(stop, started + self.tick)
        finally:
            await self.close()

    async def _pause(self, stop: asyncio.Event, until: float) -> None:
        """Until the next tick, a wake-up (state changed, an apply finished) or the end of the term."""
        while not stop.is_set() and not self.wake.is_set() and self.term.is_leader():
            left = until - time.monotonic()
            if left <= 0:
                break
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), min(left, 0.1))
        self.wake.clear()

    async def close(self) -> None:
        for task in self.busy:
            task.cancel()
        await asyncio.gather(*self.busy, return_exceptions=True)
        await self.traffic.close()
        for eng in [*self.probes.values(), *self.drivers.values()]:
            eng.close()
        await self.transport.aclose()
        self.probe_pool.shutdown(wait=False, cancel_futures=True)

    def poke(self) -> None:
        """The desired state changed (a store watch event): pass now."""
        self.wake.set()

    # -- one pass ---------------------------------------------------------------------------------------------

    async def one_pass(self) -> None:
        views = await self.observe_all()
        now = self.clock()
        state = await self.store.snapshot()
        nodes = await self.update_nodes(state.nodes, now)
        stacks, services = state.stacks, state.services
        tasks, failed = self.take_failures(state.tasks, now)
        await self.traffic.allocate(self.term.fence, services)
        held = frozenset(ref for ref, (retry, _) in self.held.items() if retry > now)
        decision = reconcile(stacks, services, tasks, nodes, views, now=now, leader_rev=self.term.revision,
                             new_id=new_task_id, held_images=held)
        if decision.services or decision.stacks:
            await self.write_services(decision, state.revision)
        put = {t.id: t for t in failed} | {t.id: t for t in decision.put}
        if put or decision.delete:
            await self.write_tasks(list(put.values()), list(decision.delete))
        if self.term.is_leader():
            self.traffic.push(stacks, current_tasks(tasks, list(put.values()), decision.delete), views)
            if any(a.kind == "remove_container" for acts in decision.actions.values() for a in acts):
                await self.traffic.settle()  # the proxies stop sending to a replica before it is stopped
        for node, actions in self.traffic.adapt(decision.actions, stacks).items():
            if self.applied.get(node, 0) != self.seen.get(node, 0):
                self.wake.set()  # its view is older than its last apply: decide again on a new one
                continue
            fresh = self.not_under_way(node, actions)
            if fresh and self.term.is_leader():
                task = asyncio.create_task(self.apply(node, fresh))
                self.busy.add(task)
                task.add_done_callback(self.busy.discard)
        self.passes += 1

    def not_under_way(self, node: str, actions: Sequence[Action]) -> list[Action]:
        """The actions not already running on the node (a stop takes its grace period, a copy of an image
        its time), nor waiting on one that is: those are left to a later pass."""
        going = self.in_flight.setdefault(node, set())
        fresh = [a for a in actions if a.id not in going and not going.intersection(a.needs)]
        going.update(a.id for a in fresh)
        return fresh

    async def write_tasks(self, put: list[TaskRecord], delete: list[TaskRecord]) -> None:
        if not self.term.is_leader():
            raise Deposed("leadership lost before a task write")
        await self.store.write_tasks(self.term.fence, put, delete)
        if self.first_write is None:
            self.first_write = self.clock()
        for t in put:
            log.info("task %s %s/%s.%s on %s: %s %s", t.id, t.stack, t.service, t.slot or t.node, t.node or "-",
                     t.state, t.message)

    async def write_services(self, decision: Decision, revision: int) -> None:
        """Update statuses and rollbacks (cluster/updates.py), compare-and-swap against the snapshot."""
        if not self.term.is_leader():
            raise Deposed("leadership lost before a service write")
        if await self.store.write_services(self.term.fence, decision.services, decision.stacks, revision=revision):
            for svc in decision.services:
                if svc.update is not None:
                    log.info("service %s_%s: %s", svc.stack, svc.service, svc.update.message)

    def take_failures(self, tasks: list[TaskRecord], now: float) -> tuple[list[TaskRecord], list[TaskRecord]]:
        """Tasks whose actions failed since the last pass: failed (and replaced after the restart delay);
        those whose image is on no node and could not be pulled go back to pending with the reason (the
        image is tried again after a backoff; the task keeps its id, no new task every few seconds)."""
        failures, self.failures = self.failures, {}
        no_image, self.no_image = self.no_image, {}
        failed, out = [], []
        for t in tasks:
            why = failures.get(t.id)
            lacking = no_image.get(t.id)
            if t.desired == "running" and t.state in ("assigned", "starting"):
                if lacking is not None:
                    t = replace(t, node=None, state="pending", message=lacking, container_id=None, updated=now)
                    failed.append(t)
                elif why is not None:
                    t = replace(t, desired="shutdown", state="failed", message=why, updated=now)
                    failed.append(t)
            out.append(t)
        return out, failed

    # -- nodes -----------------------------------------------------------------------------------------------

    async def observe_all(self) -> dict[str, NodeView]:
        found = await asyncio.gather(*(self.observe(spec.name) for spec in self.specs))
        return {spec.name: view for spec, view in zip(self.specs, found) if view is not None}

    async def observe(self, node: str) -> NodeView | None:
        self.seen[node] = self.applied.get(node, 0)
        try:
            view = await asyncio.wait_for(self._observe(node), PROBE_TIMEOUT)
        except (TimeoutError, StackctlError, OSError) as exc:
            reason = str(exc) or f"no answer within {PROBE_TIMEOUT:g} s"
            if not self.health.down(node):
                log.warning("node %s: missed probe: %s", node, reason)
            self.health.missed(node, reason)
            self._forget(node)
            return None
        self.health.answered(node)
        return view

    async def _observe(self, node: str) -> NodeView:
        session = self.transport.session(node)
        sock = await session.docker_socket()
        if node not in self.probes:
            self.probes[node] = DockerEngine(host=f"unix://{sock}", timeout=3)
            self.drivers[node] = DockerEngine(host=f"unix://{sock}", timeout=120)
        probe = self.probes[node]
        want_facts = node not in self.facts

        def read() -> tuple[NodeView, Mapping[str, Any] | None]:
            containers = tuple(probe.list_containers(label=L.STACK))
            nets, vols, images = probe.names()
            return NodeView(containers, nets, vols, images), probe.info() if want_facts else None
        view, info = await asyncio.get_running_loop().run_in_executor(self.probe_pool, read)
        if info is not None:
            self.facts[node] = Facts(float(info.get("NCPU") or 0), int(info.get("MemTotal") or 0),
                                     str(info.get("ServerVersion") or ""))
        return view

    def _forget(self, node: str) -> None:
        """Drop the node's engine clients (the tunnel is re-made on the next probe)."""
        for table in (self.probes, self.drivers):
            eng = table.pop(node, None)
            if eng is not None:
                eng.close()
        self.facts.pop(node, None)

    async def update_nodes(self, records: list[NodeRecord], now: float) -> list[NodeRecord]:
        changed = node_updates(records, self.specs, self.health, self.facts, now=now)
        if changed and self.term.is_leader():
            await self.store.write_nodes(self.term.fence, changed)
            for rec in changed:
                if rec.state != next((r.state for r in records if r.name == rec.name), None):
                    log.info("node %s: %s %s", rec.name, rec.state, rec.message)
        merged = {r.name: r for r in records} | {r.name: r for r in changed}
        return list(merged.values())

    # -- actions ---------------------------------------------------------------------------------------------

    async def apply(self, node: str, actions: Sequence[Action]) -> None:
        try:
            driver = self.drivers.get(node)
            if driver is None:
                return
            applier = Applier({node: driver}, timeout=10)

            async def run(action: Action) -> None:
                if not self.term.is_leader():
                    raise DriverError("no longer the leader")
                if action.kind == "pull_image":
                    await self.fetch_image(node, action)
                else:
                    await applier.run(action)
            outcome = await execute(actions, run, limit=APPLY_LIMIT, reporter=_report)
            self.note_failures(actions, outcome.failed, outcome.skipped)
        except (StackctlError, OSError) as exc:  # an apply must never take the leader down
            log.warning("node %s: applying failed: %s", node, exc)
        finally:
            self.in_flight.get(node, set()).difference_update(a.id for a in actions)
            self.applied[node] = self.applied.get(node, 0) + 1
            self.wake.set()

    def note_failures(self, actions: Sequence[Action], failed: Mapping[str, str], skipped: Sequence[str]) -> None:
        by_id = {a.id: a for a in actions}
        for aid, message in failed.items():
            log.warning("node %s: %s failed: %s", by_id[aid].engine, aid, message)
        for aid in [*failed, *skipped]:
            task = by_id[aid].params.get("task")
            if task and task not in self.failures:
                pulls = [n for n in by_id[aid].needs if n in failed and n.startswith("pull_image:")]
                if pulls:
                    self.no_image[task] = failed[pulls[0]]
                    continue
                cause = failed.get(aid) or next((failed[n] for n in by_id[aid].needs if n in failed),
                                                next(iter(failed.values()), "an earlier action failed"))
                self.failures[task] = cause

    async def fetch_image(self, node: str, action: Action) -> None:
        """A node lacking a task's image gets it from a node that has it (streamed through this process,
        checked by image ID); only when no node has it, a pull on the node."""
        ref, image_id = action.target, str(action.params.get("image_id") or "")
        for source in action.params.get("from") or ():
            try:
                await relay_image(self.transport.session(source), [self.transport.session(node)], ref,
                                  image_id=image_id)
                return
            except DriverError as exc:
                log.warning("node %s: could not copy image %s from %s: %s", node, ref, source, exc)
        driver = self.drivers[node]
        try:
            await asyncio.to_thread(driver.pull_image, ref)
        except DriverError as exc:
            now = self.clock()
            retry, backoff = self.held.get(ref, (0.0, IMAGE_RETRY / 2))
            if retry <= now:  # one more round of failed pulls (several nodes' pulls fail in one round)
                backoff = min(backoff * 2, IMAGE_RETRY_MAX)
                self.held[ref] = (now + backoff, backoff)
            raise DriverError(f"image {ref} is on no node and pulling it on {node} failed: {exc} "
                              f"(tried again in {backoff:g} s)") from exc
        self.held.pop(ref, None)
