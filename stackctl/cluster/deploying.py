"""`stack deploy` and `service scale` against a cluster: images, the desired state, the wait.

Effects around the pure :mod:`stackctl.cluster.deploy` and :mod:`stackctl.cluster.converge`: read the
stack's previous records, find the images' IDs on this machine, ship each changed service's image to the
nodes that could run it and lack it (by image ID, with ``ship_image``), write the stack and its services
in one transaction, then poll the records until converged. Nothing here prints: progress goes to a
callback the CLI gives.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stackctl.cluster.client import ClusterClient
from stackctl.cluster.converge import ServiceProgress, progress
from stackctl.cluster.deploy import Prepared, records
from stackctl.cluster.scheduler import requirements
from stackctl.cluster.state import NodeRecord, ServiceRecord
from stackctl.cluster.store import Store
from stackctl.drivers.ssh_images import ShipResult, local_image_id, ship_image
from stackctl.errors import ClusterError, DriverError

POLL = 0.2


class NotConverged(ClusterError):
    """A deploy or scale did not converge in time, or a task kept failing; one line per reason."""

    def __init__(self, summary: str, reasons: Sequence[str]) -> None:
        super().__init__(summary)
        self.reasons = list(reasons)

    def lines(self) -> list[str]:
        return [str(self), *(f"  {r}" for r in self.reasons)]


@dataclass(frozen=True)
class DeployResult:
    changed: bool
    services: list[ServiceRecord]
    shipped: list[ShipResult] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


async def local_image_ids(refs: Sequence[str]) -> dict[str, str]:
    """The ID of each image on this machine's engine; an image not here (or no engine) is left out."""
    async def one(ref: str) -> str | None:
        try:
            return await local_image_id(ref)
        except (DriverError, OSError):
            return None

    found = await asyncio.gather(*(one(r) for r in refs))
    return {r: i for r, i in zip(refs, found) if i}


def candidate_nodes(svc: Mapping[str, Any], nodes: Sequence[NodeRecord]) -> list[str]:
    """Nodes that may run a task of ``svc``: not down, not drained, its constraints met."""
    constraints = requirements(svc).constraints
    return [n.name for n in nodes if n.state != "down" and n.availability != "drain"
            and all(c.matches(n) for c in constraints)]


async def _reachable(cc: ClusterClient, names: Sequence[str], timeout: float) -> tuple[list[str], list[str]]:
    async def one(name: str) -> str | None:
        try:
            await asyncio.wait_for(cc.transport.session(name).connection(), timeout)
        except (DriverError, TimeoutError) as exc:
            return str(exc) or f"node {name}: no answer within {timeout:g} s"
        return None

    errors = await asyncio.gather(*(one(n) for n in names))
    return [n for n, e in zip(names, errors) if e is None], [e for e in errors if e]


async def ship_images(cc: ClusterClient, prepared: Prepared, changed: Sequence[str], image_ids: Mapping[str, str],
                      nodes: Sequence[NodeRecord], *, timeout: float = 5.0) -> tuple[list[ShipResult], list[str]]:
    """Ship each changed service's image (when this machine has it) to the nodes that may run it."""
    known = {n.name for n in cc.inventory.nodes}
    targets: dict[str, set[str]] = {}
    for svc_name in changed:
        svc = prepared.document["services"][svc_name]
        ref = prepared.images[svc_name]
        if ref in image_ids:
            eligible = candidate_nodes(svc, nodes) if nodes else sorted(known)
            targets.setdefault(ref, set()).update(n for n in eligible if n in known)
    wanted = sorted(set().union(*targets.values())) if targets else []
    up, warnings = await _reachable(cc, wanted, timeout)
    warnings = [f"{w} (its images were not shipped now; the leader streams them later)" for w in warnings]
    results = await asyncio.gather(*(ship_image(cc.transport, ref, nodes=sorted(n for n in names if n in up))
                                     for ref, names in sorted(targets.items()) if set(names) & set(up)))
    return list(results), warnings


async def deploy(cc: ClusterClient, prepared: Prepared, *, name: str, now: float | None = None) -> DeployResult:
    store = cc.store
    previous, previous_services, nodes, image_ids = await asyncio.gather(
        store.stack(name), store.services(name), store.nodes(),
        local_image_ids(sorted(set(prepared.images.values()))))
    stack, services, changed = records(prepared, name=name, image_ids=image_ids,
                                       now=time.time() if now is None else now,
                                       previous=previous, previous_services=previous_services)
    if not changed:
        return DeployResult(changed=False, services=services)
    old = {s.service: s for s in previous_services}
    touched = [s.service for s in services if old.get(s.service) is not s]
    shipped, warnings = await ship_images(cc, prepared, touched, image_ids, nodes)
    changed = await store.put_stack(stack, services)
    return DeployResult(changed=changed, services=services, shipped=shipped, warnings=warnings)


async def wait_converged(store: Store, stack: str, *, services: Sequence[str] | None = None, since: float,
                         timeout: float, report: Callable[[list[ServiceProgress]], None],
                         clock: Callable[[], float] = time.monotonic) -> list[ServiceProgress]:
    """Poll until every (named) service of ``stack`` converged, one failed, or ``timeout`` passed; each
    poll's progress goes to ``report``. Returns the last progress."""
    deadline = clock() + timeout
    while True:
        records_, tasks = await asyncio.gather(store.services(stack), store.tasks(stack))
        chosen = [s for s in records_ if services is None or s.service in services]
        if not chosen:
            raise ClusterError(f"stack {stack} has no service to wait for (was it removed?)")
        state = progress(chosen, tasks, since=since)
        report(state)
        if all(p.converged for p in state) or any(p.failed for p in state) or clock() >= deadline:
            return state
        await asyncio.sleep(POLL)
