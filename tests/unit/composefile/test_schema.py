"""Our compose schema: it knows every key of the specification and agrees with the reference verdicts."""

from __future__ import annotations

import pathlib
from importlib.resources import files
from typing import Any

import pytest

from stackctl.composefile.validate import load_schema, validate_schema
from stackctl.errors import SpecError
from tests.unit.composefile import _corpus

# Compose Specification, services (research compose-spec.md section 2): all 92 keys.
SPEC_SERVICE_KEYS = [
    "image", "build", "command", "entrypoint", "working_dir", "user", "group_add", "init", "tty",
    "stdin_open", "attach", "platform", "runtime", "isolation", "pull_policy", "pull_refresh_after",
    "container_name", "hostname", "domainname", "read_only", "privileged", "stop_signal",
    "stop_grace_period", "use_api_socket", "provider", "environment", "env_file", "labels", "label_file",
    "annotations", "networks", "network_mode", "ports", "expose", "links", "external_links", "extra_hosts",
    "dns", "dns_opt", "dns_search", "mac_address", "volumes", "volumes_from", "tmpfs", "secrets", "configs",
    "depends_on", "restart", "healthcheck", "scale", "profiles", "post_start", "pre_stop", "extends",
    "deploy", "build", "develop", "models", "cpus", "cpuset", "cpu_count", "cpu_percent", "cpu_shares",
    "cpu_quota", "cpu_period", "cpu_rt_period", "cpu_rt_runtime", "mem_limit", "mem_reservation",
    "mem_swappiness", "memswap_limit", "pids_limit", "shm_size", "blkio_config", "storage_opt", "ulimits",
    "oom_kill_disable", "oom_score_adj", "cap_add", "cap_drop", "security_opt", "credential_spec",
    "devices", "device_cgroup_rules", "gpus", "sysctls", "ipc", "pid", "uts", "userns_mode", "cgroup",
    "cgroup_parent", "logging"
]
SPEC_TOP_LEVEL_KEYS = ["version", "name", "include", "services", "networks", "volumes", "secrets", "configs",
                       "models"]


def _problems(doc: Any) -> list[str]:
    return [f"{p.path}: {p.message}" for p in validate_schema(doc, file="compose.yaml")]


def test_schema_is_valid_draft_2020_12_and_ships_in_the_package() -> None:
    from jsonschema import Draft202012Validator

    packaged = files("stackctl._schemas").joinpath("compose.schema.json")
    assert packaged.is_file(), "schemas/ must be importable as stackctl._schemas (pyproject package-data)"
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"].endswith("2020-12/schema")


def test_schema_lists_exactly_the_92_service_keys_of_the_spec() -> None:
    assert len(set(SPEC_SERVICE_KEYS)) == 92
    assert set(load_schema()["$defs"]["service"]["properties"]) == set(SPEC_SERVICE_KEYS)


@pytest.mark.parametrize("key", sorted(set(SPEC_SERVICE_KEYS)))
def test_every_spec_service_key_is_accepted_as_a_key(key: str) -> None:
    problems = _problems({"services": {"web": {"image": "x", key: None}}})
    assert not [p for p in problems if "unknown key" in p]


@pytest.mark.parametrize("key", SPEC_TOP_LEVEL_KEYS)
def test_every_top_level_key_is_known(key: str) -> None:
    assert not [p for p in _problems({key: None}) if "unknown key" in p]


def test_unknown_keys_are_rejected_at_every_level() -> None:
    doc = {
        "servics": {},
        "services": {"web": {"image": "x", "imagee": "y", "build": {"contxt": "."},
                             "deploy": {"resources": {"limits": {"memroy": "1g"}}}}},
        "volumes": {"data": {"drivr": "local"}},
    }
    assert _problems(doc) == [
        "services.web.build.contxt: unknown key 'contxt' (did you mean 'context'?)",
        "services.web.deploy.resources.limits.memroy: unknown key 'memroy' (did you mean 'memory'?)",
        "services.web.imagee: unknown key 'imagee' (did you mean 'image'?)",
        "servics: unknown key 'servics' (did you mean 'services'?)",
        "volumes.data.drivr: unknown key 'drivr' (did you mean 'driver'?)",
    ]


