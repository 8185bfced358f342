"""``stackctl agent``: the long-running process on every manager.

It registers itself (``agents/<node>``, attached to its lease), campaigns through etcd, and while it leads
runs a :class:`~stackctl.cluster.leader.Leader` term: one full pass over every node at once, then passes
driven by the store's changes and a 1 s tick. A term ends the moment leadership is lost (a lease that
could not be kept alive, a fenced write refused): nothing more is written or started, and the agent
campaigns again. ``stop`` (SIGTERM) resigns at once, so a standby takes over within milliseconds.

Config (``/etc/stackctl/agent.json``)::

    {"cluster": "prod", "node": "node1", "etcd": ["http://127.0.0.1:2379"],
     "inventory": "/etc/stackctl/inventory.json", "ssh_key": "/etc/stackctl/cluster_key",
     "known_hosts": "/etc/stackctl/known_hosts", "vip_range": "10.240.0.0/16"}
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import os
import pathlib
import time
from collections.abc import Awaitable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from stackctl import __version__
from stackctl.cluster.etcd import Etcd
from stackctl.cluster.inventory import load_inventory
from stackctl.cluster.leader import Leader
from stackctl.cluster.leadership import Leadership
from stackctl.cluster.state import AgentRecord
from stackctl.cluster.store import Store
from stackctl.cluster.traffic import DEFAULT_VIP_RANGE
from stackctl.errors import ClusterError, Deposed
from stackctl.nodes import NodeSpec

log = logging.getLogger("stackctl.agent")
T = TypeVar("T")


@dataclass(frozen=True)
class AgentConfig:
    cluster: str
    node: str
    etcd: tuple[str, ...]
    inventory: pathlib.Path
    ssh_key: pathlib.Path | None = None
    known_hosts: pathlib.Path | None = None
    vip_range: str = DEFAULT_VIP_RANGE

    @classmethod
    def load(cls, path: pathlib.Path | str) -> AgentConfig:
        file = pathlib.Path(path)
        try:
            raw = json.loads(file.read_text())
            return cls(cluster=str(raw["cluster"]), node=str(raw["node"]),
                       etcd=tuple(str(e) for e in raw.get("etcd") or ["http://127.0.0.1:2379"]),
                       inventory=pathlib.Path(raw["inventory"]),
                       ssh_key=pathlib.Path(raw["ssh_key"]) if raw.get("ssh_key") else None,
                       known_hosts=pathlib.Path(raw["known_hosts"]) if raw.get("known_hosts") else None,
                       vip_range=str(raw.get("vip_range") or DEFAULT_VIP_RANGE))
        except OSError as exc:
            raise ClusterError(f"agent config {file}: {exc.strerror or exc}") from None
        except (ValueError, KeyError, TypeError) as exc:
            raise ClusterError(f"agent config {file}: not a valid agent config ({exc!r:.80})") from None

    @property
    def prefix(self) -> str:
        return f"/stackctl/{self.cluster}/"

    def nodes(self) -> list[NodeSpec]:
        """The inventory's nodes, reached with the cluster key and known_hosts when the config names them."""
        nodes = list(load_inventory(self.inventory).nodes)
        return [dataclasses.replace(n, ssh=dataclasses.replace(
            n.ssh, identity_file=self.ssh_key or n.ssh.identity_file,
            known_hosts=self.known_hosts or n.ssh.known_hosts)) for n in nodes]


class _Term:
    """The Leader's view of one term of :class:`Leadership`."""

    def __init__(self, leadership: Leadership, revision: int) -> None:
        self.leadership, self.revision = leadership, revision

    def is_leader(self) -> bool:
        return self.leadership.is_leader()

    @property
    def fence(self) -> Any:
        return self.leadership.fence


async def run(config: AgentConfig, *, stop: asyncio.Event) -> None:
    """Campaign and lead until ``stop`` is set; then resign at once."""
    nodes = config.nodes()
    etcd = Etcd(list(config.etcd))
    store = Store(etcd, config.cluster)
    started = time.time()

    async def register(lease: int, role: str = "standby", *, since: float = 0.0, rev: int = 0) -> None:
        rec = AgentRecord(node=config.node, version=__version__, pid=os.getpid(), started=started,
                          role=role, leading_since=since, leader_rev=rev)  # type: ignore[arg-type]
        with contextlib.suppress(ClusterError):
            await store.register_agent(rec, lease=lease)

    leadership = Leadership(etcd, name=config.prefix + "election", node=config.node, on_lease=register)
    try:
        leadership.start()
        while not stop.is_set():
            key = await _until_stopped(leadership.wait_elected(), stop)
            if key is None:
                break
            log.info("%s leads (revision %d)", config.node, key.rev)
            await register(leadership.lease, "leader", since=time.time(), rev=key.rev)
            await _lead(store, leadership, _Term(leadership, key.rev), nodes, stop, vip_range=config.vip_range)
            if not stop.is_set():
                log.warning("%s no longer leads", config.node)
                await register(leadership.lease, "standby")
    finally:
        await leadership.resign()
        with contextlib.suppress(ClusterError):
            await etcd.delete(store.agent_key(config.node))
        await etcd.aclose()
        log.info("%s stopped", config.node)


async def _lead(store: Store, leadership: Leadership, term: _Term, nodes: Sequence[NodeSpec],
                stop: asyncio.Event, *, vip_range: str = DEFAULT_VIP_RANGE) -> None:
    leader = Leader(store, term, nodes, vip_range=vip_range)
    watcher = asyncio.create_task(_watch(store, leader))
    try:
        await leader.run(stop)
    except Deposed as exc:
        log.warning("deposed: %s", exc)
        await leadership.deposed()
    except ClusterError as exc:  # etcd unavailable for a while: the term ends, campaigning goes on
        log.warning("term ended: %s", exc)
        await leadership.deposed()  # a new term with a new lease (the old key may outlive a quorum loss)
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError, ClusterError):
            await watcher


async def _watch(store: Store, leader: Leader) -> None:
    """Wake the leader on every change of the user's intent (stacks, services, nodes)."""
    while True:
        try:
            async for _ in store.watch():
                leader.poke()
        except ClusterError as exc:
            log.debug("watch ended (%s); retrying", exc)
        await asyncio.sleep(1.0)


async def _until_stopped(work: Awaitable[T], stop: asyncio.Event) -> T | None:
    """``work``'s result, or None when ``stop`` is set first (``work`` is then cancelled)."""
    job = asyncio.ensure_future(work)
    halt = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait({job, halt}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        halt.cancel()
    if job.done():
        return job.result()
    job.cancel()
    with contextlib.suppress(asyncio.CancelledError, ClusterError):
        await job
    return None
