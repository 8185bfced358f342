"""logs, stop/start/restart/kill/rm, orphans, exec and faults on a real engine."""

from __future__ import annotations

import io
import subprocess

import pytest

from stackctl.compose.control import Target
from stackctl.compose.logs import stream_logs
from stackctl.compose.up import UpRequest
from stackctl.drivers.docker_engine import DockerEngine
from stackctl.errors import EngineUnavailable
from stackctl.plan.diff import UpOptions
from tests.integration.compose.conftest import by_name
from tests.support.compose_sync import stop_like, up

pytestmark = pytest.mark.engine

STACK = """
services:
  talker:
    image: stackctl/busybox:latest
    command: ["sh", "-c", "echo hello from $$HOSTNAME; echo second line; exec sleep 300"]
    hostname: talky
    stop_signal: SIGKILL
  quiet:
    image: stackctl/busybox:latest
    command: ["sleep", "300"]
    stop_signal: SIGKILL
    depends_on: [talker]
"""


def test_logs_are_prefixed_with_service_and_replica(engine_driver, make_project, project_name) -> None:
    project = make_project(STACK)
    up(engine_driver, project, UpRequest())
    talker = [c for c in engine_driver.observe(project_name).containers if c.service == "talker"]
    for _ in range(50):
        out = io.StringIO()
        stream_logs(engine_driver, talker, out=out)
        if "second line" in out.getvalue():
            break
    assert out.getvalue().splitlines() == ["talker-1  | hello from talky", "talker-1  | second line"]


def test_stop_start_restart_kill_rm_change_the_engine_state(engine_driver, make_project, project_name) -> None:
    project = make_project(STACK)
    target = Target(project_name, project)
    up(engine_driver, project, UpRequest())
    stop_like(engine_driver, target, "stop_container", services=("quiet",))
    state = {n: c["State"]["Status"] for n, c in by_name(project_name).items()}
    assert state == {f"{project_name}-talker-1": "running", f"{project_name}-quiet-1": "exited"}
    stop_like(engine_driver, target, "start_container")
    assert all(c["State"]["Running"] for c in by_name(project_name).values())
    started = by_name(project_name)[f"{project_name}-talker-1"]["State"]["StartedAt"]
    stop_like(engine_driver, target, "restart_container", services=("talker",), timeout=0)
    assert by_name(project_name)[f"{project_name}-talker-1"]["State"]["StartedAt"] != started
    stop_like(engine_driver, target, "kill_container")
    assert {c["State"]["ExitCode"] for c in by_name(project_name).values()} == {137}
    stop_like(engine_driver, target, "remove_container", services=("quiet",))
    assert sorted(by_name(project_name)) == [f"{project_name}-talker-1"]


def test_orphans_are_reported_then_removed_with_remove_orphans(engine_driver, make_project, project_name) -> None:
    up(engine_driver, make_project(STACK), UpRequest())
    only = make_project(STACK.split("  quiet:")[0])
    result = up(engine_driver, only, UpRequest())
    assert any(f"{project_name}-quiet-1" in w and "--remove-orphans" in w for w in result.warnings)
    assert f"{project_name}-quiet-1" in by_name(project_name)
    up(engine_driver, only, UpRequest(options=UpOptions(remove_orphans=True)))
    assert sorted(by_name(project_name)) == [f"{project_name}-talker-1"]


def test_exec_runs_in_the_running_replica_and_returns_its_exit_code(engine_driver, make_project,
                                                                  project_name) -> None:
    up(engine_driver, make_project(STACK), UpRequest())
    chunks: list[bytes] = []
    code = engine_driver.exec(f"{project_name}-talker-1", ["sh", "-c", "hostname; exit 4"],
                              out=lambda c: chunks.append(c[0] or b""))
    assert code == 4 and b"".join(chunks) == b"talky\n"


def test_docker_compose_sees_our_containers_as_up_to_date(engine_driver, make_project, project_name, oracle,
                                                         tmp_path) -> None:
    up(engine_driver, make_project(STACK), UpRequest())
    before = {n: c["Id"] for n, c in by_name(project_name).items()}
    out = subprocess.run([str(oracle), "-p", project_name, "up", "-d"], cwd=tmp_path, check=False, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Recreate" not in out.stderr
    assert {n: c["Id"] for n, c in by_name(project_name).items()} == before


def test_engine_not_running_is_a_clear_error(tmp_path) -> None:
    with pytest.raises(EngineUnavailable, match="cannot connect to the Docker engine .* is dockerd running"):
        DockerEngine(host=f"unix://{tmp_path}/no-docker.sock").observe("x")
