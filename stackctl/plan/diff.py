"""Desired (the normalized compose document) vs observed (labels on the engine) -> Plan.

Pure: no client, no clock, no environment. ``needs_recreate`` is the single decision about one
container; ``plan_up``/``plan_down`` assemble actions with their dependencies so that the executor
can run each one as soon as what it needs is done.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from stackctl.errors import PlanError
from stackctl.model.dependencies import Edge, cycle_message, dependencies, find_cycle, shared_services
from stackctl.model.reading import fixed_host_ports, has_healthcheck, replicas_of
from stackctl.plan.actions import Action, Plan, Reason
from stackctl.plan.hashing import (
    first_container_ids,
    network_hash,
    service_hash,
    volume_hash,
    with_container_refs,
)
from stackctl.plan.networks import recreate_network_action, stopped_for_networks
from stackctl.plan.observed import Observed, ObservedContainer
from stackctl.plan.slots import observed_slots

SEPARATOR = "-"


@dataclass(frozen=True)
class DesiredService:
    """What one service should look like on the engine."""

    name: str
    replicas: int
    config_hash: str
    image_id: str | None = None  # the local image ID the containers must run; None = not checked
    networks: frozenset[str] = frozenset()  # engine network names
    volumes: frozenset[str] = frozenset()  # engine names of named volumes
    depends_on: tuple[Edge, ...] = ()
    container_name: str | None = None
    has_healthcheck: bool = False
    shares: tuple[str, ...] = ()  # services whose namespaces or volumes this one uses (`service:x`)
    withheld_ports: frozenset[int] = frozenset()  # host ports served by something else: not published


@dataclass(frozen=True)
class UpOptions:
    services: tuple[str, ...] = ()  # the services named on the command line (empty: all)
    no_deps: bool = False
    recreate: str = "diverged"  # diverged | force | never, for the named services
    deps_recreate: str = "diverged"  # the same, for their dependencies
    scale: Mapping[str, int] = field(default_factory=dict)
    remove_orphans: bool = False
    ignore_orphans: bool = False
    start: bool = True
    timeout: int | None = None
    # services whose fixed host ports something else serves (on the laptop, the balancer): their
    # containers do not publish them
    ports_elsewhere: frozenset[str] = frozenset()


def container_name(project: str, service: str, number: int, custom: str | None = None) -> str:
    return custom or f"{project}{SEPARATOR}{service}{SEPARATOR}{number}"


def needs_recreate(desired: DesiredService, seen: ObservedContainer, *, policy: str = "diverged") -> Reason | None:
    """Why ``seen`` must be replaced to match ``desired``, or None when it is up to date."""
    if policy == "never":
        return None
    if policy == "force":
        return Reason("forced", "--force-recreate")
    if seen.config_hash != desired.config_hash:
        return Reason("config changed", f"hash {str(seen.config_hash)[:12]} -> {desired.config_hash[:12]}")
    if desired.image_id and seen.image_id and seen.image_id != desired.image_id:
        return Reason("image changed", f"{seen.image_id[:19]} -> {desired.image_id[:19]}")
    if seen.running:
        missing = sorted(desired.networks - seen.networks)
        if missing:
            return Reason("network not attached", ", ".join(missing))
        lost = sorted(desired.volumes - seen.mounts)
        if lost:
            return Reason("volume not mounted", ", ".join(lost))
    held = sorted({pub for _, pub, _, _ in seen.ports} & desired.withheld_ports)
    if held:
        return Reason("published port served elsewhere", ", ".join(map(str, held)))
    return None


# ---------------------------------------------------------------------------------------------
# Reading the normalized document


def network_names(doc: Mapping[str, Any], service: Mapping[str, Any], project: str) -> frozenset[str]:
    if service.get("network_mode"):
        return frozenset()
    nets = doc.get("networks") or {}
    keys = list((service.get("networks") or {}).keys()) or ["default"]
    return frozenset((nets.get(k) or {}).get("name") or f"{project}_{k}" for k in keys)


def volume_names(doc: Mapping[str, Any], service: Mapping[str, Any], project: str) -> frozenset[str]:
    vols = doc.get("volumes") or {}
    names = set()
    for mount in service.get("volumes") or []:
        if isinstance(mount, Mapping) and mount.get("type") == "volume" and mount.get("source"):
            key = mount["source"]
            names.add((vols.get(key) or {}).get("name") or f"{project}_{key}")
    return frozenset(names)


def desired_services(doc: Mapping[str, Any], project: str, *, image_ids: Mapping[str, str | None],
                     scale: Mapping[str, int], ports_elsewhere: frozenset[str] = frozenset(),
                     observed: Observed | None = None) -> dict[str, DesiredService]:
    """``observed``: `service:x` references in the hash name x's current first container, as docker
    compose hashes them (see hashing.with_container_refs)."""
    firsts = first_container_ids((c.service, c.name, c.id) for c in (observed.containers if observed else ())
                                 if not c.oneoff)
    out = {}
    for name, svc in (doc.get("services") or {}).items():
        out[name] = DesiredService(
            name=name, replicas=replicas_of(svc, scale.get(name)),
            config_hash=service_hash(with_container_refs(svc, firsts)),
            image_id=image_ids.get(name), networks=network_names(doc, svc, project),
            volumes=volume_names(doc, svc, project), depends_on=dependencies(svc, name),
            container_name=svc.get("container_name"), has_healthcheck=has_healthcheck(svc),
            shares=shared_services(svc),
            withheld_ports=fixed_host_ports(svc) if name in ports_elsewhere else frozenset())
    return out


def selected_services(desired: Mapping[str, DesiredService], names: Iterable[str], *, no_deps: bool) -> list[str]:
    """The named services plus (unless no_deps) their transitive dependencies, in document order."""
    names = list(names)
    unknown = [n for n in names if n not in desired]
    if unknown:
        raise PlanError(f"no such service: {', '.join(unknown)}")
    if not names:
        return list(desired)
    chosen = set(names)
    todo = list(names) if not no_deps else []
    while todo:
        for dep in desired[todo.pop()].depends_on:
            if dep.service in desired and dep.service not in chosen:
                chosen.add(dep.service)
                todo.append(dep.service)
    return [n for n in desired if n in chosen]


# ---------------------------------------------------------------------------------------------
# up


def plan_up(doc: Mapping[str, Any], observed: Observed, *, project: str,
            image_ids: Mapping[str, str | None], options: UpOptions,
            slots: Mapping[str, Sequence[int]] | None = None) -> Plan:
    """The actions that make the engine match the document for the selected services.

    ``slots``: per service, the replica numbers its new containers take, in order (default: after the
    highest number ``observed`` holds, as docker compose does)."""
    desired = desired_services(doc, project, image_ids=image_ids, scale=options.scale,
                               ports_elsewhere=options.ports_elsewhere, observed=observed)
    chosen = selected_services(desired, options.services, no_deps=options.no_deps)
    named = set(options.services) or set(chosen)
    warnings: list[str] = []
    infra, infra_needs = _plan_infra(doc, observed, project, chosen, warnings)
    stopped = stopped_for_networks(infra)
    if slots is None:
        slots = observed_slots(observed, {name: desired[name].replicas for name in chosen})
    decisions = {name: _decide(desired[name], observed, project,
                               options.recreate if name in named else options.deps_recreate, stopped,
                               slots.get(name, ()))
                 for name in chosen}
    builder = _UpBuilder(desired, decisions, infra_needs, start=options.start)
    actions = list(infra) + builder.build(chosen)
    actions += _plan_orphans(doc, observed, options, warnings)
    return Plan(tuple(actions), tuple(warnings))


@dataclass(frozen=True)
class _Decision:
    kind: str  # create | recreate | start | keep | remove
    name: str
    number: int
    reason: Reason
    old: ObservedContainer | None = None


def _decide(d: DesiredService, observed: Observed, project: str, policy: str,
            stopped: Mapping[str, str], slots: Sequence[int]) -> list[_Decision]:
    """``stopped``: container ID -> the recreated networks for which the plan stops it; ``slots``: the
    numbers of the containers to create."""
    if d.container_name and d.replicas > 1:
        raise PlanError(f'service "{d.name}" is using the custom container name "{d.container_name}"; '
                        "Docker requires each container to have a unique name. "
                        "Remove the custom name to scale the service")
    seen = observed.of_service(d.name)
    keep, extra = seen[:d.replicas], seen[d.replicas:]
    out = [_decide_one(d, c, policy, stopped) for c in keep]
    missing = d.replicas - len(keep)
    if len(slots) < missing:
        raise PlanError(f'service "{d.name}" needs {missing} new replica slots, {len(slots)} given')
    for number in slots[:max(0, missing)]:
        why = Reason("scale", f"{len(seen)} -> {d.replicas}") if seen else Reason("missing")
        out.append(_Decision("create", container_name(project, d.name, number, d.container_name), number, why))
    for c in reversed(extra):
        out.append(_Decision("remove", c.name, c.number, Reason("scale", f"{len(seen)} -> {d.replicas}"), c))
    return out


def _decide_one(d: DesiredService, c: ObservedContainer, policy: str, stopped: Mapping[str, str]) -> _Decision:
    why = needs_recreate(d, c, policy=policy)
    if why is not None:
        return _Decision("recreate", c.name, c.number, why, c)
    if c.id in stopped:
        return _Decision("start", c.name, c.number, Reason("network recreated", stopped[c.id]), c)
    if not c.running:
        return _Decision("start", c.name, c.number, Reason("not running", c.state), c)
    return _Decision("keep", c.name, c.number, Reason("up to date"), c)


class _UpBuilder:
    """Turns per-container decisions into actions wired to what each one must wait for."""

    def __init__(self, desired: Mapping[str, DesiredService], decisions: Mapping[str, list[_Decision]],
                 infra_needs: Mapping[str, tuple[str, ...]], *, start: bool) -> None:
        self.desired, self.decisions, self.infra_needs, self.start = desired, decisions, infra_needs, start
        self.actions: list[Action] = []
        self.starts: dict[str, list[str]] = {}
        self.creates: dict[str, list[str]] = {}
        self.waits: dict[str, str] = {}

    def build(self, order: list[str]) -> list[Action]:
        for name in self._dependency_order(order):
            self._service(name)
        return self.actions

    def _dependency_order(self, order: list[str]) -> list[str]:
        """The chosen services, each after what it depends on (a cycle is named, in compose-go's words)."""
        cycle = find_cycle({name: self._needs(name) for name in self.decisions})
        if cycle:
            raise PlanError(cycle_message(cycle))
        done: list[str] = []

        def visit(name: str) -> None:
            if name in done or name not in self.decisions:
                return
            for dep in self._needs(name)["depends_on"]:
                visit(dep)  # no cycle (checked above): this ends
            if name not in done:
                done.append(name)

        for name in order:
            visit(name)
        return done

    def _needs(self, name: str) -> dict[str, list[str]]:
        """What orders ``name`` here (its depends_on and the services it shares containers with), in
        the shape the cycle finder reads."""
        d = self.desired[name]
        return {"depends_on": [dep.service for dep in d.depends_on] + list(d.shares)}

    def _service(self, name: str) -> None:
        d = self.desired[name]
        created: dict[str, str] = {}
        for dec in self.decisions[name]:
            act = self._container_action(d, dec)
            if act is not None:
                self.actions.append(act)
                created[dec.name] = act.id
        self.creates[name] = [a.id for a in self.actions if a.service == name
                              and a.kind in ("create_container", "recreate_container")]
        self.starts[name] = []
        if not self.start:
            return
        moving = any(dec.kind in ("create", "recreate", "start") or (dec.kind == "keep" and self._restart_due(d))
                     for dec in self.decisions[name])
        waits = self._wait_ids(d) if moving else ()
        for dec in self.decisions[name]:
            if dec.kind in ("create", "recreate", "start"):
                needs = ((created[dec.name],) if dec.name in created else self.infra_needs.get(name, ())) + waits
                why = dec.reason if dec.kind == "start" else Reason("created")
                act = Action("start_container", dec.name, why, name, dec.number, needs)
                self.actions.append(act)
                self.starts[name].append(act.id)
            elif dec.kind == "keep" and self._restart_due(d):
                act = Action("restart_container", dec.name, Reason("dependency recreated"), name,
                             dec.number, waits, {"id": dec.old.id if dec.old else dec.name})
                self.actions.append(act)

    def _container_action(self, d: DesiredService, dec: _Decision) -> Action | None:
        needs = self.infra_needs.get(d.name, ()) + self._shared_namespace_needs(d.name)
        if dec.kind == "create":
            return Action("create_container", dec.name, dec.reason, d.name, dec.number, needs)
        if dec.kind == "recreate" and dec.old is not None:
            return Action("recreate_container", dec.name, dec.reason, d.name, dec.number, needs,
                          {"old_id": dec.old.id, "old_running": dec.old.running,
                           "inherit": dec.old.anonymous_volumes()})
        if dec.kind == "remove" and dec.old is not None:
            return Action("remove_container", dec.name, dec.reason, d.name, dec.number, (),
                          {"id": dec.old.id})
        return None

    def _shared_namespace_needs(self, name: str) -> tuple[str, ...]:
        """A container can only be created once the containers it names exist (as docker compose
        creates services in dependency order): those of its dependencies, including the implicit ones
        (links, `ipc|pid: service:x`, `volumes_from`); and, for `service:x`, once x's container runs."""
        d = self.desired[name]
        created = [i for other in (*d.shares, *(dep.service for dep in d.depends_on))
                   for i in self.creates.get(other, ())]
        return tuple(dict.fromkeys([*created, *(i for other in d.shares for i in self.starts.get(other, ()))]))

    def _wait_ids(self, d: DesiredService) -> tuple[str, ...]:
        ids: list[str] = []
        for dep in d.depends_on:
            if dep.service not in self.starts or self.desired[dep.service].replicas == 0:
                continue
            if dep.condition == "service_started":
                ids += self.starts[dep.service]
                continue
            key = f"{dep.service}:{dep.condition}"
            if key not in self.waits:
                act = Action("wait", key, Reason(dep.condition, f"needed by {d.name}"), dep.service, None,
                             tuple(self.starts[dep.service]),
                             {"condition": dep.condition, "required": dep.required})
                self.actions.append(act)
                self.waits[key] = act.id
            ids.append(self.waits[key])
        return tuple(dict.fromkeys(ids))

    def _restart_due(self, d: DesiredService) -> bool:
        return any(dep.restart and any(x.kind == "recreate" for x in self.decisions.get(dep.service, ()))
                   for dep in d.depends_on)


def _plan_infra(doc: Mapping[str, Any], observed: Observed, project: str, chosen: list[str],
                warnings: list[str]) -> tuple[list[Action], dict[str, tuple[str, ...]]]:
    actions: dict[str, Action] = {}
    needs: dict[str, tuple[str, ...]] = {}
    for name in chosen:
        svc = doc["services"][name]
        ids = []
        for key, kind, cfg in _resources_of(doc, svc, project):
            act = _infra_action(key, kind, cfg, observed, warnings, doc=doc, chosen=chosen)
            if act is not None:
                actions.setdefault(act.id, act)
                ids.append(act.id)
        needs[name] = tuple(dict.fromkeys(ids))
    return list(actions.values()), needs


def _resources_of(doc: Mapping[str, Any], svc: Mapping[str, Any], project: str):  # type: ignore[no-untyped-def]
    if not svc.get("network_mode"):
        for key in list((svc.get("networks") or {}).keys()) or ["default"]:
            cfg = dict((doc.get("networks") or {}).get(key) or {})
            cfg.setdefault("name", f"{project}_{key}")
            yield key, "network", cfg
    for mount in svc.get("volumes") or []:
        if isinstance(mount, Mapping) and mount.get("type") == "volume" and mount.get("source"):
            cfg = dict((doc.get("volumes") or {}).get(mount["source"]) or {})
            cfg.setdefault("name", f"{project}_{mount['source']}")
            yield mount["source"], "volume", cfg


def _infra_action(key: str, kind: str, cfg: Mapping[str, Any], observed: Observed,
                  warnings: list[str], *, doc: Mapping[str, Any], chosen: list[str]) -> Action | None:
    name = cfg["name"]
    exists = observed.network_exists(name) if kind == "network" else observed.volume_exists(name)
    if cfg.get("external"):
        if not exists:
            raise PlanError(f'{kind} "{name}" declared as external, but could not be found')
        return None
    if exists and kind == "network":
        return recreate_network_action(key, cfg, observed, doc=doc, chosen=chosen)
    if exists:
        _check_drift(kind, name, cfg, observed, warnings)
        return None
    return Action(f"create_{kind}", name, Reason("missing"), params={"key": key, "config": dict(cfg)})


def _check_drift(kind: str, name: str, cfg: Mapping[str, Any], observed: Observed, warnings: list[str]) -> None:
    """A project network/volume whose config-hash label differs from the file: reported, left alone."""
    found = [r for r in (observed.networks if kind == "network" else observed.volumes) if r.name == name]
    if not found or found[0].config_hash is None:
        return
    wanted = network_hash(cfg) if kind == "network" else volume_hash(cfg)
    if found[0].config_hash != wanted:
        message = (f'{kind} "{name}" exists but does not match the compose file; '
                   f"run `down{' -v' if kind == 'volume' else ''}` to recreate it")
        if message not in warnings:
            warnings.append(message)


def _plan_orphans(doc: Mapping[str, Any], observed: Observed, options: UpOptions,
                  warnings: list[str]) -> list[Action]:
    orphans = [c for c in observed.orphans(doc.get("services") or {}) if not c.oneoff or not c.running]
    if not orphans or options.ignore_orphans:
        return []
    if not options.remove_orphans:
        warnings.append(f"Found orphan containers ({', '.join(c.name for c in orphans)}) for this project. "
                        "If you removed or renamed this service in your compose file, you can run this "
                        "command with the --remove-orphans flag to clean it up.")
        return []
    return [Action("remove_container", c.name, Reason("orphan"), c.service, c.number, (), {"id": c.id})
            for c in orphans]
