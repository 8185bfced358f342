"""The frozen model: exact round-trip over the oracle's outputs, typed access, helpers, errors."""

from __future__ import annotations

import dataclasses
import json
import pickle
import typing
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from stackctl.errors import SpecError, UsageError
from stackctl.model import (
    Dependency,
    FrozenMap,
    Mount,
    Network,
    NetworkAttachment,
    Port,
    Project,
    Service,
    Ulimit,
)
from tests.support import env

MISSING = "<corpus missing>"


def _corpus_cases() -> list[str]:
    """Every JSON document the oracle printed (expected/ and its variant folders), relative names."""
    shared = env.shared_or_none()
    if shared is None:
        return [MISSING]  # one case, which skips (or fails in CI) with the corpus' skip line
    root = shared / "conformance" / "expected"
    return sorted(str(p.relative_to(root)) for p in root.rglob("*.json") if p.name != "MANIFEST.json")


def _canonical(doc: Any) -> str:
    """JSON text that tells 1 from 1.0 from true and null from absent (key order ignored)."""
    return json.dumps(doc, sort_keys=True)


@pytest.mark.parametrize("case", _corpus_cases())
def test_every_oracle_output_round_trips_exactly(case: str) -> None:
    path = env.shared_dir() / "conformance" / "expected" / case
    assert path.is_file()
    doc = json.loads(path.read_text())
    project = Project.from_dict(doc, file=case)
    assert _canonical(project.to_dict()) == _canonical(doc)
    assert project == Project.from_dict(doc) and hash(project) == hash(Project.from_dict(doc))
    assert set(project.services) == set(doc["services"])
    assert all(project.service(n).name == n for n in doc["services"])


def test_corpus_is_large_enough_to_mean_something() -> None:
    env.shared_dir()
    cases = _corpus_cases()
    assert MISSING not in cases and len(cases) > 1000


DOC: dict[str, Any] = {
    "name": "shop",
    "services": {
        "web": {
            "image": "nginx:1.27", "command": ["nginx", "-g", "daemon off;"], "entrypoint": None,
            "ports": [{"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp"}],
            "volumes": [{"type": "volume", "source": "data", "target": "/data", "volume": {"nocopy": True}}],
            "depends_on": {"api": {"condition": "service_healthy", "restart": True, "required": True}},
            "networks": {"default": None, "front": {"aliases": ["www"], "ipv4_address": "10.0.0.2"}},
            "environment": {"A": "1", "B": None},
            "ulimits": {"nofile": {"soft": 1024, "hard": 2048}, "nproc": 65535},
            "deploy": {"replicas": 3, "resources": {"limits": {"cpus": 0.5, "memory": "1073741824"}}},
            "x-shop": {"team": ["a", "b"]},
        },
        "api": {"build": {"context": "/src/api", "dockerfile": "Dockerfile"}, "scale": 2,
                "command": None, "entrypoint": None},
        "worker": {"image": "busybox", "command": None, "entrypoint": None,
                   "deploy": {"replicas": 0}},
    },
    "networks": {"default": {"name": "shop_default", "ipam": {}}, "front": {"name": "shop_front", "ipam": {}}},
    "volumes": {"data": {"name": "shop_data"}},
    "x-top": {"k": [1, {"z": None}]},
}


def test_typed_access_to_a_service() -> None:
    web = Project.from_dict(DOC).service("web")
    assert web.ports == (Port(mode="ingress", target=80, published="8080", protocol="tcp"),)
    assert isinstance(web.volumes[0], Mount) and web.volumes[0].volume is not None
    assert web.volumes[0].volume.nocopy is True
    assert web.depends_on["api"] == Dependency(condition="service_healthy", restart=True, required=True)
    assert web.networks["default"] is None
    assert web.networks["front"] == NetworkAttachment(aliases=("www",), ipv4_address="10.0.0.2")
    assert web.environment == {"A": "1", "B": None}
    assert web.ulimits == {"nofile": Ulimit(soft=1024, hard=2048), "nproc": Ulimit(single=65535)}
    assert web.deploy is not None and web.deploy.resources is not None
    assert web.deploy.resources.limits is not None and web.deploy.resources.limits.cpus == 0.5
    assert web.command == ("nginx", "-g", "daemon off;") and web.entrypoint is None
    assert web.extensions == {"x-shop": {"team": ("a", "b")}}


