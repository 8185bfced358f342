"""validate_schema: every error at once, sorted by path, one clear line each, with line numbers."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from stackctl.composefile.validate import format_path, validate_schema
from stackctl.errors import Problem


def _svc(**keys: Any) -> dict[str, Any]:
    return {"services": {"web": {"image": "nginx", **keys}}}


# (document, expected "path: message" lines)
CASES = [
    pytest.param(_svc(ports=[True]), ["services.web.ports[0]: must be a mapping, number or string"],
                 id="oneOf-all-types-wrong"),
    pytest.param(_svc(ports=[{"target": 80, "publishd": "8080"}]),
                 ["services.web.ports[0].publishd: unknown key 'publishd' (did you mean 'published'?)"],
                 id="oneOf-picks-the-closest-branch"),
    pytest.param(_svc(image=3), ["services.web.image: must be a string"], id="type"),
    pytest.param(_svc(init=3), ["services.web.init: must be a boolean or string"], id="interpolable-bool"),
    pytest.param(_svc(environment={"A": {"b": 1}}),
                 ["services.web.environment.A: must be a boolean, null, number or string"], id="env-value"),
    pytest.param(_svc(environment="A=1"), ["services.web.environment: must be a list or mapping"],
                 id="env-shape"),
    pytest.param(_svc(depends_on={"db": {"restart": True}}),
                 ["services.web.depends_on.db: missing required key 'condition'"], id="required"),
    pytest.param(_svc(depends_on={"db": {"condition": "started"}}),
                 [("services.web.depends_on.db.condition: must be one of 'service_started', 'service_healthy', "
                  "'service_completed_successfully' (got 'started')")], id="enum"),
    pytest.param(_svc(cgroup="shared"), ["services.web.cgroup: must be one of 'host', 'private' (got 'shared')"],
                 id="cgroup"),
    pytest.param(_svc(cpu_percent=101), ["services.web.cpu_percent: must be less than or equal to 100"],
                 id="maximum"),
    pytest.param(_svc(volumes=[{"type": "tmpfs", "target": "/t", "tmpfs": {"size": -1}}]),
                 ["services.web.volumes[0].tmpfs.size: must be greater than or equal to 0"], id="minimum"),
    pytest.param(_svc(volumes=[{"type": "disk", "target": "/t"}]),
                 [("services.web.volumes[0].type: must be one of 'bind', 'volume', 'tmpfs', 'cluster', 'npipe', "
                  "'image' (got 'disk')")], id="volume-type"),
    pytest.param(_svc(cap_add=["NET_ADMIN", "NET_ADMIN"]),
                 ["services.web.cap_add: must not contain duplicates ('NET_ADMIN' repeated)"], id="unique"),
    pytest.param(_svc(gpus="some"), ["services.web.gpus: must be a list or 'all'"], id="const"),
    pytest.param(_svc(container_name="-"), [("services.web.container_name: '-' is not valid (must match "
                                            "[a-zA-Z0-9][a-zA-Z0-9_.-]+)")], id="pattern"),
    pytest.param(_svc(develop={"watch": [{"path": "./src"}]}),
                 ["services.web.develop.watch[0]: missing required key 'action'"], id="develop-action"),
    pytest.param(_svc(deploy={"resources": {"reservations": {"devices": [{"count": 1}]}}}),
                 ["services.web.deploy.resources.reservations.devices[0]: missing required key 'capabilities'"],
                 id="device-capabilities"),
    pytest.param({"services": {"web": None}}, ["services.web: must be a mapping"], id="service-null"),
    pytest.param({"services": []}, ["services: must be a mapping"], id="services-list"),
    pytest.param({"name": 1}, ["name: must be a string"], id="project-name"),
    pytest.param({"networks": {"n": "bridge"}}, ["networks.n: must be a mapping or null"], id="network"),
    pytest.param({"secrets": {"s": {"file": "f", "content": "x"}}},
                 ["secrets.s.content: unknown key 'content'"], id="secret-content"),
    pytest.param({"models": {"m": {"context_size": 10}}}, ["models.m: missing required key 'model'"], id="model"),
    pytest.param(["a"], [": must be a mapping"], id="root-not-a-mapping"),
    pytest.param({1: "a"}, [": non-string key: 1"], id="non-string-key"),
]


@pytest.mark.parametrize(("doc", "expected"), CASES)
def test_messages_name_the_path_and_say_what_is_wrong(doc: Any, expected: list[str]) -> None:
    assert [f"{p.path}: {p.message}" for p in validate_schema(doc, file="c.yaml")] == expected


@pytest.mark.parametrize("doc", [
    {},
    {"services": {"web": {"image": "nginx", "ports": ["8080:80", 90, {"target": 80, "published": "${P}"}]}}},
    {"services": {"web": {"build": ".", "restart": "no", "scale": "${N:-1}", "deploy": None, "develop": None}}},
    {"services": {"w": {"image": "x", "networks": {"a": None, "b": {"aliases": ["x"]}}, "models": {"m": None}}}},
    {"volumes": {"v": None}, "networks": {"n": None}, "configs": {"c": {"content": "x"}}, "x-any": [1]},
    {"services": {"w": {"image": "x", "command": None, "entrypoint": ["a"], "healthcheck": {"test": "true"}}}},
])
def test_valid_documents_have_no_problems(doc: Any) -> None:
    assert validate_schema(doc, file="c.yaml") == []


def test_all_errors_come_at_once_sorted_by_path_with_index_order() -> None:
    ports = [[i] for i in range(12)]
    doc = {"volumes": {"v": 1}, "services": {"web": {"image": 1, "ports": ports}, "api": {"tty": []}}}
    paths = [p.path for p in validate_schema(doc, file="c.yaml")]
    assert paths == ["services.api.tty", "services.web.image"] + [f"services.web.ports[{i}]" for i in range(12)] \
        + ["volumes.v"]


def test_line_numbers_come_from_the_nearest_known_key_path() -> None:
    lines = {("services",): 1, ("services", "web"): 2, ("services", "web", "ports"): 4,
             ("services", "web", "ports", 1): 6}
    doc = _svc(ports=["80", True], imagee="x")
    problems = validate_schema(doc, file="compose.yaml", lines=lines)
    assert problems == [
        Problem("compose.yaml", "services.web.imagee", "unknown key 'imagee' (did you mean 'image'?)", 2),
        Problem("compose.yaml", "services.web.ports[1]", "must be a mapping, number or string", 6),
    ]
    assert str(problems[1]) == "compose.yaml:6: services.web.ports[1]: must be a mapping, number or string"


def test_format_path() -> None:
    assert format_path(("services", "web", "ports", 0, "target")) == "services.web.ports[0].target"
    assert format_path(()) == ""


def test_importing_the_module_does_not_import_jsonschema() -> None:
    code = "import sys, stackctl.composefile.validate; print('jsonschema' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
