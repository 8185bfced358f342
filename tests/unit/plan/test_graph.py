"""The dependency graph: edges from every key that orders services, cycles named as compose-go does."""

from __future__ import annotations

from typing import Any

import pytest

from stackctl.errors import PlanError
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
from stackctl.spec.model import Project


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
