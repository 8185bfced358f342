"""Differential test on generated projects: random (seeded, so reproducible) mixes of the features the
loader combines (short port/volume syntax, environment forms, extends, depends_on, profiles, overrides,
interpolation), each written to a temporary directory and run through the oracle and stackctl."""

from __future__ import annotations

import pathlib
import random
from typing import Any

import pytest
import yaml

from tests.conformance import _harness

PORTS = ["80", "8080:80", "127.0.0.1:9000:9000", "5000-5002:6000-6002", "53:53/udp", "${P:-81}:81", 90,
         "[::1]:7000:7000"]
VOLUMES = ["./d:/d", "named:/n", "/anon", "./ro:/ro:ro", "~/h:/h", "named:/nc:nocopy", "${V:-./v}:/v"]
ENVIRONMENTS = [["A=1", "B"], {"C": "x", "D": None, "E": 3}, ["F=${F:-dflt}"], {"G": "$$literal"}]
LABELS = [["l1=a"], {"l2": "b"}, ["l3"]]
COMMANDS = ["echo hi", ["sh", "-c", "x"], "echo '$$HOME'"]
NETWORKS = [["front"], {"front": {"aliases": ["x"]}}, ["back"]]
EXTRA: dict[str, list[Any]] = {
    "secrets": [["sec"], [{"source": "sec", "target": "/s", "mode": 0o440}]],
    "configs": [["cfg"], [{"source": "cfg", "target": "/c"}]],
    "deploy": [{"replicas": 2, "resources": {"limits": {"cpus": "0.5", "memory": "64M"}}}, {"mode": "global"}],
    "ulimits": [{"nofile": 1024}, {"nproc": {"soft": 1, "hard": 2}}],
    "tmpfs": ["/t", ["/t1", "/t2:size=1m"]], "expose": [[80, "81-82"]],
    "extra_hosts": [["a=1.2.3.4"], {"b": "5.6.7.8"}], "dns": ["8.8.8.8", ["1.1.1.1", ""]],
    "env_file": ["e.env", [{"path": "missing.env", "required": False}, "e.env"]],
    "stop_grace_period": ["1m30s"], "restart": ["no", "always", "on-failure:3"], "init": [True],
    "cap_add": [["NET_ADMIN", "SYS_TIME"]], "sysctls": [["a.b=1"], {"c.d": 2}],
    "logging": [{"driver": "json-file", "options": {"max-size": "1m"}}], "entrypoint": ["/bin/sh -c", ["a"]],
    "devices": [["/dev/null:/dev/x"]], "pull_policy": ["if_not_present", "always"], "shm_size": ["64m", 1024],
}
CASES = 40


class Generator:
    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)

    def chance(self, p: float) -> bool:
        return self.r.random() < p

    def service(self, index: int) -> dict[str, Any]:
        r, s = self.r, {}
        if self.chance(0.8):
            s["image"] = r.choice(["busybox", "nginx:${TAG:-1}", "redis"])
        else:
            s["build"] = r.choice([".", "./ctx", {"context": "./c", "args": ["X=1", "Y"]}])
        for key, pool in (("ports", PORTS), ("volumes", VOLUMES)):
            if self.chance(0.5):
                s[key] = r.sample(pool, r.randint(1, 3))
        for key, pool, p in (("environment", ENVIRONMENTS, 0.5), ("labels", LABELS, 0.3),
                             ("command", COMMANDS, 0.2), ("networks", NETWORKS, 0.2)):
            if self.chance(p):
                s[key] = r.choice(pool)
        if self.chance(0.3):
            s["profiles"] = r.sample(["p1", "p2"], r.randint(1, 2))
        for key, choices in EXTRA.items():
            if self.chance(0.1):
                s[key] = r.choice(choices)
        earlier = [f"s{i}" for i in range(index)]  # only earlier services: no cycles
        if earlier and self.chance(0.4):
            dep = r.choice(earlier)
            s["depends_on"] = [dep] if self.chance(0.5) else {
                dep: {"condition": "service_started", "required": self.chance(0.5)}}
        if earlier and self.chance(0.2):
            s["extends"] = r.choice(earlier)
        return s

    def project(self, *, first: bool) -> dict[str, Any]:
        count = self.r.randint(1, 4)
        doc: dict[str, Any] = {"services": {f"s{i}": self.service(i) for i in range(count)},
                               "networks": {"front": {}, "back": None}, "volumes": {"named": {}}}
        if first:  # an override redefining them would mix `file` and `environment`, which is refused
            doc["secrets"] = {"sec": self.r.choice([{"file": "./s.txt"}, {"environment": "HOME"}])}
            doc["configs"] = {"cfg": self.r.choice([{"file": "./c.txt"}, {"content": "x ${TAG:-t}"}])}
        if self.chance(0.2):
            doc["name"] = self.r.choice(["Demo_${X:-a}", "proj"])
        return doc

    def case(self, directory: pathlib.Path) -> tuple[list[str], dict[str, str]]:
        argv: list[str] = []
        (directory / "e.env").write_text("E1=1\nE2=${TAG:-x}\n")
        for name in ["compose.yaml", "override.yaml"][:1 + self.chance(0.4)]:
            project = self.project(first=name == "compose.yaml")
            (directory / name).write_text(yaml.safe_dump(project, sort_keys=False))
            argv += ["-f", name]
        if self.chance(0.3):
            argv += ["--profile", self.r.choice(["p1", "p2", "*"])]
        env = self.r.choice([{}, {"TAG": "2", "P": "82", "F": ""}])
        return [*argv, "config", "--format", "json"], {**_harness.BASE_ENV, **env}


@pytest.mark.parametrize("seed", range(CASES))
def test_generated_project_matches_live_oracle(seed: int, oracle: pathlib.Path, tmp_path: pathlib.Path) -> None:
    argv, env = Generator(seed).case(tmp_path)
    theirs = _harness.run_oracle(oracle, argv, cwd=tmp_path, env=env)
    ours = _harness.run_ours(argv, cwd=tmp_path, env=env)
    assert _harness.same(ours, theirs), _harness.describe(ours, theirs)
    if ours.ok:
        assert set(ours.warnings) == _harness.oracle_warnings("\n".join(theirs.warnings)), "warnings differ"
    else:
        _harness.check_error_lines(ours)
        assert _harness.same_reason(ours.errors, "\n".join(theirs.errors)), (ours.errors, theirs.errors)
