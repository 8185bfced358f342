"""Who needs whom: every dependency between services, read once, and the one cycle finder.

A service depends on another through ``depends_on``, ``links``, ``network_mode: service:x``,
``volumes_from`` (``service:x`` and bare names; ``container:x`` is not a service), and
``pid``/``ipc``/``uts``/``cgroup: service:x``. Each :class:`Edge` carries the key that made it
(``kind``), ``condition``, ``restart`` and ``required``; an explicit ``depends_on`` entry decides those
three, otherwise compose-go's implicit defaults apply (``service_started``, ``restart`` true except for
``volumes_from``, required).

The readers take a typed :class:`~stackctl.model.Service` or, for the consistency check that runs
before a document is valid and for the container config that maps compose keys 1:1, the plain
normalized dict of one service. Pure code: no I/O, nothing from the layers above.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

STARTED = "service_started"
NAMESPACE_KEYS = ("network_mode", "ipc", "pid", "uts", "cgroup")
KINDS = ("depends_on", "links", *NAMESPACE_KEYS, "volumes_from")
# Keys through which a container uses another service's container (its namespaces or volumes): it
# can only be created once that container runs.
SHARING_KINDS = frozenset({"network_mode", "ipc", "pid", "volumes_from"})


@dataclasses.dataclass(frozen=True, slots=True)
class Edge:
    """``dependent`` needs ``service``; ``kind`` is the key that says so."""

    dependent: str
    service: str
    kind: str
    condition: str = STARTED
    restart: bool = True
    required: bool = True


def _get(service: Any, name: str) -> Any:
    """A key of a plain service dict, or the attribute of a model Service."""
    if isinstance(service, Mapping):
        return service.get(name)
    return getattr(service, name, None)


def _attr(entry: Any, name: str) -> Any:
    return entry.get(name) if isinstance(entry, Mapping) else getattr(entry, name, None)


def _strings(value: Any) -> list[str]:
    """The strings of a list (the consistency check also runs on documents that are not valid yet)."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, (list, tuple)) else []


def dependencies(service: Any, name: str = "") -> tuple[Edge, ...]:
    """The ``depends_on`` edges of one service (a model Service or its plain dict), in file order."""
    deps = _get(service, "depends_on") or {}
    if isinstance(deps, (list, tuple)):  # short syntax, before normalization
        deps = {d: None for d in deps if isinstance(d, str)}
    if not isinstance(deps, Mapping):
        return ()
    return tuple(_explicit(name, dep, entry) for dep, entry in deps.items())


def _explicit(name: str, dep: str, entry: Any) -> Edge:
    if entry is None:
        return Edge(name, dep, "depends_on", STARTED, False, True)
    condition, restart, required = (_attr(entry, k) for k in ("condition", "restart", "required"))
    return Edge(name, dep, "depends_on", condition or STARTED, bool(restart), required is not False)


def _implicit(name: str, service: Any) -> Iterator[Edge]:
    for link in _strings(_get(service, "links")):
        yield Edge(name, link.split(":", 1)[0], "links")
    for key in NAMESPACE_KEYS:
        value = _get(service, key)
        if isinstance(value, str) and value.startswith("service:"):
            yield Edge(name, value[len("service:"):], key)
    for source in _strings(_get(service, "volumes_from")):
        if source.startswith("container:"):
            continue
        ref = source.removeprefix("service:")
        yield Edge(name, ref.split(":", 1)[0], "volumes_from", restart=False)


def service_edges(name: str, service: Any) -> list[Edge]:
    """Every dependency edge of one service (a plain dict or a model Service), explicit ones first."""
    return [*dependencies(service, name), *_implicit(name, service)]


def shared_services(service: Any) -> tuple[str, ...]:
    """Services whose containers this one uses (`network_mode|ipc|pid: service:x`, `volumes_from`)."""
    return tuple(dict.fromkeys(e.service for e in _implicit("", service) if e.kind in SHARING_KINDS))


def merged_edges(services: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """One attribute dict per (dependent, service): the first edge decides, ``kinds`` accumulate."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for name in sorted(services):
        for edge in service_edges(name, services[name]):
            attrs = merged.setdefault((edge.dependent, edge.service), {
                "kinds": set(), "condition": edge.condition, "restart": edge.restart,
                "required": edge.required})
            attrs["kinds"].add(edge.kind)
    return merged


def dependents_map(services: Mapping[str, Any]) -> dict[str, set[str]]:
    """service -> the services whose ``depends_on`` names it."""
    out: dict[str, set[str]] = {}
    for name, svc in services.items():
        for dep in dependencies(svc, name):
            out.setdefault(dep.service, set()).add(name)
    return out


def _children(services: Mapping[str, Any]) -> dict[str, list[str]]:
    children: dict[str, set[str]] = {name: set() for name in services}
    for dependent, service in merged_edges(services):
        if service in services:
            children[dependent].add(service)
    return {name: sorted(deps) for name, deps in children.items()}


def find_cycle(services: Mapping[str, Any]) -> list[str] | None:
    """The first dependency cycle as compose-go finds it (services and their dependencies visited in
    name order), e.g. ``["web", "api", "web"]``; None when there is none. ``services`` maps names to
    model Services or to plain service dicts; dependencies on services not in it are ignored."""
    children = _children(services)
    done: set[str] = set()

    def search(path: list[str]) -> list[str] | None:
        for child in children[path[-1]]:
            if child in path:
                return [*path[path.index(child):], child]
            if child not in done:
                found = search([*path, child])
                if found:
                    return found
                done.add(child)
        return None

    for name in sorted(children):
        if name not in done:
            found = search([name])
            if found:
                return found
            done.add(name)
    return None


def cycle_message(cycle: Sequence[str]) -> str:
    """``dependency cycle detected: a -> b -> a``, compose-go's words."""
    return "dependency cycle detected: " + " -> ".join(cycle)
