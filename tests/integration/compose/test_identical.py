"""Differential test, live on the engine: `docker compose create` (v2.40.3) and `stackctl compose create`
on the same project must leave identical containers, networks and volumes behind.

For each case of our corpus (tests/fixtures/compose/<case>/, its default variant), the project is
resolved once by the oracle (`config --format json`), every image swapped for the local busybox image
(nothing can be pulled), and written to one file; then, under ONE project name (names and the
config-hash must match): docker compose creates it, `docker inspect` is taken, everything is removed;
stackctl creates it, inspect, remove. The inspects are compared after the normalisation of
tests/integration/compose/inspect_normal.py (the only place where a difference may be excused).
Cases run concurrently, each with its own project name.
"""

from __future__ import annotations

import json
import os
import pathlib
import secrets
import subprocess
import sys
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest

from stackctl.plan.hashing import first_container_ids, service_hash, with_container_refs
from tests.conformance._harness import BASE_ENV
from tests.integration.compose import inspect_normal as N
from tests.support import env

pytestmark = pytest.mark.engine

FIXTURES = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "compose"
IMAGE = "stackctl/busybox:latest"
WORKERS = 4


def _cases() -> list[pathlib.Path]:
    return sorted(p.parent for p in FIXTURES.glob("*/case.json"))


@dataclass
class Snapshot:
    ok: bool
    error: str = ""
    containers: dict[str, Any] = field(default_factory=dict)
    networks: dict[str, Any] = field(default_factory=dict)
    volumes: dict[str, Any] = field(default_factory=dict)


@dataclass
class Result:
    resolved: bool
    why: str = ""
    theirs: Snapshot | None = None
    ours: Snapshot | None = None
    ours_refused: bool = False  # when docker compose refuses the file: whether stackctl does too


def _variant(case: pathlib.Path) -> dict[str, Any]:
    variants = json.loads((case / "case.json").read_text())["variants"]
    return dict(variants.get("default") or next(iter(variants.values())))


def _environ(case: pathlib.Path, variant: Mapping[str, Any]) -> dict[str, str]:
    extra = {k: v.replace("@FIXTURES@", str(FIXTURES)) for k, v in (variant.get("env") or {}).items()}
    return {**BASE_ENV, **extra}