@pytest.mark.parametrize("where", [
    {"x-top": {"anything": [1]}},
    {"services": {"web": {"image": "x", "x-svc": 1}}},
    {"services": {"web": {"build": {"context": ".", "x-b": 1}}}},
    {"services": {"web": {"image": "x", "deploy": {"x-d": 1, "resources": {"x-r": 1}}}}},
    {"services": {"web": {"image": "x", "ports": [{"target": 80, "x-p": 1}]}}},
    {"networks": {"n": {"x-n": 1}}},
    {"secrets": {"s": {"file": "f", "x-s": True}}},
])
def test_x_extensions_are_allowed_where_the_spec_allows_them(where: dict[str, Any]) -> None:
    assert _problems(where) == []


@pytest.mark.parametrize("doc", [
    {"include": [{"path": "a.yaml", "x-i": 1}]},
    {"services": {"web": {"image": "x", "extends": {"service": "b", "x-e": 1}}}},
    {"services": {"web": {"image": "x", "blkio_config": {"x-b": 1}}}},
])
def test_x_extensions_are_refused_where_the_spec_has_no_escape(doc: dict[str, Any]) -> None:
    assert any("unknown key 'x-" in p for p in _problems(doc))


@pytest.mark.parametrize(("section", "accepted"), [
    ("services", False), ("volumes", False), ("secrets", False), ("configs", False), ("networks", True),
])
def test_resource_names_must_match_the_name_pattern(section: str, accepted: bool) -> None:
    body = {"image": "x"} if section == "services" else ({"file": "f"} if section in ("secrets", "configs") else {})
    problems = _problems({section: {"bad name": body}})
    if accepted:  # the reference schema does not restrict network names (the oracle accepts them)
        assert problems == []
    else:
        assert problems == [f"{section}.bad name: invalid name 'bad name': must match ^[a-zA-Z0-9._-]+$"]


# --------------------------------------------------------------------------------------------------
# Verdicts on the conformance corpus (raw YAML of single-file cases)

# Accepted by the oracle only because compose-go de-duplicates ports/volumes BEFORE schema validation
# (override.EnforceUnicity); our validator sees the raw list, where the schema says uniqueItems.
DEDUPLICATED_BEFORE_VALIDATION = {
    "compose-go__inline__override__uncity__Test_PortsLongtUnicity__1",
    "compose-go__inline__override__uncity__Test_PortsShortUnicity__1",
}


def _single_file_cases(shared: pathlib.Path, *, accepted: bool) -> list[dict[str, Any]]:
    cases = [c for c in _corpus.manifest(shared) if len(c["files"]) == 1]
    if accepted:
        return [c for c in cases if c["rc"] == 0]
    return [c for c in cases if c.get("reject_category") == "schema validation"]


def _verdicts(shared: pathlib.Path, case: dict[str, Any]) -> list[str]:
    path = shared / "conformance" / case["files"][0]
    out: list[str] = []
    for doc in _corpus.raw_documents(path):
        out.extend(str(p) for p in validate_schema(doc, file=case["files"][0]))
    return out


def test_every_accepted_corpus_file_validates(shared: pathlib.Path) -> None:
    cases = _single_file_cases(shared, accepted=True)
    assert len(cases) > 400
    wrong, unreadable = {}, []
    for case in cases:
        try:
            problems = _verdicts(shared, case)
        except SpecError:  # refused by the YAML layer (e.g. an alias bomb guard): not a schema verdict
            unreadable.append(case["name"])
            continue
        if case["name"] in DEDUPLICATED_BEFORE_VALIDATION:
            assert problems and all("must not contain duplicates" in p for p in problems), problems
        elif problems:
            wrong[case["name"]] = problems
    assert wrong == {}
    assert len(unreadable) <= 2, unreadable


def test_every_schema_rejection_of_the_oracle_is_rejected(shared: pathlib.Path) -> None:
    cases = _single_file_cases(shared, accepted=False)
    assert len(cases) >= 30
    missed = [case["name"] for case in cases if not _verdicts(shared, case)]
    assert missed == []
