"""The CLI's way into a cluster: an SSH session to a reachable manager and its etcd through a tunnel.

``async with ClusterClient.open(inventory) as cc:`` connects to the inventory's managers in order with
the user's key and known_hosts (as ``stackctl node ls`` does), forwards the first reachable one's
``127.0.0.1:2379`` (etcd accepts clients on each manager's loopback only) to a local unix socket (0600,
in the transport's 0700 directory) and gives ``cc.store``, a :class:`~stackctl.cluster.store.Store` over
an :class:`~stackctl.cluster.etcd.Etcd` on ``unix://…``. A manager that cannot be reached, or whose etcd
does not answer, is skipped for the next; when none answers the error names each one's reason.
``cc.transport`` reaches every node (image shipping, logs).

The port is 2379 unless the inventory's ``etcd.endpoints`` names a loopback one
(``http://127.0.0.1:PORT``): the endpoints are as a manager sees them.
"""

from __future__ import annotations

import asyncio
import contextlib
import urllib.parse
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from stackctl.cluster.etcd import Etcd
from stackctl.cluster.inventory import Inventory
from stackctl.cluster.store import Store
from stackctl.drivers.ssh import SshTransport
from stackctl.errors import ClusterError, DriverError, EtcdError, EtcdUnavailable

ETCD_HOST, ETCD_PORT = "127.0.0.1", 2379
PROBE_TIMEOUT = 1.0  # a manager's etcd status (answered in milliseconds)
LEADER_WAIT = 3.0  # members without a raft leader are asked again this long (an election takes ~1 s)


def etcd_port(inventory: Inventory) -> int:
    """The managers' loopback etcd port: from a loopback endpoint of the inventory, else 2379."""
    for url in inventory.etcd_endpoints:
        parsed = urllib.parse.urlsplit(url)
        if parsed.hostname in ("127.0.0.1", "localhost") and parsed.port:
            return parsed.port
    return ETCD_PORT


class NoManager(ClusterError):
    """No manager of the cluster could be reached, or none has an etcd answering."""


@dataclass
class ClusterClient:
    inventory: Inventory
    transport: SshTransport
    manager: str  # the manager whose etcd this client talks to
    etcd: Etcd
    store: Store

    @staticmethod
    def open(inventory: Inventory, *, transport: SshTransport | None = None, connect_timeout: float = 5.0,
             etcd_timeout: float = 5.0, need_leader: bool = True) -> contextlib.AbstractAsyncContextManager[ClusterClient]:
        """Connect (see the module's docstring); a given ``transport`` is used and left open. ``need_leader=
        False``: a member without a raft leader serves too (``cluster status`` reads without quorum)."""
        return _open(inventory, transport=transport, connect_timeout=connect_timeout, etcd_timeout=etcd_timeout,
                     need_leader=need_leader)


@contextlib.asynccontextmanager
async def _open(inventory: Inventory, *, transport: SshTransport | None, connect_timeout: float,
                etcd_timeout: float, need_leader: bool) -> AsyncIterator[ClusterClient]:
    own = transport is None
    transport = transport or SshTransport(inventory.nodes, connect_timeout=connect_timeout, retries=0)
    try:
        manager, listener, etcd = await _first_manager(inventory, transport, etcd_timeout=etcd_timeout,
                                                       need_leader=need_leader)
        try:
            yield ClusterClient(inventory=inventory, transport=transport, manager=manager, etcd=etcd,
                                store=Store(etcd, inventory.name))
        finally:
            await etcd.aclose()
            listener.close()
    finally:
        if own:
            await transport.aclose()


def _has_leader(status: dict[str, Any]) -> bool:
    return str(status.get("leader") or "0") != "0"


async def _first_manager(inventory: Inventory, transport: SshTransport, *, etcd_timeout: float,
                         need_leader: bool) -> tuple[str, Any, Etcd]:
    """The first manager whose etcd answers and has a raft leader. Members that answer without one (an
    election under way, or quorum lost) are asked again for LEADER_WAIT seconds; then, with
    ``need_leader=False`` (``cluster status``), the first of them serves, else NoManager says quorum is lost."""
    managers = inventory.managers
    if not managers:
        raise NoManager(f"{inventory.file}: no node has role manager: the cluster's state lives on the managers")
    reasons: list[str] = []
    port = etcd_port(inventory)
    leaderless: list[tuple[str, Any, Etcd]] = []
    try:
        for node in managers:
            try:
                listener, etcd, status = await _connect(transport, node.name, port, etcd_timeout=etcd_timeout)
            except DriverError as exc:
                reasons.append(str(exc))
                continue
            except (EtcdUnavailable, EtcdError, TimeoutError) as exc:
                reasons.append(f"node {node.name}: etcd does not answer on its {ETCD_HOST}:{port} (stopped, or "
                               f"`stackctl cluster init` has not run): {type(exc).__name__}")
                continue
            if _has_leader(status):
                return node.name, listener, etcd
            leaderless.append((node.name, listener, etcd))
        if leaderless and not need_leader:
            return leaderless.pop(0)
        found = await _await_leader(leaderless)
        if found is not None:
            return found
        reasons += [f"node {name}: its etcd member has no raft leader" for name, _, _ in leaderless]
        quorum = "; the cluster's etcd has lost quorum (most of its members are down or cut off)" if leaderless else ""
        raise NoManager(f"no manager of cluster {inventory.name} answers: " + "; ".join(reasons) + quorum)
    finally:
        for _, listener, etcd in leaderless:
            await etcd.aclose()
            listener.close()


async def _await_leader(leaderless: list[tuple[str, Any, Etcd]]) -> tuple[str, Any, Etcd] | None:
    """The first of ``leaderless`` whose member gets a raft leader within LEADER_WAIT s (removed from it)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + LEADER_WAIT
    while leaderless and loop.time() < deadline:
        await asyncio.sleep(0.25)
        for i, (_, _, etcd) in enumerate(leaderless):
            try:
                status = await asyncio.wait_for(etcd.status(), PROBE_TIMEOUT)
            except (EtcdUnavailable, EtcdError, TimeoutError):
                continue
            if _has_leader(status):
                return leaderless.pop(i)
    return None


@contextlib.asynccontextmanager
async def member_etcd(cc: ClusterClient, node: str, *, timeout: float) -> AsyncIterator[Etcd]:
    """The etcd of one manager (``node``), through its own tunnel (the client's own when it is that one);
    raises DriverError (no SSH), EtcdUnavailable or EtcdError (its etcd does not answer)."""
    if node == cc.manager:
        yield cc.etcd
        return
    listener, etcd, _ = await _connect(cc.transport, node, etcd_port(cc.inventory), etcd_timeout=timeout)
    try:
        yield etcd
    finally:
        await etcd.aclose()
        listener.close()


async def _connect(transport: SshTransport, name: str, port: int, *,
                   etcd_timeout: float) -> tuple[Any, Etcd, dict[str, Any]]:
    session = transport.session(name)
    path = transport.socket_dir / f"etcd-{name}.sock"
    listener = await session.forward_to_port(path, ETCD_HOST, port)
    etcd = Etcd([f"unix://{path}"], timeout=etcd_timeout)
    try:  # a member answers its status in milliseconds: a stopped one is not waited on for long
        status = await asyncio.wait_for(etcd.status(), min(etcd_timeout, PROBE_TIMEOUT))
    except BaseException:
        await etcd.aclose()
        listener.close()
        raise
    return listener, etcd, status
