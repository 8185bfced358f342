"""Plans for the verbs that only move existing containers: down, stop, start, restart, kill, rm.

Pure. Stopping goes in reverse dependency order (dependents first), starting in dependency order;
`down -t 0` kills and removes every container at once (there is no graceful stop to order).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from stackctl.errors import PlanError
from stackctl.model.dependencies import dependencies, dependents_map
from stackctl.plan.actions import Action, Plan, Reason
from stackctl.plan.observed import Observed, ObservedContainer


def check_services(doc: Mapping[str, Any] | None, names: tuple[str, ...]) -> None:
    known = set((doc or {}).get("services") or {})
    unknown = [n for n in names if doc is not None and n not in known]
    if unknown:
        raise PlanError(f"no such service: {', '.join(unknown)}")


def _containers(observed: Observed, services: tuple[str, ...], *, oneoff: bool = False) -> list[ObservedContainer]:
    return [c for c in observed.containers
            if (not services or c.service in services) and (oneoff or not c.oneoff)]


def plan_stop_like(kind: str, doc: Mapping[str, Any] | None, observed: Observed, *,
                   services: tuple[str, ...] = (), params: Mapping[str, Any] | None = None,
                   only_running: bool = True) -> Plan:
    """stop/kill (dependents first) or remove containers; each waits for its dependents' action."""
    check_services(doc, services)
    chosen = [c for c in _containers(observed, services) if c.running or not only_running]
    return Plan(tuple(_reverse_ordered(kind, chosen, doc, Reason(kind.split("_")[0]), params or {})))


def _reverse_ordered(kind: str, chosen: list[ObservedContainer], doc: Mapping[str, Any] | None,
                     reason: Reason, params: Mapping[str, Any]) -> list[Action]:
    dependents = dependents_map(_services(doc))
    ids_of: dict[str, list[str]] = {}
    for c in chosen:
        ids_of.setdefault(c.service, []).append(f"{kind}:{c.name}")
    out = []
    for c in sorted(chosen, key=lambda c: (c.service, -c.number)):
        needs = tuple(i for s in sorted(dependents.get(c.service, ())) for i in ids_of.get(s, ()))
        out.append(Action(kind, c.name, reason, c.service, c.number, needs, {**params, "id": c.id}))
    return out


def plan_start(doc: Mapping[str, Any] | None, observed: Observed, *, services: tuple[str, ...] = ()) -> Plan:
    """Start stopped containers, each after the containers of its dependencies."""
    check_services(doc, services)
    chosen = [c for c in _containers(observed, services) if not c.running]
    deps = {name: [d.service for d in dependencies(svc)] for name, svc in _services(doc).items()}
    return Plan(tuple(_forward_ordered("start_container", chosen, deps, lambda c: Reason("stopped", c.state))))


def plan_restart(doc: Mapping[str, Any] | None, observed: Observed, *, services: tuple[str, ...] = (),
                 params: Mapping[str, Any] | None = None) -> Plan:
    """As docker compose: `restart db` also restarts the services that declare
    `depends_on: {db: {restart: true}}`, and a service restarts once the services it depends on with
    `restart: true` have restarted (dependencies first, unlike stop); others restart side by side."""
    check_services(doc, services)
    restart_deps = {name: [d.service for d in dependencies(svc) if d.restart] for name, svc in _services(doc).items()}
    if services:
        services = (*services, *(name for name, deps in restart_deps.items()
                                 if name not in services and set(deps) & set(services)))
    return Plan(tuple(_forward_ordered("restart_container", _containers(observed, services), restart_deps,
                                       lambda c: Reason("restart"), params)))


def _services(doc: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return (doc or {}).get("services") or {}


def _forward_ordered(kind: str, chosen: list[ObservedContainer], deps: Mapping[str, list[str]],
                     reason: Callable[[ObservedContainer], Reason],
                     params: Mapping[str, Any] | None = None) -> list[Action]:
    """One ``kind`` action per container, each after the actions of its service's ``deps``."""
    ids_of: dict[str, list[str]] = {}
    for c in chosen:
        ids_of.setdefault(c.service, []).append(f"{kind}:{c.name}")
    return [Action(kind, c.name, reason(c), c.service, c.number,
                   tuple(i for s in deps.get(c.service, ()) for i in ids_of.get(s, ())), {**(params or {}), "id": c.id})
            for c in sorted(chosen, key=lambda c: (c.service, c.number))]


def plan_down(doc: Mapping[str, Any] | None, observed: Observed, *, project: str, volumes: bool = False,
              remove_orphans: bool = False, timeout: int | None = None) -> Plan:
    """Remove the project's containers (dependents first), then its networks, then (-v) volumes."""
    known = set((doc or {}).get("services") or {})
    chosen = [c for c in observed.containers
              if doc is None or c.service in known or remove_orphans]
    kept = [c for c in observed.containers if c not in chosen]
    warnings = []
    if kept:
        warnings.append(f"Found orphan containers ({', '.join(sorted(c.name for c in kept))}) for this project. "
                        "If you removed or renamed this service in your compose file, you can run this "
                        "command with the --remove-orphans flag to clean it up.")
    removals = _reverse_ordered("remove_container", chosen, doc, Reason("down"),
                                {"stop": True, "timeout": timeout, "volumes": volumes})
    if timeout == 0:  # no graceful stop to order: every container is killed and removed at once
        removals = [replace(a, needs=()) for a in removals]
    after = tuple(a.id for a in removals)
    busy = {n for c in kept for n in c.networks}
    actions = list(removals)
    for name in _down_networks(doc, observed, project):
        if name not in busy:
            actions.append(Action("remove_network", name, Reason("down"), needs=after))
    if volumes:
        actions += [Action("remove_volume", name, Reason("down -v"), needs=after)
                    for name in _down_volumes(doc, observed, project)]
        actions += _anonymous_volume_removals(chosen)
    if not actions:
        warnings.append(f'No resource found to remove for project "{project}".')
    return Plan(tuple(actions), tuple(warnings))


def _anonymous_volume_removals(removed: list[ObservedContainer]) -> list[Action]:
    """Anonymous volumes a recreate handed over by name (the engine's `rm -v` keeps those)."""
    out: dict[str, Action] = {}
    for c in removed:
        for name in c.anonymous_volumes().values():
            out.setdefault(name, Action("remove_volume", name, Reason("anonymous volume of", c.name),
                                        needs=(f"remove_container:{c.name}",), params={"best_effort": True}))
    return list(out.values())


def _down_networks(doc: Mapping[str, Any] | None, observed: Observed, project: str) -> list[str]:
    labelled = [n.name for n in observed.networks]
    if doc is None:
        return labelled
    wanted = [(cfg or {}).get("name") or f"{project}_{key}" for key, cfg in (doc.get("networks") or {}).items()
              if not (cfg or {}).get("external")]
    return [n for n in wanted if n in labelled]


def _down_volumes(doc: Mapping[str, Any] | None, observed: Observed, project: str) -> list[str]:
    labelled = [v.name for v in observed.volumes]
    if doc is None:
        return labelled
    wanted = [(cfg or {}).get("name") or f"{project}_{key}" for key, cfg in (doc.get("volumes") or {}).items()
              if not (cfg or {}).get("external")]
    return [v for v in wanted if v in labelled]
