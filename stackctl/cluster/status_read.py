"""What `stackctl cluster status` reads: every etcd member through its own manager's tunnel, and the
state snapshot (serializable: it answers without quorum too). The shaping is :mod:`stackctl.cluster.status`."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from stackctl.cluster.client import ClusterClient, member_etcd
from stackctl.cluster.status import InventoryNode, MemberHealth, member_health, shape
from stackctl.errors import ClusterError, DriverError

MEMBER_TIMEOUT = 3.0


async def _member(cc: ClusterClient, member: Mapping[str, Any], managers: set[str], timeout: float) -> MemberHealth:
    name, member_id = str(member.get("name") or ""), str(member.get("ID") or "")
    if not name:
        return member_health(member_id, member_id, None, "added but not started yet")
    if name not in managers:
        return member_health(name, member_id, None, "not a manager of the inventory (cannot reach it)")
    try:
        async with asyncio.timeout(timeout):
            async with member_etcd(cc, name, timeout=timeout) as etcd:
                answer = await etcd.status()
    except TimeoutError:
        return member_health(name, member_id, None, f"no answer within {timeout:g} s")
    except (DriverError, ClusterError) as exc:
        return member_health(name, member_id, None, str(exc))
    return member_health(name, member_id, answer)


async def read_status(cc: ClusterClient, *, now: float, timeout: float = MEMBER_TIMEOUT) -> dict[str, Any]:
    inventory = [InventoryNode(n.name, n.address, n.role) for n in cc.inventory.nodes]
    managers = {n.name for n in inventory if n.role == "manager"}
    listed = await cc.etcd.members()
    members = await asyncio.gather(*(_member(cc, m, managers, timeout) for m in listed))
    snapshot, error = None, ""
    try:
        snapshot = await cc.store.snapshot(serializable=True)
    except ClusterError as exc:
        error = str(exc)
    return shape(cc.inventory.name, manager=cc.manager, members=sorted(members, key=lambda m: m.name),
                 snapshot=snapshot, state_error=error, inventory=inventory, now=now)
