"""`up`/`down` on a real engine: what exists afterwards (containers, labels, networks, volumes, health)."""

from __future__ import annotations

import subprocess

import pytest

from stackctl.compose.control import Target
from stackctl.compose.up import UpRequest
from stackctl.errors import ExecutionError
from stackctl.plan.diff import UpOptions
from stackctl.plan.hashing import service_hash
from tests.integration.compose.conftest import by_name, docker_json
from tests.support.compose_sync import down, up

pytestmark = pytest.mark.engine

STACK = """
services:
  db:
    image: stackctl/busybox:latest
    command: ["sleep", "300"]
    stop_signal: SIGKILL
    volumes: [data:/data]
    healthcheck: {test: ["CMD", "true"], interval: 1s}
  web:
    image: stackctl/busybox:latest
    command: ["sleep", "300"]
    stop_signal: SIGKILL
    environment: {MODE: one}
    depends_on: {db: {condition: service_healthy}}
    networks:
      default:
      front: {aliases: [www]}
    deploy: {replicas: 2}
volumes: {data: {}}
networks: {front: {}}
"""


def test_up_creates_everything_with_compose_labels_then_down_removes_it(engine_driver, make_project,
                                                                       project_name) -> None:
    project = make_project(STACK)
    up(engine_driver, project, UpRequest(wait=True, wait_timeout=30))
    seen = by_name(project_name)
    assert sorted(seen) == [f"{project_name}-db-1", f"{project_name}-web-1", f"{project_name}-web-2"]
    db, web2 = seen[f"{project_name}-db-1"], seen[f"{project_name}-web-2"]
    assert db["State"]["Health"]["Status"] == "healthy"
    labels = web2["Config"]["Labels"]
    assert labels["com.docker.compose.service"] == "web" and labels["com.docker.compose.container-number"] == "2"
    assert labels["com.docker.compose.config-hash"] == service_hash(project.services["web"])
    assert labels["com.docker.compose.depends_on"] == "db:service_healthy:false"
    assert "MODE=one" in web2["Config"]["Env"]
    nets = web2["NetworkSettings"]["Networks"]
    assert set(nets) == {f"{project_name}_default", f"{project_name}_front"}
    assert "www" in nets[f"{project_name}_front"]["Aliases"]
    assert [m["Name"] for m in db["Mounts"]] == [f"{project_name}_data"]
    volume = docker_json("volume", "inspect", f"{project_name}_data")[0]
    assert volume["Labels"]["com.docker.compose.volume"] == "data"

    down(engine_driver, Target(project_name, project))
    assert by_name(project_name) == {}
    assert listed("network", project_name) == []
    assert listed("volume", project_name) == [f"{project_name}_data"]  # kept without -v
    down(engine_driver, Target(project_name, project), volumes=True)
    assert listed("volume", project_name) == []


def listed(kind: str, project: str) -> list[str]:
    out = subprocess.run(["docker", kind, "ls", "--format", "{{.Name}}", "--filter",
                          f"label=com.docker.compose.project={project}"], check=False, capture_output=True, text=True)
    return sorted(out.stdout.split())


def test_second_up_changes_nothing_and_a_config_change_recreates_only_that_service(engine_driver, make_project,
                                                                                  project_name) -> None:
    project = make_project(STACK)
    up(engine_driver, project, UpRequest())
    before = {n: c["Id"] for n, c in by_name(project_name).items()}
    again = up(engine_driver, project, UpRequest())
    assert again.plan.actions == ()
    assert {n: c["Id"] for n, c in by_name(project_name).items()} == before

    changed = make_project(STACK.replace("MODE: one", "MODE: two"))
    result = up(engine_driver, changed, UpRequest())
    assert {a.target for a in result.plan.of_kind("recreate_container")} == {
        f"{project_name}-web-1", f"{project_name}-web-2"}
    after = by_name(project_name)
    assert after[f"{project_name}-db-1"]["Id"] == before[f"{project_name}-db-1"]
    assert after[f"{project_name}-web-1"]["Id"] != before[f"{project_name}-web-1"]
    assert "MODE=two" in after[f"{project_name}-web-1"]["Config"]["Env"]
    assert after[f"{project_name}-web-1"]["State"]["Running"]


