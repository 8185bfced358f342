"""Our config-hash equals docker compose's (`config --hash`), so neither tool recreates the other's containers."""

from __future__ import annotations

import json
import subprocess

import pytest

from stackctl.compose.project import runtime_document
from stackctl.plan.hashing import service_hash, volume_hash

STACK = """
services:
  web:
    image: stackctl/busybox:latest
    command: ["sh", "-c", "echo '<&>' $$HOME && sleep 1000"]
    ports: ["8080:80", "127.0.0.1:9000-9001:90/udp"]
    environment: {A: "x<y&z", B: "é"}
    depends_on: {db: {condition: service_healthy, restart: true}}
    deploy: {replicas: 2, resources: {limits: {memory: 64M}}}
    labels: [a=b]
    profiles: [web]
    pull_policy: always
  db:
    image: stackctl/busybox:latest
    build: {context: ., args: [X=1]}
    healthcheck: {test: ["CMD", "true"], interval: 1s}
    volumes: [data:/data, ./x:/x:ro]
    scale: 3
volumes: {data: {driver_opts: {type: tmpfs, device: tmpfs}}}
"""


@pytest.fixture(scope="module")
def compose_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("hash")
    (path / "compose.yaml").write_text(STACK)
    (path / "Dockerfile").write_text("FROM scratch\n")
    return path


def _oracle(oracle, compose_dir, *args: str) -> str:
    out = subprocess.run([str(oracle), "--profile", "web", *args], cwd=compose_dir, check=False, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_service_hash_equals_docker_compose_config_hash(oracle, compose_dir) -> None:
    doc = runtime_document(json.loads(_oracle(oracle, compose_dir, "config", "--format", "json")))
    theirs = dict(line.split() for line in _oracle(oracle, compose_dir, "config", "--hash", "*").splitlines())
    ours = {name: service_hash(svc) for name, svc in doc["services"].items()}
    assert ours == theirs


def test_scale_depends_on_build_and_profiles_do_not_change_the_hash(oracle, compose_dir) -> None:
    doc = json.loads(_oracle(oracle, compose_dir, "config", "--format", "json"))
    web = doc["services"]["web"]
    edited = dict(web, deploy=dict(web["deploy"], replicas=9), depends_on={}, profiles=["x"])
    assert service_hash(edited) == service_hash(web)
    assert service_hash(dict(web, environment={"A": "changed"})) != service_hash(web)


def test_volume_hash_defaults_the_driver_like_docker_compose() -> None:
    # the label docker compose v2.40.3 put on a volume declared as `data: {}` in project hv
    assert volume_hash({"name": "hv_data"}) == "4693ce1d0aedbf411e8be8b72d058dbdaa49ead5e5bc584f4d6e03e8115cba7d"
