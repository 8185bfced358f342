"""A project network whose settings changed in the file is recreated, as docker compose v2.40 does.

Compose compares the network's ``com.docker.compose.config-hash`` label with the hash of the file's
network. When they differ it stops the project's containers attached to it, disconnects them,
removes the network, creates it again with the new settings, reconnects the same containers and
starts them again: containers keep their names, labels and config hash (their own config did not
change). We do the same, and reconnect each container with the aliases and addresses its service
declares (compose reconnects without them, so `service` names stop resolving until a recreate).

Pure: the decision (``network_diverged``) and the action's parameters are computed from values.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from stackctl.model.dependencies import dependents_map
from stackctl.plan.actions import Action, Reason
from stackctl.plan.hashing import network_hash
from stackctl.plan.observed import Observed, ObservedContainer


def network_diverged(cfg: Mapping[str, Any], observed: Observed) -> Reason | None:
    """Why the project network ``cfg['name']`` must be recreated, or None (missing, external, not
    labelled by compose, or up to date)."""
    if cfg.get("external"):
        return None
    found = [n for n in observed.networks if n.name == cfg["name"]]
    if not found or not found[0].config_hash:
        return None
    wanted = network_hash(cfg)
    if found[0].config_hash == wanted:
        return None
    return Reason("config changed", f"hash {found[0].config_hash[:12]} -> {wanted[:12]}")


def recreate_network_action(key: str, cfg: Mapping[str, Any], observed: Observed, *,
                            doc: Mapping[str, Any], chosen: Iterable[str]) -> Action | None:
    """The ``recreate_network`` action for a diverged network, or None when it is up to date.

    params: ``stop`` (groups of running service containers, dependents first), ``attached`` (every
    container to disconnect and reconnect: id, name, service, number, one-off) and ``restart`` (the
    running containers of services outside this ``up``, which the action starts again itself; the
    plan starts the others)."""
    why = network_diverged(cfg, observed)
    if why is None:
        return None
    attached = sorted((c for c in observed.containers if cfg["name"] in c.networks), key=lambda c: c.name)
    stopping = [c for c in attached if c.running and not c.oneoff]
    selected = set(chosen)
    return Action("recreate_network", cfg["name"], why, params={
        "key": key, "config": dict(cfg),
        "stop": stop_groups(stopping, doc),
        "attached": [{"id": c.id, "name": c.name, "service": c.service, "number": c.number,
                      "oneoff": c.oneoff} for c in attached],
        "restart": [c.id for c in stopping if c.service not in selected],
    })


def stopped_for_networks(actions: Iterable[Action]) -> dict[str, str]:
    """ID -> network names, for the containers that the plan's network recreations stop (the plan
    starts them again)."""
    out: dict[str, list[str]] = {}
    for a in actions:
        if a.kind == "recreate_network":
            for cid in (cid for group in a.params["stop"] for cid in group):
                out.setdefault(cid, []).append(a.target)
    return {cid: ", ".join(sorted(names)) for cid, names in out.items()}


def stop_groups(containers: list[ObservedContainer], doc: Mapping[str, Any]) -> list[list[str]]:
    """Container IDs in groups to stop one after the other: a service's dependents before it."""
    dependents = dependents_map(doc.get("services") or {})
    present = {c.service for c in containers}
    height: dict[str, int] = {}

    def level(name: str, path: tuple[str, ...] = ()) -> int:
        if name not in height:
            users = [s for s in dependents.get(name, ()) if s in present and s not in path]
            height[name] = 1 + max((level(u, (*path, name)) for u in users), default=-1)
        return height[name]

    groups: dict[int, list[str]] = {}
    for c in containers:
        groups.setdefault(level(c.service), []).append(c.id)
    return [groups[h] for h in sorted(groups)]