def _resolve(oracle: pathlib.Path, case: pathlib.Path, project: str) -> dict[str, Any] | str:
    """The project as docker compose resolves it (images swapped), or why it is not one."""
    variant = _variant(case)
    args = list(variant.get("args") or ["config"])
    globals_ = args[:args.index("config")] if "config" in args else []
    stdin = (case / variant["stdin"]).read_text() if "stdin" in variant else ""
    done = subprocess.run([str(oracle), *globals_, "-p", project, "config", "--format", "json"],
                          cwd=case / variant.get("cwd", "."), env=_environ(case, variant), input=stdin,
                          capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        return done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "rejected"
    doc: dict[str, Any] = json.loads(done.stdout)
    for svc in (doc.get("services") or {}).values():
        svc["image"] = IMAGE
        for key in ("build", "pull_policy"):
            svc.pop(key, None)
        if any(str(p.get("published") or "").isdigit() for p in svc.get("ports") or []):
            svc.pop("scale", None)  # see DELIBERATE: the balancer fronts such replicas
            (svc.get("deploy") or {}).pop("replicas", None)
    return doc


def _refuses(case: pathlib.Path, project: str) -> bool:
    """Whether `stackctl compose config` refuses the case as docker compose did (one line, exit 1)."""
    variant = _variant(case)
    args = list(variant.get("args") or ["config"])
    globals_ = args[:args.index("config")] if "config" in args else []
    stdin = (case / variant["stdin"]).read_text() if "stdin" in variant else ""
    env = {**_environ(case, variant), "PYTHONPATH": str(FIXTURES.parents[2])}
    done = subprocess.run([sys.executable, "-m", "stackctl", "compose", *globals_, "-p", project, "config"],
                          cwd=case / variant.get("cwd", "."), env=env, input=stdin, capture_output=True,
                          text=True, timeout=60, check=False)
    return done.returncode == 1 and "Traceback" not in done.stderr


def _cleanup(project: str) -> None:
    label = f"label=com.docker.compose.project={project}"
    ids = _lines("ps", "-aq", "--filter", label)
    if ids:
        subprocess.run(["docker", "rm", "-fv", *ids], capture_output=True, check=False)
    for kind in ("network", "volume"):
        found = _lines(kind, "ls", "-q", "--filter", label)
        if found:
            subprocess.run(["docker", kind, "rm", *found], capture_output=True, check=False)


def _lines(*args: str) -> list[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=False, timeout=60).stdout.split()


def _inspect(*args: str) -> list[dict[str, Any]]:
    out = subprocess.run(["docker", *args], capture_output=True, text=True, check=False, timeout=60)
    return json.loads(out.stdout) if out.returncode == 0 else []


def _snapshot(project: str, done: subprocess.CompletedProcess[str], doc: Mapping[str, Any]) -> Snapshot:
    label = f"label=com.docker.compose.project={project}"
    cids, nids, vids = (_lines("ps", "-aq", "--filter", label), _lines("network", "ls", "-q", "--filter", label),
                        _lines("volume", "ls", "-q", "--filter", label))
    containers = _inspect("inspect", *cids) if cids else []
    networks = _inspect("network", "inspect", *nids) if nids else []
    volumes = _inspect("volume", "inspect", *vids) if vids else []
    ids = N.Ids([*(("container", c["Id"], c["Name"].lstrip("/")) for c in containers),
                 *(("network", n["Id"], n["Name"]) for n in networks)])
    subnets = frozenset(str(p.get("subnet")) for n in (doc.get("networks") or {}).values()
                        for p in ((n or {}).get("ipam") or {}).get("config") or [] if p.get("subnet"))
    return Snapshot(done.returncode == 0, done.stderr.strip()[-400:] if done.returncode else "",
                    {c["Name"].lstrip("/"): N.container(N.hash_over_ids(c, _expected_hash(c, containers, doc)), ids)
                     for c in containers},
                    {n["Name"]: N.network(n, ids, declared_subnets=subnets) for n in networks},
                    {v["Name"]: N.volume(v, ids) for v in volumes})


def _expected_hash(c: Mapping[str, Any], containers: list[dict[str, Any]], doc: Mapping[str, Any]) -> str | None:
    """docker compose's config-hash for a service that names other containers by ID, recomputed from
    the IDs of this run (None for any other service: its hash must be equal as it is)."""
    labels = c["Config"]["Labels"] or {}
    svc = (doc.get("services") or {}).get(labels.get("com.docker.compose.service"))
    if not svc or not (svc.get("volumes_from") or any(str(svc.get(k) or "").startswith("service:")
                                                      for k in ("network_mode", "ipc", "pid"))):
        return None
    firsts = first_container_ids((x["Config"]["Labels"].get("com.docker.compose.service", ""), x["Name"].lstrip("/"),
                                  x["Id"]) for x in containers)
    return service_hash(with_container_refs(svc, firsts))


def _create(argv: list[str], project: str, workdir: pathlib.Path, environ: Mapping[str, str],
            doc: Mapping[str, Any]) -> Snapshot:
    try:
        done = subprocess.run([*argv, "-f", str(workdir / "compose.json"), "-p", project, "create"],
                              cwd=workdir, env=dict(environ), capture_output=True, text=True, timeout=120,
                              check=False)
        return _snapshot(project, done, doc)
    finally:
        _cleanup(project)


def run_case(oracle: pathlib.Path, case: pathlib.Path, workdir: pathlib.Path) -> Result:
    project = f"sci{secrets.token_hex(3)}"
    doc = _resolve(oracle, case, project)
    if isinstance(doc, str):
        return Result(False, doc, ours_refused=_refuses(case, project))
    workdir.mkdir(parents=True, exist_ok=True)
    (workdir / "compose.json").write_text(json.dumps(doc))
    environ = _environ(case, _variant(case))
    ours_argv = [sys.executable, "-m", "stackctl", "compose"]
    ours_env = {**environ, "PYTHONPATH": str(FIXTURES.parents[2]) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    theirs = _create([str(oracle)], project, workdir, environ, doc)
    ours = _create(ours_argv, project, workdir, ours_env, doc)
    return Result(True, theirs=theirs, ours=ours)


@pytest.fixture(scope="module")
def results(oracle: pathlib.Path, busybox_image: str,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Result]]:
    root = tmp_path_factory.mktemp("identical")
    with ThreadPoolExecutor(WORKERS) as pool:
        futures = {c.name: pool.submit(run_case, oracle, c, root / c.name.replace(" ", "_")) for c in _cases()}
        yield {name: f.result() for name, f in futures.items()}


def _compare(kind: str, ours: Mapping[str, Any], theirs: Mapping[str, Any]) -> list[str]:
    out = []
    for name in sorted(set(ours) | set(theirs)):
        if name not in ours or name not in theirs:
            out.append(f"{kind} {name}: only in {'theirs' if name in theirs else 'ours'}")
            continue
        out += [f"{kind} {name}{d}" for d in N.all_differences(ours[name], theirs[name])]
    return out


@pytest.mark.parametrize("case", [c.name for c in _cases()])
def test_create_leaves_what_docker_compose_leaves(case: str, results: dict[str, Result]) -> None:
    result = results[case]
    if not result.resolved:  # docker compose refuses the file: nothing to create, stackctl must refuse it too
        assert result.ours_refused, f"docker compose refuses this file ({result.why}); stackctl accepts it"
        return
    assert result.ours is not None and result.theirs is not None
    assert result.ours.ok == result.theirs.ok, \
        f"create: ours {result.ours.ok} ({result.ours.error}) != theirs {result.theirs.ok} ({result.theirs.error})"
    if not result.theirs.ok:
        return  # both refused (e.g. an external volume that does not exist): what each made before is not compared
    diffs = [*_compare("container", result.ours.containers, result.theirs.containers),
             *_compare("network", result.ours.networks, result.theirs.networks),
             *_compare("volume", result.ours.volumes, result.theirs.volumes)]
    if diffs:
        pytest.fail("\n".join(diffs), pytrace=False)


def test_the_corpus_reaches_the_engine(results: dict[str, Result]) -> None:
    """The comparison is not vacuous: most cases are projects, and most create containers."""
    created = [n for n, r in results.items() if r.theirs is not None and r.theirs.containers]
    assert len(created) >= 30, created
    assert env.engine_answers()


def _ids(project: str) -> list[str]:
    return sorted(_lines("ps", "-aq", "--filter", f"label=com.docker.compose.project={project}"))


@pytest.mark.parametrize("case", ["engine-namespaces", "engine-links"])
def test_each_tool_sees_the_others_containers_up_to_date(case: str, oracle: pathlib.Path, busybox_image: str,
                                                         tmp_path: pathlib.Path) -> None:
    """Same config-hash (also for `service:x` references, which hash x's container ID): a second
    `create` by the other tool recreates nothing, in both directions."""
    project = f"sci{secrets.token_hex(3)}"
    doc = _resolve(oracle, FIXTURES / case, project)
    assert not isinstance(doc, str), doc
    (tmp_path / "compose.json").write_text(json.dumps(doc))
    theirs, ours = [str(oracle)], [sys.executable, "-m", "stackctl", "compose"]
    environ = {**BASE_ENV, "PYTHONPATH": str(FIXTURES.parents[2])}
    try:
        for first, second in ((theirs, ours), (ours, theirs)):
            for argv in (first, second):
                done = subprocess.run([*argv, "-f", str(tmp_path / "compose.json"), "-p", project, "create"],
                                      cwd=tmp_path, env=environ, capture_output=True, text=True, timeout=120,
                                      check=False)
                assert done.returncode == 0, done.stderr
                if argv is first:
                    before = _ids(project)
            assert _ids(project) == before, f"{second[0]} recreated containers made by {first[0]}"
            _cleanup(project)
    finally:
        _cleanup(project)
