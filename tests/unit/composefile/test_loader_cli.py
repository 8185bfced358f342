"""`stackctl compose config` as a user runs it: a real process, exit codes, stdout/stderr."""

from __future__ import annotations

import json
import os
import pathlib
from collections.abc import Callable
from typing import Any

import pytest

COMPOSE = """\
version: "3"
services:
  web:
    image: nginx
    ports: ["8080:80"]
    depends_on: [db]
  db:
    image: "postgres:${PG:-16}"
    profiles: [data]
    volumes: [dbdata:/var/lib/postgresql/data]
volumes:
  dbdata: {}
"""


@pytest.fixture
def project(tmp_path: pathlib.Path) -> pathlib.Path:
    (tmp_path / "compose.yaml").write_text(COMPOSE)
    return tmp_path


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    return {**env, **extra}


def test_json_output_and_version_warning(cli: Callable[..., Any], project: pathlib.Path) -> None:
    done = cli("compose", "--profile", "data", "config", "--format", "json", cwd=project, env_vars=_env(PG="15"))
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    assert doc["name"] == project.name.lower()
    assert doc["services"]["db"]["image"] == "postgres:15"
    assert doc["services"]["web"]["ports"][0]["published"] == "8080"
    assert "the attribute `version` is obsolete" in done.stderr


def test_disabled_dependency_is_one_error_line_and_exit_code_1(cli: Callable[..., Any],
                                                                project: pathlib.Path) -> None:
    done = cli("compose", "config", cwd=project, env_vars=_env())
    assert done.returncode == 1
    lines = [ln for ln in done.stderr.splitlines() if "version" not in ln]
    assert len(lines) == 1 and 'depends on undefined service "db"' in lines[0]
    assert "Traceback" not in done.stderr


def test_listings(cli: Callable[..., Any], project: pathlib.Path) -> None:
    services = cli("compose", "--profile", "data", "config", "--services", cwd=project, env_vars=_env())
    assert services.stdout.splitlines() == ["db", "web"]
    profiles = cli("compose", "config", "--profiles", cwd=project, env_vars=_env(COMPOSE_PROFILES="data"))
    assert profiles.stdout.splitlines() == ["data"]
    volumes = cli("compose", "-p", "demo", "--profile", "data", "config", "--volumes", cwd=project, env_vars=_env())
    assert volumes.stdout.splitlines() == ["dbdata"]


def test_quiet_and_output_file(cli: Callable[..., Any], project: pathlib.Path) -> None:
    quiet = cli("compose", "--profile", "data", "config", "-q", cwd=project, env_vars=_env())
    assert quiet.returncode == 0 and quiet.stdout == ""
    out = project / "out.yaml"
    written = cli("compose", "--profile", "data", "config", "-o", str(out), cwd=project, env_vars=_env())
    assert written.returncode == 0 and written.stdout == ""
    assert "image: postgres:16" in out.read_text()


def test_missing_file_and_bad_project_name(cli: Callable[..., Any], tmp_path: pathlib.Path) -> None:
    missing = cli("compose", "-f", "nope.yaml", "config", cwd=tmp_path, env_vars=_env())
    assert missing.returncode == 1 and "nope.yaml" in missing.stderr and "Traceback" not in missing.stderr
    (tmp_path / "compose.yaml").write_text("services: {a: {image: x}}\n")
    bad = cli("compose", "-p", "Bad_Name", "config", cwd=tmp_path, env_vars=_env())
    assert bad.returncode == 1 and 'invalid project name "Bad_Name"' in bad.stderr


def test_stdin_compose_file(cli: Callable[..., Any], tmp_path: pathlib.Path) -> None:
    done = cli("compose", "-f", "-", "config", "--format", "json", cwd=tmp_path, env_vars=_env(),
               input="services:\n  a:\n    image: busybox\n    volumes: ['./d:/d']\n")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["services"]["a"]["volumes"][0]["source"] == str(tmp_path / "d")
