"""`stackctl compose graph`: draw the service dependency graph (text, Graphviz dot or Mermaid).

Each edge goes from a service to a service it needs (``web -> db``) and is labelled with the
``depends_on`` condition, ``restart`` when the dependent restarts with it, ``optional`` when not
required, and the keys other than ``depends_on`` that make it (``links``, ``volumes_from``, ...).
The renderers are pure functions of the graph; ``run`` is the only I/O.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import networkx as nx

FORMATS = ("text", "dot", "mermaid")


def register(verbs: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = verbs.add_parser("graph", help="draw the service dependency graph")
    p.add_argument("service_names", nargs="*", metavar="SERVICE",
                   help="only these services and what they depend on")
    p.add_argument("--format", choices=FORMATS, default="text", help="text (default), dot or mermaid")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stackctl.cli._project import options_from_args, print_warnings
    from stackctl.composefile.loader import load_project
    from stackctl.model import Project
    from stackctl.plan.graph import dependency_graph, with_dependencies

    loaded = load_project(options_from_args(args, services=tuple(args.service_names)))
    print_warnings(loaded.warnings)
    project = Project.from_dict(loaded.document, file=loaded.files[0] if loaded.files else "")
    disabled = {name: list((svc or {}).get("profiles") or []) for name, svc in loaded.disabled.items()}
    graph = dependency_graph(project, disabled=disabled)
    if args.service_names:
        for name in args.service_names:
            project.service(name)
        graph = graph.subgraph(with_dependencies(graph, args.service_names))
    sys.stdout.write(render(graph, fmt=args.format, name=project.name))
    return 0


def render(graph: nx.DiGraph[str], *, fmt: str, name: str) -> str:
    """The graph drawn in ``fmt`` (text, dot or mermaid)."""
    renderers = {"text": render_text, "dot": render_dot, "mermaid": render_mermaid}
    return renderers[fmt](graph, name=name)


def edge_label(attrs: Mapping[str, Any]) -> str:
    """``service_healthy, restart, optional; via links``: what an edge means, in one short label."""
    parts = [attrs.get("condition") or "service_started"]
    if attrs.get("restart"):
        parts.append("restart")
    if attrs.get("required") is False:
        parts.append("optional")
    label = ", ".join(parts)
    other = sorted(set(attrs.get("kinds") or ()) - {"depends_on"})
    return f"{label}; via {', '.join(other)}" if other else label


def render_text(graph: nx.DiGraph[str], *, name: str) -> str:
    """One line per service in startup order; its dependencies listed after ``->``."""
    from stackctl.plan.graph import startup_order

    order = startup_order(graph)
    width = max((len(s) for s in order), default=0)
    count = len(order)
    lines = [f"{name}: {count} service{'s' if count != 1 else ''}, in startup order"]
    for service in order:
        deps = sorted(graph.successors(service))
        if not deps:
            lines.append(service)
        for i, dep in enumerate(deps):
            head = service.ljust(width) if i == 0 else " " * width
            lines.append(f"{head}  -> {dep} ({edge_label(graph.edges[service, dep])})")
    return "\n".join(lines) + "\n"


def _dot_quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render_dot(graph: nx.DiGraph[str], *, name: str) -> str:
    """Graphviz: ``dot -Tsvg`` draws it; optional dependencies are dashed."""
    lines = [f"digraph {_dot_quote(name)} {{", "  rankdir=LR;", "  node [shape=box];"]
    lines += [f"  {_dot_quote(service)};" for service in sorted(graph)]
    for service, dep in sorted(graph.edges):
        attrs = graph.edges[service, dep]
        style = ", style=dashed" if attrs.get("required") is False else ""
        lines.append(f"  {_dot_quote(service)} -> {_dot_quote(dep)} "
                     f"[label={_dot_quote(edge_label(attrs))}{style}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def _mermaid_text(text: str) -> str:
    return '"' + text.replace('"', "#quot;") + '"'


def render_mermaid(graph: nx.DiGraph[str], *, name: str) -> str:
    """A Mermaid flowchart (GitHub renders it in Markdown); optional dependencies are dotted."""
    ids = {service: f"s{i}" for i, service in enumerate(sorted(graph))}
    lines = ["---", f"title: {name}", "---", "flowchart LR"]
    lines += [f"  {ids[service]}[{_mermaid_text(service)}]" for service in sorted(graph)]
    for service, dep in sorted(graph.edges):
        attrs = graph.edges[service, dep]
        arrow = "-.->" if attrs.get("required") is False else "-->"
        lines.append(f"  {ids[service]} {arrow}|{_mermaid_text(edge_label(attrs))}| {ids[dep]}")
    return "\n".join(lines) + "\n"
