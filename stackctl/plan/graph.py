"""The service dependency graph: who must be running before whom.

Edges go from a service to each service it depends on (``web -> db``), as
:mod:`stackctl.model.dependencies` reads them (the one reader, and the one cycle finder); each edge
carries ``kinds`` (the set of keys that made it), ``condition``, ``restart`` and ``required``.

:func:`dependency_graph` works on a :class:`~stackctl.model.Project` or on such a dict and
raises :class:`~stackctl.errors.PlanError` naming the cycle, in compose-go's words. Pure code;
``networkx`` is imported only when a graph is built.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from stackctl.errors import PlanError
from stackctl.model.dependencies import cycle_message, find_cycle, merged_edges

if TYPE_CHECKING:
    import networkx as nx

    from stackctl.model import Project

__all__ = ["cycle_message", "dependencies_of", "dependency_graph", "dependents_of", "find_cycle",
           "shutdown_order", "startup_levels", "startup_order", "with_dependencies"]


def _services_of(project: Project | Mapping[str, Any]) -> Mapping[str, Any]:
    if isinstance(project, Mapping):
        return project.get("services") or {}
    return project.services


def dependency_graph(project: Project | Mapping[str, Any], *,
                     disabled: Mapping[str, Sequence[str]] | None = None) -> nx.DiGraph[str]:
    """The DiGraph of a project (model or plain normalized document): one node per service, an edge
    ``service -> dependency`` with ``kinds``, ``condition``, ``restart``, ``required``.

    A non-required dependency on a missing service is dropped; a required one is a PlanError (naming
    the profiles that would enable it when ``disabled`` maps it to them), and so is a cycle.
    """
    import networkx as nx

    services = _services_of(project)
    graph: nx.DiGraph[str] = nx.DiGraph()
    graph.add_nodes_from(sorted(services))
    for (service, dependency), attrs in merged_edges(services).items():
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


def startup_order(graph: nx.DiGraph[str]) -> list[str]:
    """Every service, dependencies before their dependents; ties broken by name."""
    import networkx as nx

    return list(nx.lexicographical_topological_sort(graph.reverse(copy=False)))


def shutdown_order(graph: nx.DiGraph[str]) -> list[str]:
    """Every service, dependents before their dependencies (the order to stop them); ties by name."""
    import networkx as nx

    return list(nx.lexicographical_topological_sort(graph))


def startup_levels(graph: nx.DiGraph[str]) -> list[list[str]]:
    """Services grouped in waves: each wave depends only on earlier ones (for display; the executor
    starts each service as soon as its own dependencies are done, not wave by wave)."""
    import networkx as nx

    return [sorted(level) for level in nx.topological_generations(graph.reverse(copy=False))]


def dependencies_of(graph: nx.DiGraph[str], service: str, *, transitive: bool = True) -> list[str]:
    """What ``service`` needs running first (directly, or all the way down), sorted."""
    import networkx as nx

    _check_node(graph, service)
    found = nx.descendants(graph, service) if transitive else set(graph.successors(service))
    return sorted(found)


def dependents_of(graph: nx.DiGraph[str], service: str, *, transitive: bool = True) -> list[str]:
    """Who needs ``service`` (directly, or all the way up), sorted: what to skip when it fails and
    what to restart with it."""
    import networkx as nx

    _check_node(graph, service)
    found = nx.ancestors(graph, service) if transitive else set(graph.predecessors(service))
    return sorted(found)


def with_dependencies(graph: nx.DiGraph[str], services: Iterable[str]) -> list[str]:
    """The named services plus everything they depend on, in startup order (``up web`` starts these)."""
    wanted: set[str] = set()
    for name in services:
        wanted.add(name)
        wanted.update(dependencies_of(graph, name))
    return [name for name in startup_order(graph) if name in wanted]


def _check_node(graph: nx.DiGraph[str], service: str) -> None:
    if service not in graph:
        raise PlanError(f"no such service: {service}")