def test_extensions_are_kept_at_top_level_and_in_services() -> None:
    out = Project.from_dict(DOC).to_dict()
    assert out["x-top"] == {"k": [1, {"z": None}]}
    assert out["services"]["web"]["x-shop"] == {"team": ["a", "b"]}


@pytest.mark.parametrize(("service", "replicas"), [("web", 3), ("api", 2), ("worker", 0)])
def test_replicas_come_from_scale_then_deploy_then_one(service: str, replicas: int) -> None:
    assert Project.from_dict(DOC).service(service).replicas == replicas
    assert Service(name="x").replicas == 1
    assert Service(name="x", scale=4, deploy=None).replicas == 4


def test_image_name_defaults_to_project_dash_service_for_build_only_services() -> None:
    project = Project.from_dict(DOC)
    assert project.service("web").image_name(project) == "nginx:1.27"
    assert project.service("api").image_name(project) == "shop-api"
    assert project.service("api").image_name("other") == "other-api"


def test_unknown_service_is_a_clear_error_naming_the_known_ones() -> None:
    with pytest.raises(UsageError, match=r"no such service: db \(services: api, web, worker\)"):
        Project.from_dict(DOC).service("db")


def test_the_model_is_deeply_immutable_and_hashable() -> None:
    project = Project.from_dict(DOC)
    with pytest.raises(dataclasses.FrozenInstanceError):
        project.service("web").image = "other"  # type: ignore[misc]
    with pytest.raises(TypeError):
        project.services["web"].environment["A"] = "2"  # type: ignore[index]
    assert isinstance(project.services, FrozenMap) and isinstance(project.service("web").ports, tuple)
    assert not hasattr(project.service("web"), "__dict__")
    assert len({project, Project.from_dict(DOC)}) == 1
    assert pickle.loads(pickle.dumps(project)) == project  # e.g. handed to a worker process


def test_command_keeps_null_absent_and_empty_apart() -> None:
    base = {"name": "p", "services": {"a": {"image": "x"}, "b": {"image": "x", "command": None},
                                      "c": {"image": "x", "command": []}}}
    services = Project.from_dict(base).to_dict()["services"]
    assert "command" not in services["a"]
    assert services["b"]["command"] is None and services["c"]["command"] == []
    assert Service(name="s", image="x").to_dict() == {"image": "x", "command": None, "entrypoint": None}


def test_a_null_top_level_network_reads_as_an_empty_one() -> None:
    project = Project.from_dict({"name": "p", "services": {}, "networks": {"front": None}})
    assert project.networks["front"] == Network()


@pytest.mark.parametrize(("service", "path", "message"), [
    ({"ports": [{"target": "80"}]}, "services.web.ports[0].target", "must be an integer"),
    ({"ports": [{"target": True}]}, "services.web.ports[0].target", "must be an integer"),
    ({"privileged": "yes"}, "services.web.privileged", "must be a boolean"),
    ({"environment": ["A=1"]}, "services.web.environment", "must be a mapping"),
    ({"volumes": [{"type": "bind", "bogus": 1}]}, "services.web.volumes[0].bogus", "unknown key 'bogus'"),
    ({"ulimits": {"nofile": "many"}}, "services.web.ulimits.nofile", "must be a mapping"),
    ({"imagee": "x"}, "services.web.imagee", "unknown key 'imagee' for Service"),
])
def test_a_document_that_does_not_fit_the_model_names_file_and_path(
        service: dict[str, Any], path: str, message: str) -> None:
    with pytest.raises(SpecError) as err:
        Project.from_dict({"name": "p", "services": {"web": service}}, file="compose.yaml")
    (problem,) = err.value.problems
    assert problem.file == "compose.yaml" and problem.path == path and message in problem.message


