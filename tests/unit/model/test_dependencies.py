"""Dependencies are read once, in the model: the same edges from the typed Service and its plain dict."""

from __future__ import annotations

from typing import Any

import pytest

from stackctl.model import Project
from stackctl.model.dependencies import (
    Edge,
    dependencies,
    dependents_map,
    find_cycle,
    service_edges,
    shared_services,
)

DOC: dict[str, Any] = {
    "name": "p",
    "services": {
        "web": {"image": "x", "depends_on": {"api": {"condition": "service_healthy", "restart": True,
                                                      "required": True}},
                "links": ["cache:redis"], "network_mode": "service:net"},
        "api": {"image": "x", "volumes_from": ["data:ro", "container:legacy"], "ipc": "service:net"},
        "cache": {"image": "x"}, "net": {"image": "x"}, "data": {"image": "x"},
    },
}


@pytest.fixture(params=["dict", "model"])
def services(request: pytest.FixtureRequest) -> Any:
    return DOC["services"] if request.param == "dict" else Project.from_dict(DOC).services


def test_every_ordering_key_makes_an_edge(services: Any) -> None:
    assert service_edges("web", services["web"]) == [
        Edge("web", "api", "depends_on", "service_healthy", True, True),
        Edge("web", "cache", "links"), Edge("web", "net", "network_mode")]
    assert service_edges("api", services["api"]) == [
        Edge("api", "net", "ipc"), Edge("api", "data", "volumes_from", restart=False)]


def test_depends_on_short_syntax_and_defaults() -> None:
    assert dependencies({"depends_on": ["db"]}, "web") == (Edge("web", "db", "depends_on", restart=False),)
    assert dependencies({"depends_on": {"db": {"required": False}}}, "web")[0].required is False


def test_shared_services_and_dependents(services: Any) -> None:
    assert shared_services(services["api"]) == ("net", "data")
    assert dependents_map(services) == {"api": {"web"}}


def test_one_cycle_finder_for_dicts_and_models() -> None:
    doc = {"name": "p", "services": {"a": {"image": "x", "depends_on": {"b": {"condition": "service_started"}}},
                                     "b": {"image": "x", "links": ["a"]}}}
    assert find_cycle(doc["services"]) == ["a", "b", "a"]
    assert find_cycle(Project.from_dict(doc).services) == ["a", "b", "a"]
    assert find_cycle(DOC["services"]) is None
