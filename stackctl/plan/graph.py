"""The service dependency graph: who must be running before whom.

Edges go from a service to each service it depends on (``web -> db``), built from ``depends_on``,
``links``, ``network_mode: service:x``, ``volumes_from`` (``service:x`` and bare names; ``container:x``
is not a service), and ``pid``/``ipc``/``uts``/``cgroup: service:x``. Each edge carries
``kinds`` (the set of keys that made it), ``condition``, ``restart`` and ``required``; an explicit
``depends_on`` entry decides those three, otherwise compose-go's implicit defaults apply
(``service_started``, ``restart`` true except for ``volumes_from``, required).

:func:`find_cycle` works on the plain normalized dict (the consistency check calls it);
:func:`dependency_graph` works on a :class:`~stackctl.model.Project` or on such a dict and
raises :class:`~stackctl.errors.PlanError` naming the cycle, in compose-go's words. Pure code;
``networkx`` is imported only when a graph is built.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from stackctl.errors import PlanError

if TYPE_CHECKING:
    import networkx as nx

    from stackctl.model import Project

STARTED = "service_started"
NAMESPACE_KEYS = ("network_mode", "ipc", "pid", "uts", "cgroup")
KINDS = ("depends_on", "links", *NAMESPACE_KEYS, "volumes_from")


@dataclasses.dataclass(frozen=True, slots=True)
class Edge:
    """``service`` needs ``dependency``; ``kind`` is the key that says so."""

    service: str
    dependency: str
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


def _depends_on(name: str, service: Any) -> Iterator[Edge]:
    deps = _get(service, "depends_on") or {}
    if isinstance(deps, (list, tuple)):  # short syntax, before normalization
        deps = {d: None for d in deps if isinstance(d, str)}
    if not isinstance(deps, Mapping):
        return
    for dep, entry in deps.items():
        condition = _attr(entry, "condition") if entry is not None else None
        restart = _attr(entry, "restart") if entry is not None else None
        required = _attr(entry, "required") if entry is not None else None
        yield Edge(name, dep, "depends_on", condition or STARTED, bool(restart), required is not False)


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


def _strings(value: Any) -> list[str]:
    """The strings of a list (the consistency check also runs on documents that are not valid yet)."""
    return [v for v in value if isinstance(v, str)] if isinstance(value, (list, tuple)) else []


def service_edges(name: str, service: Mapping[str, Any] | Any) -> list[Edge]:
    """Every dependency edge of one service (a plain dict or a model Service), explicit ones first."""
    return [*_depends_on(name, service), *_implicit(name, service)]


def _merged(services: Mapping[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    """One attribute dict per (service, dependency): the first edge decides, kinds accumulate."""
    merged: dict[tuple[str, str], dict[str, Any]] = {}
    for name in sorted(services):
        for edge in service_edges(name, services[name]):
            attrs = merged.setdefault((edge.service, edge.dependency), {
                "kinds": set(), "condition": edge.condition, "restart": edge.restart,
                "required": edge.required})
            attrs["kinds"].add(edge.kind)
    return merged


def _children(services: Mapping[str, Any]) -> dict[str, list[str]]:
    children: dict[str, set[str]] = {name: set() for name in services}
    for service, dependency in _merged(services):
        if dependency in services:
            children[service].add(dependency)
    return {name: sorted(deps) for name, deps in children.items()}


def find_cycle(services: Mapping[str, Any]) -> list[str] | None:
    """The first dependency cycle as compose-go finds it (services and their dependencies visited in
    name order), e.g. ``["web", "api", "web"]``; None when there is none. Works on the plain
    normalized ``services`` dict and on a mapping of model Services. Dependencies on services that
    are not in ``services`` are ignored here."""
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


def _services_of(project: Project | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(project, Mapping):
        return project.get("services") or {}
    return project.services


def dependency_graph(project: Project | Mapping[str, Any], *,
                     disabled: Mapping[str, Sequence[str]] | None = None) -> nx.DiGraph:
    """The DiGraph of a project (model or plain normalized document): one node per service, an edge
    ``service -> dependency`` with ``kinds``, ``condition``, ``restart``, ``required``.

    A non-required dependency on a missing service is dropped; a required one is a PlanError (naming
    the profiles that would enable it when ``disabled`` maps it to them), and so is a cycle.
    """
    import networkx as nx

    services = _services_of(project)
    graph = nx.DiGraph()
    graph.add_nodes_from(sorted(services))
    for (service, dependency), attrs in _merged(services).items():
        if dependency in services:
            graph.add_edge(service, dependency, **{**attrs, "kinds": frozenset(attrs["kinds"])})
        elif attrs["required"]:
            raise PlanError(_missing_message(service, dependency, disabled or {}))
    cycle = find_cycle(services)
    if cycle:
        raise PlanError(cycle_message(cycle))
    return graph


def _missing_message(service: str, dependency: str, disabled: Mapping[str, Sequence[str]]) -> str:
    if dependency in disabled:
        profiles = " ".join(disabled[dependency])
        return (f'service "{dependency}" is required by "{service}" but is disabled. '
                f"Can be enabled by profiles [{profiles}]")
    return f'service "{service}" depends on undefined service "{dependency}"'


def startup_order(graph: nx.DiGraph) -> list[str]:
    """Every service, dependencies before their dependents; ties broken by name."""
    import networkx as nx

    return list(nx.lexicographical_topological_sort(graph.reverse(copy=False)))


def shutdown_order(graph: nx.DiGraph) -> list[str]:
    """Every service, dependents before their dependencies (the order to stop them); ties by name."""
    import networkx as nx

    return list(nx.lexicographical_topological_sort(graph))


def startup_levels(graph: nx.DiGraph) -> list[list[str]]:
    """Services grouped in waves: each wave depends only on earlier ones (for display; the executor
    starts each service as soon as its own dependencies are done, not wave by wave)."""
    import networkx as nx

    return [sorted(level) for level in nx.topological_generations(graph.reverse(copy=False))]


def dependencies_of(graph: nx.DiGraph, service: str, *, transitive: bool = True) -> list[str]:
    """What ``service`` needs running first (directly, or all the way down), sorted."""
    import networkx as nx

    _check_node(graph, service)
    found = nx.descendants(graph, service) if transitive else set(graph.successors(service))
    return sorted(found)


def dependents_of(graph: nx.DiGraph, service: str, *, transitive: bool = True) -> list[str]:
    """Who needs ``service`` (directly, or all the way up), sorted: what to skip when it fails and
    what to restart with it."""
    import networkx as nx

    _check_node(graph, service)
    found = nx.ancestors(graph, service) if transitive else set(graph.predecessors(service))
    return sorted(found)


def with_dependencies(graph: nx.DiGraph, services: Iterable[str]) -> list[str]:
    """The named services plus everything they depend on, in startup order (``up web`` starts these)."""
    wanted: set[str] = set()
    for name in services:
        wanted.add(name)
        wanted.update(dependencies_of(graph, name))
    return [name for name in startup_order(graph) if name in wanted]


def _check_node(graph: nx.DiGraph, service: str) -> None:
    if service not in graph:
        raise PlanError(f"no such service: {service}")
