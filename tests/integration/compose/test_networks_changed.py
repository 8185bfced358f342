"""A network whose settings changed in the file is recreated on the real engine, as docker compose
v2.40 does: same containers (names, labels, hash), reconnected to the new network and running."""

from __future__ import annotations

import os
import subprocess

import pytest

from tests.integration.compose.conftest import by_name, docker_json

pytestmark = pytest.mark.engine

STACK = """
services:
  db:
    image: stackctl/busybox:latest
    command: ["sleep", "300"]
    stop_signal: SIGKILL
    networks: {{front: {{aliases: [database]}}}}
  web:
    image: stackctl/busybox:latest
    command: ["sleep", "300"]
    stop_signal: SIGKILL
    depends_on: [db]
    networks: [front]
  other:
    image: stackctl/busybox:latest
    command: ["sleep", "300"]
    stop_signal: SIGKILL
networks:
  front:
    ipam:
      config: [{{subnet: "{subnet}"}}]
"""


def test_changed_subnet_recreates_the_network_and_keeps_the_same_containers(cli, tmp_path, project_name,
                                                                             busybox_image, oracle) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return cli("compose", "-p", project_name, *args, cwd=tmp_path, env_vars=env)

    (tmp_path / "compose.yaml").write_text(STACK.format(subnet="10.213.40.0/24"))
    assert run("up", "-d").returncode == 0
    before = {n: (c["Id"], c["State"]["StartedAt"]) for n, c in by_name(project_name).items()}

    (tmp_path / "compose.yaml").write_text(STACK.format(subnet="10.213.41.0/24"))
    dry = run("up", "-d", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0].startswith(f"recreate network {project_name}_front: config changed (hash ")
    assert sorted(lines[1:]) == [f"start container {project_name}-db-1: network recreated ({project_name}_front)",
                                 f"start container {project_name}-web-1: network recreated ({project_name}_front)"]
    assert docker_json("network", "inspect", f"{project_name}_front")[0]["IPAM"]["Config"][0]["Subnet"] == "10.213.40.0/24"

    out = run("up", "-d")
    assert out.returncode == 0, out.stderr
    after = by_name(project_name)
    assert {n: c["Id"] for n, c in after.items()} == {n: i for n, (i, _) in before.items()}
    assert after[f"{project_name}-other-1"]["State"]["StartedAt"] == before[f"{project_name}-other-1"][1]
    assert all(c["State"]["Running"] for c in after.values())
    network = docker_json("network", "inspect", f"{project_name}_front")[0]
    assert network["IPAM"]["Config"][0]["Subnet"] == "10.213.41.0/24"
    db_endpoint = after[f"{project_name}-db-1"]["NetworkSettings"]["Networks"][f"{project_name}_front"]
    assert db_endpoint["IPAddress"].startswith("10.213.41.")
    assert {f"{project_name}-db-1", "db", "database"} <= set(db_endpoint["Aliases"])
    looked_up = subprocess.run(["docker", "exec", f"{project_name}-web-1", "nslookup", "database"],
                               check=False, capture_output=True, text=True, timeout=30)
    assert db_endpoint["IPAddress"] in looked_up.stdout  # the service's alias still resolves on the new network

    # docker compose agrees that the network and every container are up to date
    theirs = subprocess.run([str(oracle), "-p", project_name, "up", "-d", "--dry-run"], cwd=tmp_path, check=False,
                            capture_output=True, text=True, timeout=60)
    assert theirs.returncode == 0, theirs.stderr
    assert "Removed" not in theirs.stderr and "Recreate" not in theirs.stderr and "Stopping" not in theirs.stderr
    assert run("up", "-d", "--dry-run").stdout.strip() == "nothing to do: every container is up to date"


def test_a_changed_network_another_container_uses_is_kept_and_nothing_stops(cli, tmp_path, project_name,
                                                                             busybox_image) -> None:
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    (tmp_path / "compose.yaml").write_text(STACK.format(subnet="10.213.42.0/24"))
    assert cli("compose", "-p", project_name, "up", "-d", cwd=tmp_path, env_vars=env).returncode == 0
    before = {n: c["Id"] for n, c in by_name(project_name).items()}
    foreign = f"{project_name}-foreign"
    subprocess.run(["docker", "run", "-d", "--name", foreign, "--network", f"{project_name}_front",
                    "stackctl/busybox:latest", "sleep", "300"], check=True, capture_output=True, timeout=60)
    try:
        (tmp_path / "compose.yaml").write_text(STACK.format(subnet="10.213.43.0/24"))
        out = cli("compose", "-p", project_name, "up", "-d", cwd=tmp_path, env_vars=env)
        assert out.returncode == 1 and "Traceback" not in out.stderr
        errors = [line for line in out.stderr.splitlines() if line.startswith("stackctl:")]
        assert len(errors) == 1 and f'network "{project_name}_front" must be recreated' in errors[0]
        assert "it keeps its old settings" in errors[0]
        after = by_name(project_name)
        assert {n: c["Id"] for n, c in after.items()} == before and all(c["State"]["Running"] for c in after.values())
        network = docker_json("network", "inspect", f"{project_name}_front")[0]
        assert network["IPAM"]["Config"][0]["Subnet"] == "10.213.42.0/24"
        assert len(network["Containers"]) == 3  # db, web and the foreign container, all still attached
    finally:
        subprocess.run(["docker", "rm", "-f", foreign], check=False, capture_output=True)
