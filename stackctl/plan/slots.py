"""Replica slots: which numbers new containers of a service get. Pure.

The planner takes the slots as an input; on one engine they come from what is observed there (docker
compose's rule: after the highest number seen), a cluster allocates them over all its nodes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from stackctl.plan.observed import Observed


def next_slots(taken: Iterable[int], count: int) -> tuple[int, ...]:
    """``count`` new replica numbers after the highest ``taken`` one."""
    top = max(taken, default=0)
    return tuple(range(top + 1, top + 1 + max(0, count)))


def observed_slots(observed: Observed, replicas: Mapping[str, int]) -> dict[str, tuple[int, ...]]:
    """Per service, the numbers its missing replicas get, from the containers ``observed`` holds."""
    out = {}
    for name, wanted in replicas.items():
        seen = [c.number for c in observed.of_service(name)]
        out[name] = next_slots(seen, wanted - len(seen))
    return out
