"""Node health as the leader sees it: engine answers and misses -> the node records to write.

Pure. The leader probes every node's engine each second through its SSH tunnel; MISSES probes in a
row without an answer mark the node ``down`` (its tasks are then placed elsewhere), the next answer
marks it ``ready`` again. Records are written only when something a user or the scheduler sees changes
(state, message, capacity, engine version), and ``last_seen`` at most every SEEN_EVERY seconds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from stackctl.cluster.state import NodeRecord
from stackctl.nodes import NodeSpec

MISSES = 3
SEEN_EVERY = 10.0


@dataclass(frozen=True)
class Facts:
    """What a node's engine says about the machine (GET /info)."""

    cpus: float
    memory: int
    engine_version: str


@dataclass
class Health:
    """Consecutive misses per node and the last error seen."""

    misses: dict[str, int] = field(default_factory=dict)
    errors: dict[str, str] = field(default_factory=dict)

    def answered(self, node: str) -> None:
        self.misses[node] = 0
        self.errors.pop(node, None)

    def missed(self, node: str, error: str) -> None:
        self.misses[node] = self.misses.get(node, 0) + 1
        self.errors[node] = error

    def down(self, node: str) -> bool:
        return self.misses.get(node, 0) >= MISSES


def node_updates(records: Sequence[NodeRecord], specs: Sequence[NodeSpec], health: Health,
                 facts: Mapping[str, Facts], *, now: float) -> list[NodeRecord]:
    """The node records that change: new ones for inventory nodes without a record, state by health."""
    have = {r.name: r for r in records}
    out = []
    for spec in specs:
        old = have.get(spec.name) or NodeRecord(name=spec.name, address=spec.address,
                                                role="manager" if spec.is_manager else "worker",
                                                labels=dict(spec.labels), state="unknown")
        new = _judged(old, health, facts.get(spec.name), now=now)
        if spec.name not in have or new != old:
            out.append(new)
    return out


def _judged(rec: NodeRecord, health: Health, facts: Facts | None, *, now: float) -> NodeRecord:
    name = rec.name
    if health.misses.get(name) == 0:
        new = replace(rec, state="ready", message="")
        if facts is not None:
            new = replace(new, cpus=facts.cpus, memory=facts.memory, engine_version=facts.engine_version)
        if new != rec or now - rec.last_seen >= SEEN_EVERY:
            new = replace(new, last_seen=now)
        return new
    if health.down(name):
        return replace(rec, state="down", message=health.errors.get(name, "the engine does not answer"))
    return rec
