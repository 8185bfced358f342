"""Where the reconciler's new tasks go: the seam between the reconciler and the scheduler.

Pure. Until the scheduler (cluster/scheduler.py) is merged this is a plain spread over ready and active
nodes (fewest tasks of the service, then fewest tasks overall, then name); with it, its filters and reasons.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stackctl.cluster.state import NodeRecord, TaskRecord


@dataclass(frozen=True)
class Unplaced:
    reason: str


def place(pending: Sequence[TaskRecord], nodes: Sequence[NodeRecord], placed: Sequence[TaskRecord],
          service_docs: Mapping[tuple[str, str], Mapping[str, Any]]) -> dict[str, str | Unplaced]:
    """task id -> node name, or why no node takes it."""
    ready = sorted(n.name for n in nodes if n.state == "ready" and n.availability == "active")
    total = {n: 0 for n in ready}
    per_service: dict[tuple[str, str, str], int] = {}
    for t in placed:
        if t.node in total:
            total[t.node] += 1
            key = (t.stack, t.service, t.node)
            per_service[key] = per_service.get(key, 0) + 1
    out: dict[str, str | Unplaced] = {}
    for t in pending:
        if not ready:
            out[t.id] = Unplaced(_no_node(nodes))
            continue
        best = min(ready, key=lambda n: (per_service.get((t.stack, t.service, n), 0), total[n], n))
        out[t.id] = best
        total[best] += 1
        per_service[(t.stack, t.service, best)] = per_service.get((t.stack, t.service, best), 0) + 1
    return out


def _no_node(nodes: Sequence[NodeRecord]) -> str:
    if not nodes:
        return "no node in the cluster"
    down = sum(1 for n in nodes if n.state != "ready")
    held = sum(1 for n in nodes if n.state == "ready" and n.availability != "active")
    parts = [f"{down} node{'s' if down != 1 else ''} not ready"] if down else []
    parts += [f"{held} node{'s' if held != 1 else ''} paused or drained"] if held else []
    return "no suitable node: " + "; ".join(parts)