def test_models_built_in_code_print_like_the_oracle() -> None:
    svc = Service(image="nginx", ports=(Port(target=80, published="8080", protocol="tcp"),),
                  networks=FrozenMap({"default": None}))
    project = Project(name="p", services=FrozenMap({"web": svc}))
    assert project.service("web").name == "web" and project.service("web").image_name(project) == "nginx"
    assert project.to_dict() == {"name": "p", "services": {"web": {
        "image": "nginx", "command": None, "entrypoint": None, "networks": {"default": None},
        "ports": [{"target": 80, "published": "8080", "protocol": "tcp"}]}}}
    assert Project.from_dict(project.to_dict()) == project


# -- the model covers every key of our JSON schema ---------------------------------------------------

NOT_IN_NORMALIZED = {"version", "include"}  # consumed by the loader, never in a normalized document


def _resolve(schema: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = (schema.get("$defs") or schema["definitions"])[node["$ref"].rsplit("/", 1)[-1]]
    return node


def _alternatives(schema: dict[str, Any], node: dict[str, Any]) -> list[dict[str, Any]]:
    node = _resolve(schema, node)
    alts = [a for k in ("oneOf", "anyOf") for alt in node.get(k, []) for a in _alternatives(schema, alt)]
    return [node, *alts]


def _model_class(hint: Any) -> tuple[str, Any] | None:
    """(how it nests, model class) for a field type: 'obj', 'list' or 'map'; None for scalars."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if dataclasses.is_dataclass(hint):
        return ("obj", hint)
    if origin is tuple:
        inner = _model_class(args[0])
        return ("list", inner) if inner else None
    if origin is Mapping:
        inner = _model_class(args[1])
        return ("map", inner) if inner else None
    return next((found for a in args if (found := _model_class(a))), None)


def _uncovered(schema: dict[str, Any], node: dict[str, Any], cls: Any, path: str) -> Iterator[str]:
    hints = typing.get_type_hints(cls)
    known = {f.metadata.get("name") or f.name: f.name for f in dataclasses.fields(cls)}
    known.update({a.lower(): known[a] for a in list(known) if a[:1].isupper()})  # blkio Path/Rate
    for alt in _alternatives(schema, node):
        for prop, sub in alt.get("properties", {}).items():
            if prop not in known:
                yield f"{path}.{prop}"
            elif (nested := _model_class(hints[known[prop]])) is not None:
                yield from _nested(schema, sub, nested, f"{path}.{prop}")


def _nested(schema: dict[str, Any], node: dict[str, Any], nested: tuple[str, Any], path: str) -> Iterator[str]:
    kind, inner = nested
    if kind == "obj":
        yield from _uncovered(schema, node, inner, path)
        return
    for alt in _alternatives(schema, node):
        subs = [alt["items"]] if kind == "list" and "items" in alt else []
        if kind == "map":
            subs = [*alt.get("patternProperties", {}).values()]
            subs += [alt["additionalProperties"]] if isinstance(alt.get("additionalProperties"), dict) else []
        for sub in subs:
            yield from _nested(schema, sub, inner, path + ("[]" if kind == "list" else ".*"))


def test_every_key_of_the_compose_schema_has_a_typed_field() -> None:
    schema = json.loads((env.REPO / "schemas" / "compose.schema.json").read_text())
    missing = sorted(set(_uncovered(schema, schema, Project, "")) - {f".{k}" for k in NOT_IN_NORMALIZED})
    assert missing == []


def test_blkio_devices_read_either_spelling_and_print_the_oracle_one() -> None:
    doc = {"name": "p", "services": {"db": {"blkio_config": {"weight_device": [{"path": "/dev/sda", "weight": 3}]}}}}
    printed = Project.from_dict(doc).to_dict()["services"]["db"]["blkio_config"]
    assert printed == {"weight_device": [{"Path": "/dev/sda", "Weight": 3}]}
