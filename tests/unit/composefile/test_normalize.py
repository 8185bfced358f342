"""What `docker compose config` adds to the merged model: defaults, names, paths, environment, types."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pytest

from stackctl.composefile.canonical import canonicalize
from stackctl.composefile.normalize import drop_unused_resources, normalize
from stackctl.composefile.serialize import to_json
from stackctl.errors import SpecError

ENV = {"HOME": "/home/u", "FOO": "from-env", "ARG": "a1"}


class FakeEnvFiles:
    """``read_env_file`` over an in-memory tree of env files (the real reader is engineer B's)."""

    def __init__(self, files: dict[str, dict[str, str | None]]) -> None:
        self.files = files
        self.calls: list[tuple[str, Mapping[str, str], str | None]] = []

    def __call__(self, path: str, *, lookup: Mapping[str, str], required: bool = True,
                 fmt: str | None = None) -> dict[str, str | None]:
        self.calls.append((path, lookup, fmt))
        if path not in self.files:
            if required:
                raise SpecError(f"env file {path} not found")
            return {}
        return dict(self.files[path])


def run(doc: dict[str, Any], *, env_files: dict[str, dict[str, str | None]] | None = None,
        **options: Any) -> dict[str, Any]:
    options.setdefault("resolve_env", True)
    return normalize(canonicalize(doc, file="compose.yaml"), project_name="proj", working_dir="/p",
                     environment=ENV, read_env_file=FakeEnvFiles(env_files or {}), **options)


def web(doc: dict[str, Any], **options: Any) -> dict[str, Any]:
    return run(doc, **options)["services"]["web"]


def test_minimal_service_gets_default_network_and_null_command() -> None:
    doc = run({"services": {"web": {"image": "nginx"}}})
    assert doc == {
        "name": "proj",
        "services": {"web": {"command": None, "entrypoint": None, "image": "nginx",
                             "networks": {"default": None}}},
        "networks": {"default": {"name": "proj_default", "ipam": {}}},
    }


def test_no_default_network_for_network_mode_or_explicit_networks() -> None:
    doc = run({"services": {"a": {"image": "x", "network_mode": "host"},
                            "b": {"image": "x", "networks": ["back"]}},
               "networks": {"back": None}})
    assert "networks" not in doc["services"]["a"]
    assert doc["networks"] == {"back": {"name": "proj_back", "ipam": {}}}


def test_resource_names_external_and_explicit() -> None:
    doc = run({"services": {"web": {"image": "x", "volumes": ["va:/a", "vb:/b", "vc:/c"]}},
               "volumes": {"va": None, "vb": {"external": True}, "vc": {"name": "given"}}})
    assert doc["volumes"] == {"va": {"name": "proj_va"}, "vb": {"name": "vb", "external": True},
                              "vc": {"name": "given"}}


def test_one_letter_source_reads_as_a_windows_drive_like_compose_go() -> None:
    volume = web({"services": {"web": {"image": "x", "volumes": ["a:/a"]}}})["volumes"][0]
    assert volume == {"type": "volume", "target": "a:/a", "volume": {}}


def test_unused_resources_are_dropped_unless_asked() -> None:
    source = {"services": {"web": {"image": "x"}}, "volumes": {"unused": None}, "secrets": {"s": {"file": "s"}}}
    assert "volumes" not in run(source) and "secrets" not in run(source)
    kept = run(source, drop_unused=False)
    assert kept["volumes"] == {"unused": {"name": "proj_unused"}}
    assert drop_unused_resources(kept).keys() == run(source).keys()


def test_implicit_depends_on_from_links_volumes_from_and_namespaces() -> None:
    doc = web({"services": {"web": {"image": "x", "links": ["db:database"], "volumes_from": ["data:ro", "container:c"],
                                    "ipc": "service:shm", "depends_on": ["cache"]},
                            "db": {"image": "x"}, "data": {"image": "x"}, "shm": {"image": "x"}, "cache": {"image": "x"}}})
    assert doc["depends_on"] == {
        "cache": {"condition": "service_started", "required": True},
        "data": {"condition": "service_started", "required": True},
        "db": {"condition": "service_started", "restart": True, "required": True},
        "shm": {"condition": "service_started", "restart": True, "required": True},
    }


def test_build_defaults_paths_and_args() -> None:
    build = web({"services": {"web": {"build": {"context": "app", "args": ["ARG", "MISSING", "SET=1"]}}}})["build"]
    assert build == {"context": "/p/app", "dockerfile": "Dockerfile", "args": {"ARG": "a1", "SET": "1"}}
    inline = web({"services": {"web": {"build": {"dockerfile_inline": "FROM x"}}}})["build"]
    assert inline == {"context": "/p", "dockerfile_inline": "FROM x"}
    remote = web({"services": {"web": {"build": "https://github.com/x/y.git"}}})["build"]
    assert remote["context"] == "https://github.com/x/y.git"


def test_paths_are_absolute_unless_resolution_is_off() -> None:
    source = {"services": {"web": {"image": "x", "volumes": ["./data:/data", "~/cfg:/cfg"],
                                   "secrets": ["s"]}},
              "secrets": {"s": {"file": "../s.txt"}}}
    doc = run(source)
    assert [v["source"] for v in doc["services"]["web"]["volumes"]] == ["/p/data", "/home/u/cfg"]
    assert doc["secrets"]["s"]["file"] == "/s.txt"
    raw = run(source, resolve_paths=False)
    assert [v["source"] for v in raw["services"]["web"]["volumes"]] == ["./data", "~/cfg"]


def test_environment_list_becomes_a_map_resolved_from_the_project() -> None:
    env = web({"services": {"web": {"image": "x", "environment": ["A=1", "B=", "FOO", "UNSET", "C=a=b"]}}})
    assert env["environment"] == {"A": "1", "B": "", "C": "a=b", "FOO": "from-env", "UNSET": None}


def test_env_file_is_folded_under_environment() -> None:
    files = {"/p/.env": {"A": "file", "B": "file", "FOO": "file"}, "/p/more.env": {"B": "more"}}
    svc = web({"services": {"web": {"image": "x", "env_file": [".env", "more.env",
                                                              {"path": "gone.env", "required": False}],
                                    "environment": {"A": "declared", "FOO": None}}}}, env_files=files)
    assert svc["environment"] == {"A": "declared", "B": "more", "FOO": "from-env"}
    assert "env_file" not in svc


def test_missing_required_env_file_is_an_error() -> None:
    with pytest.raises(SpecError, match="not found"):
        run({"services": {"web": {"image": "x", "env_file": "nope.env"}}})


def test_env_file_kept_when_environment_resolution_is_off() -> None:
    doc = run({"services": {"web": {"image": "x", "env_file": [".env", {"path": "b", "required": False}]}}},
              resolve_env=False)
    assert json.loads(to_json(doc))["services"]["web"]["env_file"] == ["/p/.env", {"path": "/p/b", "required": False}]


def test_env_file_reader_gets_format_and_a_lookup_where_the_project_wins() -> None:
    reader = FakeEnvFiles({"/p/raw.env": {"A": "'quoted'"}})
    doc = normalize(canonicalize({"services": {"web": {"image": "x", "environment": {"FOO": "mine", "B": "b"},
                                                       "env_file": [{"path": "raw.env", "format": "raw"}]}}},
                                 file="c"),
                    project_name="p", working_dir="/p", environment=ENV, read_env_file=reader)
    assert doc["services"]["web"]["environment"] == {"A": "'quoted'", "B": "b", "FOO": "mine"}
    [(path, lookup, fmt)] = reader.calls
    assert (path, fmt, lookup["FOO"], lookup["B"]) == ("/p/raw.env", "raw", "from-env", "b")


@pytest.mark.parametrize(("attrs", "key", "printed"), [
    ({"command": "sh -c 'echo hi' && ignored"}, "command", ["sh", "-c", "echo hi"]),
    ({"entrypoint": ["/bin/sh", "-c"]}, "entrypoint", ["/bin/sh", "-c"]),
    ({"healthcheck": {"test": "curl -f x", "interval": "90s", "timeout": "1500ms"}}, "healthcheck",
     {"test": ["CMD-SHELL", "curl -f x"], "timeout": "1.5s", "interval": "1m30s"}),
    ({"stop_grace_period": "1h"}, "stop_grace_period", "1h0m0s"),
    ({"mem_limit": "512m", "shm_size": 1024}, "mem_limit", "536870912"),
    ({"expose": [3306, "80-81"]}, "expose", ["3306", "80-81"]),
    ({"extra_hosts": {"b": "2.2.2.2", "a": ["1.1.1.1", "[::1]"]}}, "extra_hosts",
     ["a=1.1.1.1", "a=::1", "b=2.2.2.2"]),
    ({"ulimits": {"nproc": 65535, "nofile": {"soft": 1, "hard": 2}}}, "ulimits",
     {"nofile": {"soft": 1, "hard": 2}, "nproc": 65535}),
    ({"labels": ["b=2", "a"]}, "labels", {"a": "", "b": "2"}),
    ({"pull_policy": "if_not_present"}, "pull_policy", "missing"),
    ({"cpus": 0.1, "init": False, "privileged": False}, "cpus", 0.1),
    ({"init": False}, "init", False),
    ({"deploy": {"resources": {"limits": {"memory": "50M", "cpus": "0.5"}}}}, "deploy",
     {"resources": {"limits": {"cpus": 0.5, "memory": "52428800"}}, "placement": {}}),
])
def test_values_bound_to_compose_go_types(attrs: dict[str, Any], key: str, printed: Any) -> None:
    assert web({"services": {"web": {"image": "x", **attrs}}})[key] == printed


def test_false_booleans_and_empty_values_are_omitted() -> None:
    svc = web({"services": {"web": {"image": "x", "privileged": False, "tty": False, "cap_add": [],
                                    "hostname": ""}}})
    assert {"privileged", "tty", "cap_add", "hostname"}.isdisjoint(svc)


def test_secret_and_config_mounts() -> None:
    doc = run({"services": {"web": {"image": "x", "secrets": ["s", {"source": "t", "mode": 0o440}],
                                    "configs": ["c"]}},
               "secrets": {"s": {"file": "s.txt"}, "t": {"environment": "FOO"}},
               "configs": {"c": {"content": "hello"}}})
    assert doc["services"]["web"]["secrets"] == [
        {"source": "s", "target": "/run/secrets/s"}, {"source": "t", "target": "/run/secrets/t", "mode": "0440"}]
    assert doc["services"]["web"]["configs"] == [{"source": "c"}]
    assert doc["secrets"]["t"] == {"name": "proj_t", "environment": "FOO", "content": "from-env"}
    assert doc["configs"]["c"] == {"name": "proj_c", "content": "hello"}


def test_service_extensions_stay_in_the_model() -> None:
    svc = web({"services": {"web": {"image": "x", "x-note": {"b": 1, "a": 2}}}})
    assert svc["x-note"] == {"a": 2, "b": 1}


def test_bad_value_names_its_path() -> None:
    with pytest.raises(SpecError) as err:
        run({"services": {"web": {"image": "x", "mem_limit": "lots"}}})
    assert err.value.problems[0].path == "services.web.mem_limit"


def test_label_files_are_folded_even_without_environment_resolution() -> None:
    files = {"/p/l.env": {"team": "core", "tier": "file"}}
    svc = web({"services": {"web": {"image": "x", "label_file": "l.env", "labels": {"tier": "declared"},
                                    "env_file": "e.env"}}}, env_files=files, resolve_env=False)
    assert svc["labels"] == {"team": "core", "tier": "declared"}
    assert "label_file" not in svc and svc["env_file"] == [{"path": "/p/e.env", "required": True}]


@pytest.mark.parametrize(("command", "words"), [
    ("echo hello", ["echo", "hello"]),
    ("sh -c 'echo $HOME'", ["sh", "-c", "echo $HOME"]),
    ('echo "a \\"b\\" c"', ["echo", 'a "b" c']),
    ("a\\ b c", ["a b", "c"]),
    ("x '' y", ["x", "", "y"]),
    ("run; rm -rf /", ["run"]),  # compose-go stops at an unquoted ; & | < >
    ("echo $(date) done", ["echo", "$(date)", "done"]),
    ("  spaced\tout \n", ["spaced", "out"]),
])
def test_command_strings_split_like_compose_go(command: str, words: list[str]) -> None:
    assert web({"services": {"web": {"image": "x", "command": command}}})["command"] == words


@pytest.mark.parametrize("command", ["echo 'open", 'echo "open', "trailing\\", "bad (paren"])
def test_unbalanced_command_is_an_error(command: str) -> None:
    with pytest.raises(SpecError, match="invalid command line string"):
        run({"services": {"web": {"image": "x", "command": command}}})


@pytest.mark.parametrize(("given", "printed"), [
    ("10s", "10s"), ("1m30s", "1m30s"), ("90s", "1m30s"), ("1h", "1h0m0s"), ("500ms", "500ms"),
    ("1.5s", "1.5s"), ("2h45m", "2h45m0s"), ("1d", "24h0m0s"), ("100us", "100µs"), ("0s", "0s"),
])
def test_durations_print_as_go_does(given: str, printed: str) -> None:
    svc = web({"services": {"web": {"image": "x", "healthcheck": {"interval": given}}}})
    assert svc["healthcheck"] == {"interval": printed}


@pytest.mark.parametrize("given", [30, "10", "1x", "s"])
def test_durations_need_a_unit(given: Any) -> None:
    with pytest.raises(SpecError) as err:
        run({"services": {"web": {"image": "x", "healthcheck": {"interval": given}}}})
    assert err.value.problems[0].path == "services.web.healthcheck.interval"


@pytest.mark.parametrize(("given", "printed"), [
    ("1b", "1"), ("2k", "2048"), ("2kb", "2048"), ("1.5m", "1572864"), ("1g", "1073741824"), ("1G", "1073741824"),
    (1024, "1024"), ("1 gb", "1073741824"),
])
def test_byte_sizes_print_as_bytes(given: Any, printed: str) -> None:
    assert web({"services": {"web": {"image": "x", "shm_size": given}}})["shm_size"] == printed


def test_local_bind_volume_device_and_windows_paths() -> None:
    doc = run({"services": {"web": {"image": "x", "volumes": ["data:/d", "C:\\\\x:/x"],
                                    "build": {"context": "service:base"}}},
               "volumes": {"data": {"driver": "local", "driver_opts": {"o": "bind", "type": "none",
                                                                       "device": "./dev"}}}})
    assert doc["volumes"]["data"]["driver_opts"]["device"] == "/p/dev"
    assert doc["services"]["web"]["volumes"][1]["source"] == "C:\\\\x"
    assert doc["services"]["web"]["build"]["context"] == "service:base"


def test_numbers_in_maps_are_printed_as_go_formats_them() -> None:
    env = web({"services": {"web": {"image": "x", "environment": {"A": 1e8, "B": 1234567.0, "C": 0.00001,
                                                                    "D": 3.0, "E": 999999.5, "F": True, "G": 31}}}})
    assert env["environment"] == {"A": "1e+08", "B": "1.234567e+06", "C": "1e-05", "D": "3", "E": "999999.5",
                                  "F": "true", "G": "31"}


def test_watch_paths_go_through_the_symlink_resolver_when_given() -> None:
    source = {"services": {"web": {"image": "x", "develop": {"watch": [{"path": "src", "action": "sync",
                                                                          "target": "/app"}]}}}}
    assert web(source)["develop"]["watch"][0]["path"] == "/p/src"
    linked = web(source, resolve_symlink=lambda p: p.replace("/p/", "/real/"))
    assert linked["develop"]["watch"][0]["path"] == "/real/src"


def test_later_env_files_see_earlier_ones_after_the_project_and_the_service() -> None:
    reader = FakeEnvFiles({"/p/1.env": {"A": "one", "FOO": "file"}, "/p/2.env": {"B": "two"}})
    normalize(canonicalize({"services": {"web": {"image": "x", "environment": {"S": "svc"},
                                                 "env_file": ["1.env", "2.env"]}}}, file="c"),
              project_name="p", working_dir="/p", environment=ENV, read_env_file=reader)
    first, second = (lookup for _, lookup, _ in reader.calls)
    assert "A" not in first and first["S"] == "svc"
    assert (second["A"], second["FOO"], second["S"]) == ("one", "from-env", "svc")
