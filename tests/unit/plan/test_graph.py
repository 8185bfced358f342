"""The dependency graph: edges from every key that orders services, cycles named as compose-go does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stackctl.cli.compose_graph import render
from stackctl.errors import PlanError
from stackctl.model import Project
from stackctl.plan.graph import (
    cycle_message,
    dependencies_of,
    dependency_graph,
    dependents_of,
    find_cycle,
    shutdown_order,
    startup_levels,
    startup_order,
    with_dependencies,
)
from tests.support import env


def dep(condition: str = "service_started", *, restart: bool = False, required: bool = True) -> dict[str, Any]:
    return {"condition": condition, "restart": restart, "required": required}


SHOP: dict[str, Any] = {
    "name": "shop",
    "services": {
        "web": {"image": "nginx", "depends_on": {"api": dep("service_healthy", restart=True)},
                "links": ["cache:redis"]},
        "api": {"image": "api", "depends_on": {"db": dep("service_healthy")}, "volumes_from": ["data:ro"]},
        "db": {"image": "postgres", "network_mode": "service:net"},
        "cache": {"image": "redis", "pid": "service:net", "ipc": "service:net"},
        "net": {"image": "busybox"},
        "data": {"image": "busybox", "volumes_from": ["container:legacy"]},
        "batch": {"image": "job", "depends_on": {"api": dep("service_completed_successfully", required=False)}},
    },
}


@pytest.fixture(params=["dict", "model"])
def shop(request: pytest.FixtureRequest) -> Any:
    return SHOP if request.param == "dict" else Project.from_dict(SHOP)


def test_edges_come_from_every_ordering_key(shop: Any) -> None:
    graph = dependency_graph(shop)
    assert sorted(graph.edges) == sorted([
        ("web", "api"), ("web", "cache"), ("api", "db"), ("api", "data"), ("db", "net"), ("cache", "net"),
        ("batch", "api")])
    assert graph.edges["web", "cache"]["kinds"] == {"links"}
    assert graph.edges["cache", "net"]["kinds"] == {"pid", "ipc"}
    assert graph.edges["db", "net"]["kinds"] == {"network_mode"}
    assert graph.edges["api", "data"]["kinds"] == {"volumes_from"}
    assert "legacy" not in graph  # container:legacy is not a service


def test_edges_carry_condition_restart_and_required(shop: Any) -> None:
    graph = dependency_graph(shop)
    assert graph.edges["web", "api"] | {} == {"kinds": {"depends_on"}, "condition": "service_healthy",
                                              "restart": True, "required": True}
    assert graph.edges["batch", "api"]["required"] is False
    assert graph.edges["batch", "api"]["condition"] == "service_completed_successfully"
    assert graph.edges["api", "data"]["restart"] is False  # volumes_from does not restart with its source
    assert graph.edges["web", "cache"]["restart"] is True  # links do


def test_explicit_depends_on_decides_attributes_and_kinds_accumulate() -> None:
    doc = {"services": {"web": {"depends_on": {"db": dep("service_healthy", required=False)}, "links": ["db"],
                                "volumes_from": ["service:db"]}, "db": {}}}
    attrs = dependency_graph(doc).edges["web", "db"]
    assert attrs["kinds"] == {"depends_on", "links", "volumes_from"}
    assert (attrs["condition"], attrs["restart"], attrs["required"]) == ("service_healthy", False, False)


def test_short_depends_on_list_means_started_and_required() -> None:
    attrs = dependency_graph({"services": {"web": {"depends_on": ["db"]}, "db": {}}}).edges["web", "db"]
    assert (attrs["condition"], attrs["required"]) == ("service_started", True)


def test_startup_and_shutdown_orders(shop: Any) -> None:
    graph = dependency_graph(shop)
    order = startup_order(graph)
    assert order == ["data", "net", "cache", "db", "api", "batch", "web"]
    assert all(order.index(d) < order.index(s) for s, d in graph.edges)
    assert shutdown_order(graph) == ["batch", "web", "api", "cache", "data", "db", "net"]
    assert startup_levels(graph) == [["data", "net"], ["cache", "db"], ["api"], ["batch", "web"]]


def test_dependents_and_dependencies(shop: Any) -> None:
    graph = dependency_graph(shop)
    assert dependents_of(graph, "db") == ["api", "batch", "web"]
    assert dependents_of(graph, "db", transitive=False) == ["api"]
    assert dependencies_of(graph, "web") == ["api", "cache", "data", "db", "net"]
    assert dependencies_of(graph, "api", transitive=False) == ["data", "db"]
    assert with_dependencies(graph, ["api"]) == ["data", "net", "db", "api"]
    with pytest.raises(PlanError, match="no such service: nope"):
        dependents_of(graph, "nope")


@pytest.mark.parametrize(("services", "cycle"), [
    ({"a": {"depends_on": {"a": dep()}}}, ["a", "a"]),
    ({"a": {"depends_on": {"b": dep()}}, "b": {"depends_on": {"a": dep()}}}, ["a", "b", "a"]),
    ({"service1": {"depends_on": {"service2": dep()}}, "service2": {"depends_on": {"service3": dep()}},
      "service3": {"depends_on": {"service1": dep()}}}, ["service1", "service2", "service3", "service1"]),
    # compose-go's graph_test: B -> D -> C -> B, found from A in name order
    ({"A": {"depends_on": {"B": dep()}}, "B": {"depends_on": {"D": dep()}}, "C": {"depends_on": {"B": dep()}},
      "D": {"depends_on": {"C": dep()}}}, ["B", "D", "C", "B"]),
    ({"web": {"links": ["api:a"]}, "api": {"network_mode": "service:web"}}, ["api", "web", "api"]),
    ({"web": {"volumes_from": ["api"]}, "api": {"ipc": "service:web"}}, ["api", "web", "api"]),
    ({"a": {"depends_on": {"b": dep()}}, "b": {"depends_on": {"c": dep(required=False)}}}, None),
    ({"a": {"volumes_from": ["container:a"]}}, None),
])
def test_find_cycle_on_plain_services(services: dict[str, Any], cycle: list[str] | None) -> None:
    assert find_cycle(services) == cycle


def test_a_cycle_in_a_model_is_a_plan_error_naming_it() -> None:
    doc = {"name": "p", "services": {"web": {"depends_on": {"api": dep()}}, "api": {"depends_on": {"web": dep()}}}}
    with pytest.raises(PlanError, match=r"^dependency cycle detected: api -> web -> api$"):
        dependency_graph(Project.from_dict(doc))
    assert cycle_message(["a", "b", "a"]) == "dependency cycle detected: a -> b -> a"


def test_missing_dependencies_are_dropped_when_optional_and_refused_when_required() -> None:
    optional = {"services": {"web": {"depends_on": {"db": dep(required=False)}}}}
    assert list(dependency_graph(optional).edges) == []
    required = {"services": {"web": {"depends_on": {"db": dep()}}}}
    with pytest.raises(PlanError, match='service "web" depends on undefined service "db"'):
        dependency_graph(required)
    with pytest.raises(PlanError, match=r'service "db" is required by "web" but is disabled\. '
                                        r"Can be enabled by profiles \[dev test\]"):
        dependency_graph(required, disabled={"db": ["dev", "test"]})


def test_find_cycle_is_fast_on_a_wide_diamond_lattice() -> None:
    # 30 layers of 30 services, each depending on the whole next layer: exponential without memoization
    services = {f"s{i}_{j}": {"depends_on": {f"s{i + 1}_{k}": dep() for k in range(30)} if i < 29 else {}}
                for i in range(30) for j in range(30)}
    assert find_cycle(services) is None


# -- `stackctl compose graph` renderings (pure functions of the graph) -------------------------------

def test_text_lists_services_in_startup_order_with_each_condition() -> None:
    text = render(dependency_graph(Project.from_dict(SHOP)), fmt="text", name="shop")
    assert text.splitlines() == [
        "shop: 7 services, in startup order",
        "data",
        "net",
        "cache  -> net (service_started, restart; via ipc, pid)",
        "db     -> net (service_started, restart; via network_mode)",
        "api    -> data (service_started; via volumes_from)",
        "       -> db (service_healthy)",
        "batch  -> api (service_completed_successfully, optional)",
        "web    -> api (service_healthy, restart)",
        "       -> cache (service_started, restart; via links)",
    ]


def test_dot_has_every_service_and_a_labelled_edge_per_dependency() -> None:
    dot = render(dependency_graph(SHOP), fmt="dot", name="shop").splitlines()
    assert dot[0] == 'digraph "shop" {' and dot[-1] == "}"
    assert '  "web" -> "api" [label="service_healthy, restart"];' in dot
    assert '  "batch" -> "api" [label="service_completed_successfully, optional", style=dashed];' in dot
    assert sum("->" in line for line in dot) == 7
    assert all(f'  "{name}";' in dot for name in SHOP["services"])


def test_mermaid_is_a_flowchart_with_labelled_and_dotted_edges() -> None:
    lines = render(dependency_graph(SHOP), fmt="mermaid", name="shop").splitlines()
    assert "flowchart LR" in lines
    ids = {line.split("[", 1)[1].strip('"]'): line.split("[", 1)[0].strip() for line in lines if '["' in line}
    assert set(ids) == set(SHOP["services"])
    assert f'  {ids["web"]} -->|"service_healthy, restart"| {ids["api"]}' in lines
    assert f'  {ids["batch"]} -.->|"service_completed_successfully, optional"| {ids["api"]}' in lines


def test_renderings_of_a_project_without_dependencies() -> None:
    graph = dependency_graph({"services": {"solo": {"image": "x"}}})
    assert render(graph, fmt="text", name="p") == "p: 1 service, in startup order\nsolo\n"
    assert "->" not in render(graph, fmt="dot", name="p").replace("rankdir", "")


# -- every project the oracle accepted is a DAG whose edges mirror its depends_on ---------------------

def test_every_accepted_corpus_project_orders_its_services() -> None:
    expected = env.shared_dir() / "conformance" / "expected"
    checked = 0
    for path in sorted(expected.glob("*.json")):
        if path.name == "MANIFEST.json":
            continue
        doc = json.loads(path.read_text())
        graph = dependency_graph(Project.from_dict(doc))
        order = startup_order(graph)
        for name, service in doc["services"].items():
            for dep, entry in (service.get("depends_on") or {}).items():
                if dep not in doc["services"]:  # a disabled service, allowed only when not required
                    assert entry["required"] is False and not graph.has_edge(name, dep), path.name
                    continue
                attrs = graph.edges[name, dep]
                assert (attrs["condition"], attrs["restart"], attrs["required"]) == (
                    entry["condition"], entry.get("restart", False), entry["required"]), (path.name, name, dep)
                assert order.index(dep) < order.index(name), path.name
                checked += 1
    assert checked > 50


def test_find_cycle_tolerates_documents_that_are_not_valid_yet() -> None:
    services = {"a": {"depends_on": "b", "links": [1, "b"], "volumes_from": None, "network_mode": 3},
                "b": {"depends_on": ["a", None]}}
    assert find_cycle(services) == ["a", "b", "a"]


# -- the real command ----------------------------------------------------------------------------------

COMPOSE = """\
name: shop
services:
  web:
    image: nginx
    depends_on:
      api: {condition: service_healthy, restart: true}
    links: ["cache:redis"]
  api:
    build: .
    depends_on: [db]
  db: {image: postgres}
  cache: {image: redis}
  batch:
    image: job
    profiles: [jobs]
    depends_on:
      api: {condition: service_completed_successfully, required: false}
"""


def test_compose_graph_command_draws_the_loaded_project(cli: Any, tmp_path: Any) -> None:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    out = cli("compose", "graph", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [
        "shop: 4 services, in startup order",
        "cache",
        "db",
        "api    -> db (service_started)",
        "web    -> api (service_healthy, restart)",
        "       -> cache (service_started, restart; via links)",
    ]
    dot = cli("compose", "--profile", "jobs", "graph", "--format", "dot", "batch", cwd=tmp_path)
    assert dot.returncode == 0, dot.stderr
    assert '  "batch" -> "api" [label="service_completed_successfully, optional", style=dashed];' in dot.stdout
    assert '"web"' not in dot.stdout and '  "api" -> "db" [label="service_started"];' in dot.stdout


def test_compose_graph_command_names_a_cycle_without_a_traceback(cli: Any, tmp_path: Any) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, links: [a]}\n")
    out = cli("compose", "graph", "--format", "mermaid", cwd=tmp_path)
    assert out.returncode == 1 and out.stdout == ""
    assert "dependency cycle detected: a -> b -> a" in out.stderr and "Traceback" not in out.stderr
