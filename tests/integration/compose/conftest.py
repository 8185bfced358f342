"""Fixtures for engine tests: a fresh project name, its compose file, cleanup of whatever it left."""

from __future__ import annotations

import json
import pathlib
import secrets
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from stackctl.compose.project import Project, from_document
from stackctl.drivers.docker_engine import DockerEngine


def docker_json(*args: str) -> Any:
    out = subprocess.run(["docker", *args], check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def containers(project: str, *, all: bool = True) -> list[dict[str, Any]]:
    """The engine's own view (docker CLI inspect), independent of stackctl's driver."""
    ids = subprocess.run(["docker", "ps", "-q", *(["-a"] if all else []), "--filter",
                          f"label=com.docker.compose.project={project}"],
                         check=False, capture_output=True, text=True, timeout=60).stdout.split()
    return docker_json("inspect", *ids) if ids else []


def by_name(project: str) -> dict[str, dict[str, Any]]:
    return {c["Name"].lstrip("/"): c for c in containers(project)}


@pytest.fixture
def engine_driver(busybox_image: str) -> DockerEngine:
    driver = DockerEngine()
    yield driver
    driver.close()


@pytest.fixture
def project_name(engine: None) -> str:
    name = f"sct{secrets.token_hex(3)}"
    yield name
    ids = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={name}"],
                         check=False, capture_output=True, text=True).stdout.split()
    if ids:
        anonymous = [m["Name"] for c in docker_json("inspect", *ids) for m in c.get("Mounts") or []
                     if m.get("Type") == "volume" and len(m.get("Name", "")) == 64]
        subprocess.run(["docker", "rm", "-fv", *ids], check=False, capture_output=True)
        if anonymous:
            subprocess.run(["docker", "volume", "rm", *anonymous], check=False, capture_output=True)
    for kind in ("network", "volume"):
        found = subprocess.run(["docker", kind, "ls", "-q", "--filter", f"label=com.docker.compose.project={name}"],
                               check=False, capture_output=True, text=True).stdout.split()
        if found:
            subprocess.run(["docker", kind, "rm", *found], check=False, capture_output=True)


@pytest.fixture
def make_project(tmp_path: pathlib.Path, project_name: str, oracle: pathlib.Path) -> Callable[[str], Project]:
    """Write a compose file and load it as docker compose v2.40.3 resolves it (the loader's contract)."""

    def make(text: str) -> Project:
        (tmp_path / "compose.yaml").write_text(text)
        out = subprocess.run([str(oracle), "-p", project_name, "config", "--format", "json"], cwd=tmp_path,
                             check=False, capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stderr
        return from_document(json.loads(out.stdout), working_dir=str(tmp_path),
                             files=(str(tmp_path / "compose.yaml"),))

    return make


def ts(text: str) -> float:
    """An engine timestamp (RFC 3339, nanoseconds, trailing zeros trimmed) as epoch seconds."""
    import datetime
    import re

    match = re.match(r"(.*?)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)$", text)
    assert match, text
    base = datetime.datetime.fromisoformat(match.group(1) + ("+00:00" if match.group(3) == "Z" else match.group(3)))
    return base.timestamp() + float("0." + (match.group(2) or "0"))
