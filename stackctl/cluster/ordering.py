"""``depends_on`` across nodes: may a service's new tasks be placed yet?

Pure. A dependent's pending tasks wait (unplaced, the reason in their message) until every task of each
dependency meets the edge's condition, wherever it runs:

- ``service_started``: each of the dependency's live tasks runs (and it has its replicas' worth);
- ``service_healthy``: each of them runs and its container is healthy (a task without a healthcheck
  counts as healthy once running, as the cluster cannot tell);
- ``service_completed_successfully``: no task of the dependency runs any more and the last task of each
  of its slots exited 0 with the current spec (a one-shot migration);
- ``required: false``: a dependency absent from the stack is skipped.

Only the start is ordered, as compose does: a dependency that later fails or is updated does not stop its
dependents. ``restart: true`` is the exception: once a dependency's update completes, the dependent's
tasks that started before it are replaced (see :func:`restart_after`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from stackctl.cluster.state import ServiceRecord, TaskRecord
from stackctl.model.dependencies import Edge, dependencies

HEALTHY = "service_healthy"
COMPLETED = "service_completed_successfully"


def waiting_for(service: str, doc: Mapping[str, Any], services: Mapping[str, ServiceRecord],
                tasks: Sequence[TaskRecord]) -> str | None:
    """Why ``service``'s new tasks must wait (the first unmet dependency), or None."""
    for edge in dependencies(doc.get(service) or {}, service):
        svc = services.get(edge.service)
        if svc is None:
            if edge.required:
                return f"waiting for {edge.service}: not in the stack"
            continue
        why = _unmet(edge, svc, [t for t in tasks if t.service == edge.service])
        if why:
            return f"waiting for {edge.service} ({edge.condition}): {why}"
    return None


def _unmet(edge: Edge, svc: ServiceRecord, tasks: Sequence[TaskRecord]) -> str | None:
    live = [t for t in tasks if t.desired == "running"]
    if edge.condition == COMPLETED:
        if live:
            return f"{len(live)} task(s) not finished"
        last: dict[int | str, TaskRecord] = {}
        for t in sorted(tasks, key=lambda t: t.updated):
            if t.spec_hash == svc.spec_hash:
                last[t.slot or (t.node or "")] = t
        if not last:
            return "not run yet"
        bad = [t for t in last.values() if t.state != "complete"]
        if bad:
            return f"a task {bad[0].state}: {bad[0].message}" if bad[0].message else f"a task {bad[0].state}"
        return None
    want = svc.replicas if svc.mode == "replicated" else max(1, len(live))
    up = [t for t in live if t.state == "running"
          and (edge.condition != HEALTHY or t.health in ("", "healthy"))]
    if len(up) < want:
        what = "healthy" if edge.condition == HEALTHY else "running"
        return f"{len(up)}/{want} {what}"
    return None


def restart_after(service: str, doc: Mapping[str, Any], services: Mapping[str, ServiceRecord],
                  tasks: Sequence[TaskRecord]) -> list[TaskRecord]:
    """Live tasks of ``service`` to replace because a dependency with ``restart: true`` finished an update
    after they started."""
    out: list[TaskRecord] = []
    for edge in dependencies(doc.get(service) or {}, service):
        svc = services.get(edge.service)
        if not edge.restart or svc is None or svc.update is None or not svc.update.state.endswith("completed"):
            continue
        done = svc.update.updated
        out += [t for t in tasks if t.service == service and t.desired == "running" and t.created < done
                and t not in out]
    return out
