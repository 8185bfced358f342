"""The leader's side of cluster traffic: VIPs kept in etcd, each node proxy's configuration pushed over SSH.

Each node runs its node proxy (``stackctl lb serve --accept-apply``, supervised, admin socket
``/run/stackctl-proxy.sock``). Every pass, the leader computes every node's whole configuration
(:mod:`stackctl.cluster.traffic`) and sends it, where it changed, with the balancer's own admin ``apply``
command through a stream opened over the node's SSH connection (no process started per change, so a
change reaches every proxy within milliseconds of the pass that saw it). The proxy applies it live
(established connections keep going; a removed backend drains) and saves it, so a restarted proxy serves
the last configuration it had. Unchanged configurations are sent again every RESEND seconds (a proxy that
restarted from an old file, or another leader's push, is corrected).

VIPs: ``P vips/<stack>/<service>`` -> ``{"stack", "service", "vip"}``, written by the leader, fenced.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import asyncssh

from stackctl.cluster import traffic
from stackctl.cluster.kv import Compare, Op
from stackctl.cluster.reconcile import NodeView
from stackctl.cluster.state import ServiceRecord, StackRecord, TaskRecord
from stackctl.drivers.ssh import SshTransport
from stackctl.errors import ClusterError, Deposed
from stackctl.lb.config import dump
from stackctl.nodes import NodeSpec

log = logging.getLogger("stackctl.agent")

ADMIN_SOCKET = "/run/stackctl-proxy.sock"
PUSH_TIMEOUT = 2.0
RESEND = 5.0


class Kv(Protocol):
    async def range(self, prefix: str) -> Any: ...

    async def txn(self, compare: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()) -> Any: ...


class Traffic:
    """One leader term's traffic work: VIPs, container adaptation, proxy pushes."""

    def __init__(self, etcd: Kv | None, prefix: str, transport: SshTransport, nodes: Sequence[NodeSpec], *,
                 vip_range: str = traffic.DEFAULT_VIP_RANGE) -> None:
        self.etcd, self.prefix, self.transport = etcd, prefix, transport
        self.addresses = {n.name: n.address for n in nodes}
        self.vip_range = vip_range
        self.vips: dict[traffic.ServiceKey, str] | None = None
        self.sent: dict[str, tuple[str, float]] = {}  # node -> (document sent and acknowledged, when)
        self.pushing: dict[str, asyncio.Task[None]] = {}
        self.queued: dict[str, str] = {}  # node -> the document to send once its push under way is done

    # -- VIPs ----------------------------------------------------------------------------------------

    def key(self, k: traffic.ServiceKey) -> str:
        return f"{self.prefix}vips/{k[0]}/{k[1]}"

    async def allocate(self, fence: Sequence[Compare], services: Sequence[ServiceRecord]) -> dict[traffic.ServiceKey, str]:
        """Every service's VIP (the stored one, else a new one, written fenced); removed services' freed."""
        if self.vips is None:
            self.vips = await self._read()
        wanted = traffic.allocate_vips(((s.stack, s.service) for s in services), self.vips, self.vip_range)
        put = [k for k, v in wanted.items() if self.vips.get(k) != v]
        gone = [k for k in self.vips if k not in wanted]
        if (put or gone) and self.etcd is not None:
            ops = [Op.put(self.key(k), json.dumps({"stack": k[0], "service": k[1], "vip": wanted[k]}).encode())
                   for k in put] + [Op.delete(self.key(k)) for k in gone]
            result = await self.etcd.txn(list(fence), ops)
            if not result.succeeded:
                raise Deposed("leadership lost before a VIP write")
            for k in put:
                log.info("service %s_%s: virtual IP %s", k[0], k[1], wanted[k])
            for k in gone:
                log.info("service %s_%s removed: virtual IP %s freed", k[0], k[1], self.vips[k])
        self.vips = wanted
        return wanted

    async def _read(self) -> dict[traffic.ServiceKey, str]:
        if self.etcd is None:
            return {}
        out = {}
        for kv in await self.etcd.range(f"{self.prefix}vips/"):
            try:
                doc = json.loads(kv.value)
                out[(str(doc["stack"]), str(doc["service"]))] = str(doc["vip"])
            except (ValueError, KeyError, TypeError):
                log.warning("ignoring a malformed VIP record %s", kv.key)
        return out

    # -- task containers -----------------------------------------------------------------------------

    def adapt(self, actions: Mapping[str, Sequence[Any]], stacks: Sequence[StackRecord]) -> dict[str, tuple[Any, ...]]:
        return traffic.adapt_actions(actions, {s.name: s for s in stacks}, self.vips or {}, self.addresses)

    # -- proxies --------------------------------------------------------------------------------------

    def push(self, stacks: Sequence[StackRecord], tasks: Sequence[TaskRecord], views: Mapping[str, NodeView]) -> None:
        """Send every answering node its configuration where it changed (in the background; a node whose
        last push is still under way gets the next pass's)."""
        reps = traffic.replicas(tasks, views, self.addresses)
        configs = traffic.node_configs({n: a for n, a in self.addresses.items() if n in views}, stacks, reps,
                                       self.vips or {})
        now = time.monotonic()
        for node, cfg in configs.items():
            doc = json.dumps(dump(cfg), sort_keys=True)
            last = self.sent.get(node)
            if last is not None and last[0] == doc and now - last[1] < RESEND:
                continue
            if node in self.pushing:
                self.queued[node] = doc  # sent as soon as the push under way is answered
                continue
            task = asyncio.create_task(self._push(node, doc))
            self.pushing[node] = task
            task.add_done_callback(self._done(node))

    def _done(self, node: str) -> Callable[[asyncio.Task[None]], None]:
        def forget(_: asyncio.Task[None]) -> None:
            self.pushing.pop(node, None)
        return forget

    async def _push(self, node: str, doc: str) -> None:
        while True:
            last = self.sent.get(node)
            try:
                await asyncio.wait_for(self._apply(node, doc), PUSH_TIMEOUT)
            except (TimeoutError, OSError, asyncssh.Error, ClusterError, ValueError) as exc:
                log.warning("node %s: node proxy not updated: %s", node, str(exc) or type(exc).__name__)
                self.sent.pop(node, None)
                self.queued.pop(node, None)
                return
            self.sent[node] = (doc, time.monotonic())
            if last is None or last[0] != doc:
                log.info("node %s: node proxy updated (%d listeners)", node, len(json.loads(doc)["listeners"]))
            queued = self.queued.pop(node, None)
            if queued is None or queued == doc:
                return
            doc = queued

    async def _apply(self, node: str, doc: str) -> None:
        conn = await self.transport.session(node).connection()
        reader, writer = await conn.open_unix_connection(ADMIN_SOCKET)
        try:
            writer.write((json.dumps({"cmd": "apply", "config": json.loads(doc)}) + "\n").encode())
            line = await reader.readline()
        finally:
            writer.close()
        answer = json.loads(line or b"{}")
        if not answer.get("ok"):
            raise ClusterError(str(answer.get("error") or "no answer from the node proxy"))

    async def settle(self, timeout: float = PUSH_TIMEOUT) -> None:
        """Wait (at most ``timeout``) for the pushes under way."""
        if self.pushing:
            await asyncio.wait(list(self.pushing.values()), timeout=timeout)

    async def close(self) -> None:
        for task in list(self.pushing.values()):
            task.cancel()
        await asyncio.gather(*self.pushing.values(), return_exceptions=True)


def current_tasks(tasks: Sequence[TaskRecord], put: Sequence[TaskRecord], delete: Sequence[TaskRecord]) -> list[TaskRecord]:
    """The task records after a pass's writes."""
    merged = {t.id: t for t in tasks} | {t.id: t for t in put}
    for t in delete:
        merged.pop(t.id, None)
    return list(merged.values())