def test_scale_up_then_down_keeps_lowest_numbers(engine_driver, make_project, project_name) -> None:
    project = make_project(STACK)
    up(engine_driver, project, UpRequest(options=UpOptions(scale={"web": 4})))
    assert len([n for n in by_name(project_name) if "-web-" in n]) == 4
    up(engine_driver, project, UpRequest(options=UpOptions(scale={"web": 1})))
    assert sorted(by_name(project_name)) == [f"{project_name}-db-1", f"{project_name}-web-1"]


def test_recreate_with_a_missing_image_fails_naming_the_service_and_keeps_the_old_container(
        engine_driver, make_project, project_name) -> None:
    project = make_project(STACK)
    up(engine_driver, project, UpRequest())
    before = by_name(project_name)[f"{project_name}-web-1"]["Id"]
    broken = make_project(STACK.replace("MODE: one", "MODE: two").replace(
        "    environment", "    pull_policy: never\n    environment").replace(
        "image: stackctl/busybox:latest\n    command: [\"sleep\", \"300\"]\n    stop_signal: SIGKILL\n    pull",
        "image: stackctl/busybox:nope\n    command: [\"sleep\", \"300\"]\n    stop_signal: SIGKILL\n    pull"))
    assert broken.services["web"]["image"] == "stackctl/busybox:nope"
    with pytest.raises(Exception, match='service "web": image stackctl/busybox:nope not found'):
        up(engine_driver, broken, UpRequest())
    still = by_name(project_name)[f"{project_name}-web-1"]
    assert still["Id"] == before and still["State"]["Running"]


def test_a_dependency_that_exits_at_once_skips_its_dependents_and_names_both(engine_driver, make_project,
                                                                             project_name) -> None:
    project = make_project(STACK.replace('command: ["sleep", "300"]\n    stop_signal: SIGKILL\n    volumes',
                                         'command: ["sh", "-c", "exit 3"]\n    volumes'))
    with pytest.raises(ExecutionError) as err:
        up(engine_driver, project, UpRequest(wait_timeout=30))
    message = str(err.value)
    assert "service db" in message and "exited (3)" in message and "web" in message
    web = by_name(project_name)[f"{project_name}-web-1"]
    assert not web["State"]["Running"]


def test_recreate_with_an_option_the_engine_refuses_keeps_the_old_container_running(engine_driver, make_project,
                                                                                    project_name) -> None:
    project = make_project(STACK)
    up(engine_driver, project, UpRequest())
    before = by_name(project_name)
    broken = make_project(STACK.replace("    environment: {MODE: one}", "    environment: {MODE: two}\n"
                                        "    cap_add: [NOT_A_CAPABILITY]"))
    with pytest.raises(ExecutionError) as err:
        up(engine_driver, broken, UpRequest())
    assert "service web" in str(err.value) and "NOT_A_CAPABILITY" in str(err.value)
    after = by_name(project_name)
    assert sorted(after) == sorted(before)  # no temporary container left behind either
    for name in (f"{project_name}-web-1", f"{project_name}-web-2"):
        assert after[name]["Id"] == before[name]["Id"] and after[name]["State"]["Running"]


def test_recreate_keeps_the_data_of_anonymous_volumes(engine_driver, make_project, project_name) -> None:
    stack = ("services:\n  keeper:\n    image: stackctl/busybox:latest\n    command: [sleep, '300']\n"
             "    stop_signal: SIGKILL\n    volumes: [/anon]\n    environment: {V: '1'}\n")
    up(engine_driver, make_project(stack), UpRequest())
    name = f"{project_name}-keeper-1"
    subprocess.run(["docker", "exec", name, "sh", "-c", "echo precious > /anon/file"], check=True)
    before = by_name(project_name)[name]
    result = up(engine_driver, make_project(stack.replace("V: '1'", "V: '2'")), UpRequest())
    assert [a.target for a in result.plan.of_kind("recreate_container")] == [name]
    after = by_name(project_name)[name]
    assert after["Id"] != before["Id"]
    read = subprocess.run(["docker", "exec", name, "cat", "/anon/file"], check=False, capture_output=True,
                          text=True)
    assert read.stdout == "precious\n"
    volume = after["Mounts"][0]["Name"]
    down(engine_driver, Target(project_name, make_project(stack)), volumes=True)
    gone = subprocess.run(["docker", "volume", "inspect", volume], check=False, capture_output=True)
    assert gone.returncode != 0  # down -v removes the handed-over anonymous volume too
