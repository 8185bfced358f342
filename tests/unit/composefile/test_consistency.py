"""check_consistency on normalized documents: each semantic rule, every problem at once, named by path."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from stackctl.composefile.consistency import check_consistency
from tests.unit.composefile import _corpus


def _project(services: dict[str, dict[str, Any]], **top: Any) -> dict[str, Any]:
    """A normalized document: every service gets an image and the default network unless given."""
    svcs = {}
    for name, svc in services.items():
        base: dict[str, Any] = {"image": "nginx"}
        if "network_mode" not in svc:
            base["networks"] = {"default": None}
        svcs[name] = {**base, **svc}
    return {"name": "p", "networks": {"default": {"name": "p_default"}, **top.pop("networks", {})},
            "services": svcs, **top}


def _lines(doc: dict[str, Any]) -> list[str]:
    return [f"{p.path}: {p.message}" for p in check_consistency(doc, file="compose.yaml")]


CASES = [
    pytest.param(_project({"web": {"image": None}}),
                 ['services.web: service "web" has neither an image nor a build context specified'],
                 id="no-image-no-build"),
    pytest.param(_project({"web": {"image": None, "provider": {"type": "model"}}}), [], id="provider-ok"),
    pytest.param(_project({"web": {"build": {"context": "/s", "dockerfile": "D", "dockerfile_inline": "FROM x"}}}),
                 ['services.web.build: service "web" declares mutually exclusive dockerfile and dockerfile_inline'],
                 id="dockerfile-inline"),
    pytest.param(_project({"web": {"platform": "linux/riscv64",
                                   "build": {"context": "/s", "platforms": ["linux/amd64"]}}}),
                 ['services.web.platform: service.build.platforms MUST include service.platform "linux/riscv64"'],
                 id="platforms"),
    pytest.param(_project({"web": {"build": {"context": "/s", "additional_contexts": {"a": "service:db",
                                                                                     "b": "service:nope"}}},
                           "db": {}}),
                 [('services.web.build.additional_contexts.a: service "web" declares non-buildable service "db" '
                  "as additional context"),
                  ('services.web.build.additional_contexts.b: service "web" declares unknown service "nope" '
                  "as additional context")], id="additional-contexts"),
    pytest.param(_project({"web": {"network_mode": "host", "networks": {"default": None}}}),
                 ["services.web: service web declares mutually exclusive `network_mode` and `networks`"],
                 id="network-mode-and-networks"),
    pytest.param(_project({"web": {"network_mode": "service:db"}}),
                 ["services.web.network_mode: service \"db\" not found for network_mode 'service:db'"],
                 id="network-mode-service"),
    pytest.param(_project({"web": {"networks": {"back": None, "default": None}}}),
                 ['services.web.networks.back: service "web" refers to undefined network back'],
                 id="undefined-network"),
    pytest.param(_project({"web": {"volumes": [{"type": "volume", "source": "data", "target": "/d"},
                                               {"type": "volume", "target": "/anon"},
                                               {"type": "bind", "source": "/h", "target": "/h"}]}}),
                 ['services.web.volumes[0]: service "web" refers to undefined volume data'], id="undefined-volume"),
    pytest.param(_project({"web": {"secrets": [{"source": "s", "target": "/run/secrets/s"}],
                                   "configs": [{"source": "c"}],
                                   "build": {"context": "/s", "secrets": [{"source": "b"}]},
                                   "models": {"llm": None}}}),
                 ['services.web.build.secrets[0]: service "web" refers to undefined build secret b',
                  'services.web.configs[0]: service "web" refers to undefined config c',
                  'services.web.models.llm: service "web" refers to undefined model llm',
                  'services.web.secrets[0]: service "web" refers to undefined secret s'], id="undefined-grants"),
    pytest.param(_project({"web": {"depends_on": {"db": {"condition": "service_started", "required": True}}}}),
                 ['services.web.depends_on.db: service "web" depends on undefined service "db"'],
                 id="undefined-dependency"),
    pytest.param(_project({"web": {"scale": 2, "deploy": {"replicas": 3}}}),
                 ["services.web: can't set distinct values on 'scale' and 'deploy.replicas'"], id="scale-replicas"),
    pytest.param(_project({"web": {"scale": -1}}), ["services.web.scale: must be greater than or equal to 0"],
                 id="negative-scale"),
    pytest.param(_project({"web": {"container_name": "web", "scale": 2}}),
                 ["services.web: can't set container_name and scale as container name must be unique"],
                 id="container-name-scale"),
    pytest.param(_project({"web": {"container_name": "web", "deploy": {"replicas": 2}}}),
                 ["services.web: can't set container_name and deploy.replicas as container name must be unique"],
                 id="container-name-replicas"),
    pytest.param(_project({"a": {"container_name": "same"}, "b": {"container_name": "same"}}),
                 ['services.b.container_name: container name "same" is already in use by service "a"'],
                 id="container-name-unique"),
    pytest.param(_project({"web": {"cpus": 0.5, "deploy": {"resources": {"limits": {"memory": "1073741824"}}}}}),
                 ["services.web: can't set distinct values on 'cpus' and 'deploy.resources.limits.cpus'"],
                 id="cpus-vs-missing-limit"),
    pytest.param(_project({"web": {"mem_limit": "1073741824", "pids_limit": 10, "mem_reservation": "1g",
                                   "deploy": {"resources": {"limits": {"memory": "1g", "pids": 10},
                                                            "reservations": {"memory": "1073741824"}}}}}),
                 [], id="same-resources-in-other-units"),
    pytest.param(_project({"web": {"mem_limit": "2g", "deploy": {"resources": {"limits": {"memory": "1g"}}}}}),
                 ["services.web: can't set distinct values on 'mem_limit' and 'deploy.resources.limits.memory'"],
                 id="mem-limit"),
    pytest.param(_project({"web": {"tmpfs": ["/t:size=1"], "volumes": [{"type": "bind", "source": "/a", "target": "/t"},
                                                                        {"type": "tmpfs", "target": "/u"},
                                                                        {"type": "tmpfs", "target": "/u"}]}}),
                 ["services.web.volumes[0]: target /t already mounted as services.web.tmpfs[0]",
                  "services.web.volumes[2]: target /u already mounted as services.web.volumes[1]"],
                 id="duplicate-mounts"),
    pytest.param(_project({"web": {"volumes": [{"type": "bind", "target": "/a"}, {"type": "volume", "source": ""}]}}),
                 ['services.web.volumes[0]: invalid mount config for type "bind": field Source must not be empty',
                  "services.web.volumes[1]: volume is missing a mount target"], id="incomplete-mounts"),
    pytest.param(_project({"web": {"healthcheck": {"test": ["curl", "-f", "x"]}}}),
                 ['services.web.healthcheck.test: must start either by "CMD", "CMD-SHELL" or "NONE"'],
                 id="healthcheck-prefix"),
    pytest.param(_project({"web": {"develop": {"watch": [{"path": "", "action": "sync"},
                                                         {"path": "./src", "action": "rebuild"}]}}}),
                 ["services.web.develop.watch[0]: target is required for non-rebuild actions",
                  "services.web.develop.watch[0].path: value can't be blank"], id="develop-watch"),
    pytest.param(_project({"web": {"ports": [{"target": 80, "host_ip": "localhost"}, {"target": 81, "host_ip": "::1"}],
                                   "gpus": [{"count": 1, "device_ids": ["0"]}]}}),
                 ['services.web.gpus[0]: "count" and "device_ids" attributes are exclusive',
                  "services.web.ports[0]: invalid ip address: localhost"], id="host-ip-and-devices"),
    pytest.param(_project({"web": {}}, volumes={"v": {"name": "v", "external": True, "driver": "local"}}),
                 ['volumes.v.driver: conflicting parameters "external" and "driver" specified'],
                 id="external-volume"),
    pytest.param(_project({"web": {}}, networks={"n": {"name": "n", "external": True, "driver": "overlay"}}),
                 [], id="external-network-with-driver-is-accepted"),
    pytest.param(_project({"web": {}}, secrets={"a": {"file": "/f", "environment": "E"}, "b": {"name": "b"},
                                                "c": {"driver": "vault"}, "d": {"external": True}},
                          configs={"k": {"content": "x", "file": "/f"}}),
                 ["configs.k: file|environment|content attributes are mutually exclusive",
                  "secrets.a: file|environment attributes are mutually exclusive",
                  "secrets.b: one of file|environment must be set",
                  'secrets.c: secret "c" must declare either `file` or `environment`'], id="file-objects"),
    pytest.param(_project({"a": {"depends_on": {"b": {"condition": "service_started"}}},
                           "b": {"depends_on": {"c": {"condition": "service_started"}}},
                           "c": {"depends_on": {"a": {"condition": "service_started"}}}}),
                 ["services.a.depends_on: dependency cycle detected: a -> b -> c -> a"], id="cycle"),
    pytest.param(_project({"a": {"depends_on": {"a": {"condition": "service_started"}}}}),
                 ["services.a.depends_on: dependency cycle detected: a -> a"], id="self-cycle"),
]


@pytest.mark.parametrize(("doc", "expected"), CASES)
def test_semantic_rules(doc: dict[str, Any], expected: list[str]) -> None:
    assert _lines(doc) == expected


def test_all_problems_are_reported_at_once_sorted_by_path() -> None:
    doc = _project({"web": {"image": None, "networks": {"nope": None}}, "api": {"scale": -2}},
                   secrets={"s": {}})
    assert [p.path for p in check_consistency(doc, file="c.yaml")] == [
        "secrets.s", "services.api.scale", "services.web", "services.web.networks.nope"]
    assert all(p.file == "c.yaml" for p in check_consistency(doc, file="c.yaml"))


def test_a_consistent_project_has_no_problems() -> None:
    doc = _project({"web": {"depends_on": {"db": {"condition": "service_healthy", "required": True}},
                            "volumes": [{"type": "volume", "source": "data", "target": "/d"}],
                            "secrets": [{"source": "s", "target": "/run/secrets/s"}], "scale": 2,
                            "deploy": {"replicas": 2}},
                    "db": {"healthcheck": {"test": ["CMD-SHELL", "true"]}}},
                   volumes={"data": {"name": "p_data"}}, secrets={"s": {"name": "p_s", "file": "/s"}})
    assert check_consistency(doc, file="c.yaml") == []


# --------------------------------------------------------------------------------------------------
# Against the oracle's normalized outputs


def _expected(shared: pathlib.Path, relative: str) -> dict[str, Any]:
    return dict(json.loads((shared / "conformance" / relative).read_text()))


def test_every_accepted_corpus_output_is_consistent(shared: pathlib.Path) -> None:
    cases = [c for c in _corpus.manifest(shared) if c["rc"] == 0 and "output" in c]
    assert len(cases) > 450
    wrong = {}
    for case in cases:
        doc = _expected(shared, case["output"])
        problems = [str(p) for p in check_consistency(doc, file=case["files"][0])
                    if not _printed_without_checked_part(doc, p.message)]
        if problems:
            wrong[case["name"]] = problems
    assert wrong == {}


def _printed_without_checked_part(doc: dict[str, Any], message: str) -> bool:
    """`config` prints after the check: it omits top-level models and drops services disabled by profiles
    (a `required: false` dependency on one is allowed by the check, then left dangling in the output)."""
    if "undefined model" in message:
        return "models" not in doc
    if "depends on undefined service" in message:
        return _optional_dependency(doc, message)
    return False


def _optional_dependency(doc: dict[str, Any], message: str) -> bool:
    owner, _, rest = message.removeprefix('service "').partition('" depends on undefined service "')
    dep = doc["services"][owner]["depends_on"][rest.rstrip('"')]
    return dep.get("required") is False


# The oracle's --no-consistency output dropped the unused resource the check complained about.
RESOURCE_DROPPED = {"compose-go__inline__loader__tests__template_driver__TestSecretDriver__1"}


def test_every_consistency_rejection_of_the_oracle_is_found(shared: pathlib.Path) -> None:
    checked = 0
    for case in _corpus.manifest(shared):
        retry = next((r for r in case.get("retries", []) if r["variant"] == "no-consistency" and r["rc"] == 0),
                     None)
        if retry is None or case["name"] in RESOURCE_DROPPED:
            continue
        oracle = next(line for line in case["stderr"].splitlines() if "level=warning" not in line)
        oracle = oracle.removesuffix(": invalid compose project")
        ours = [p.message for p in check_consistency(_expected(shared, retry["output"]), file="c.yaml")]
        assert any(oracle == m or m in oracle for m in ours), (case["name"], oracle, ours)
        checked += 1
    assert checked > 50
