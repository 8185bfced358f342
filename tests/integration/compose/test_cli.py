"""`stackctl compose …` as a user types it, checked against the engine's real state."""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import urllib.request

import pytest

from tests.integration.compose.conftest import by_name, ts

pytestmark = pytest.mark.engine

APP = """
services:
  api:
    image: stackctl/busybox:latest
    command: ["sh", "-c", "echo api up; exec sleep 300"]
    stop_signal: SIGKILL
  worker:
    image: stackctl/busybox:latest
    command: ["sleep", "300"]
    stop_signal: SIGKILL
    depends_on: [api]
"""


@pytest.fixture
def run(cli, tmp_path, project_name, busybox_image):
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}
    env.pop("DOCKER_HOST", None)

    def go(*args: str, files: tuple[str, ...] = ()):
        flags = [x for f in files for x in ("-f", f)]
        return cli("compose", *flags, "-p", project_name, *args, cwd=tmp_path, env_vars=env)
    return go


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_up_ps_logs_dry_run_and_down(run, tmp_path, project_name) -> None:
    (tmp_path / "compose.yaml").write_text(APP)
    out = run("up", "-d", "--dry-run")
    assert out.returncode == 0, out.stderr
    assert f"create container {project_name}-api-1: missing" in out.stdout
    assert by_name(project_name) == {}  # --dry-run touches nothing

    assert run("up", "-d").returncode == 0
    ps = run("ps", "--format", "json")
    rows = [json.loads(line) for line in ps.stdout.splitlines()]
    assert {(r["Service"], r["State"]) for r in rows} == {("api", "running"), ("worker", "running")}
    assert run("up", "-d", "--dry-run").stdout.strip() == "nothing to do: every container is up to date"

    (tmp_path / "compose.yaml").write_text(APP.replace("api up", "api v2"))
    plan = run("up", "-d", "--dry-run").stdout
    assert f"recreate container {project_name}-api-1: config changed" in plan
    assert "worker" not in plan

    logs = run("logs", "api")
    assert logs.stdout.strip() == "api-1  | api up"
    assert run("down").returncode == 0
    assert by_name(project_name) == {}


def test_unknown_service_and_missing_image_fail_cleanly_and_keep_what_runs(run, tmp_path, project_name) -> None:
    (tmp_path / "compose.yaml").write_text(APP)
    assert run("up", "-d").returncode == 0
    before = {n: c["Id"] for n, c in by_name(project_name).items()}
    unknown = run("up", "-d", "nope")
    assert unknown.returncode == 1 and "no such service: nope" in unknown.stderr
    (tmp_path / "compose.yaml").write_text(APP.replace("image: stackctl/busybox:latest\n    command: [\"sleep\"",
                                                       "image: stackctl/none:1\n    command: [\"sleep\""))
    missing = run("up", "-d")
    assert missing.returncode == 1
    assert "service worker" in missing.stderr and "stackctl/none:1" in missing.stderr
    assert "Traceback" not in missing.stderr
    after = by_name(project_name)
    assert {n: c["Id"] for n, c in after.items()} == before
    assert all(c["State"]["Running"] for c in after.values())


def test_port_already_taken_by_another_program_names_the_service(run, tmp_path, project_name) -> None:
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        (tmp_path / "compose.yaml").write_text(APP.replace("    stop_signal: SIGKILL\n  worker",
                                                           f"    stop_signal: SIGKILL\n    ports: [\"{port}:80\"]\n  worker"))
        out = run("up", "-d")
    assert out.returncode == 1
    assert "service api" in out.stderr and ("address already in use" in out.stderr or "allocated" in out.stderr)
    assert "worker" in out.stderr  # its dependent was not started, and says so
    assert "Traceback" not in out.stderr


def _get(port: int) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3) as resp:
        return resp.read().decode().strip()


def test_webapp_stack_serves_three_replicas_behind_one_port_and_scales_without_a_gap(run, tmp_path,
                                                                                     project_name) -> None:
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    port = free_port()
    (tmp_path / "override.yaml").write_text(f"services:\n  web:\n    ports: !override [\"{port}:80\"]\n"
                                            "    stop_grace_period: 1s\n")
    files = (os.path.join(repo, "stacks", "webapp", "compose.yaml"), str(tmp_path / "override.yaml"))
    out = run("up", "-d", "--wait", "--wait-timeout", "60", files=files)
    assert out.returncode == 0, out.stderr
    seen = by_name(project_name)
    assert sorted(seen) == [f"{project_name}-db-1", *(f"{project_name}-web-{i}" for i in (1, 2, 3))]
    assert seen[f"{project_name}-db-1"]["State"]["Health"]["Status"] == "healthy"
    hosts = set()
    for _ in range(30):
        hosts.add(_get(port))
        if len(hosts) == 3:
            break
        time.sleep(0.1)
    assert len(hosts) == 3 and all(h.startswith("hello from ") for h in hosts)
    ps = run("ps", files=files)
    assert ps.returncode == 0, ps.stderr
    balancer = ps.stdout.split("load balancer of ", 1)[1]  # the balancer is listed under the containers
    assert f"web-{port}-tcp 0.0.0.0:{port}/tcp" in balancer
    assert balancer.count(" up ") == 3, balancer  # one healthy backend per replica

    failures, stop = [], threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                _get(port)
            except OSError as exc:
                failures.append(exc)
            time.sleep(0.02)
    poller = threading.Thread(target=poll)
    poller.start()
    try:
        assert run("scale", "web=5", files=files).returncode == 0
        assert run("scale", "web=1", files=files).returncode == 0
    finally:
        stop.set()
        poller.join()
    assert failures == []  # the port kept serving while replicas came and went
    assert sorted(n for n in by_name(project_name) if "-web-" in n) == [f"{project_name}-web-1"]
    assert _get(port).startswith("hello from ")

    assert run("down", "-v", "-t", "0", files=files).returncode == 0
    assert by_name(project_name) == {}
    with pytest.raises(OSError):
        _get(port)


def test_jobs_stack_runs_the_migration_to_completion_before_the_api(run, project_name) -> None:
    repo = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    files = (os.path.join(repo, "stacks", "jobs", "compose.yaml"),)
    out = run("up", "-d", "--wait", "--wait-timeout", "60", files=files)
    assert out.returncode == 0, out.stderr
    seen = by_name(project_name)
    migrate, api = seen[f"{project_name}-migrate-1"], seen[f"{project_name}-api-1"]
    assert migrate["State"]["Status"] == "exited" and migrate["State"]["ExitCode"] == 0
    assert ts(api["State"]["StartedAt"]) > ts(migrate["State"]["FinishedAt"])
    port = run("port", "api", "80", files=files).stdout.strip().rsplit(":", 1)[1]
    assert _get(int(port)) == "schema v2"
    assert run("down", "-v", "-t", "0", files=files).returncode == 0


EAGER = """
services:
  slow:
    image: stackctl/busybox:latest
    command: ["sh", "-c", "sleep 3; touch /tmp/ok; exec sleep 300"]
    stop_signal: SIGKILL
    healthcheck: {test: ["CMD", "test", "-f", "/tmp/ok"], interval: 1s, retries: 30}
  fast:
    image: stackctl/busybox:latest
    command: ["sleep", "300"]
    stop_signal: SIGKILL
  after_slow:
    image: stackctl/busybox:latest
    command: ["sleep", "300"]
    stop_signal: SIGKILL
    depends_on: {slow: {condition: service_healthy}}
  after_fast:
    image: stackctl/busybox:latest
    command: ["sleep", "300"]
    stop_signal: SIGKILL
    depends_on: [fast]
"""


def test_each_service_starts_when_its_own_dependencies_are_ready_not_per_level(run, tmp_path,
                                                                               project_name) -> None:
    (tmp_path / "compose.yaml").write_text(EAGER)
    assert run("up", "-d").returncode == 0
    started = {n.split("-")[-2]: ts(c["State"]["StartedAt"]) for n, c in by_name(project_name).items()}
    health = by_name(project_name)[f"{project_name}-slow-1"]["State"]["Health"]["Log"]
    first_healthy = min(ts(h["End"]) for h in health if h["ExitCode"] == 0)
    assert started["after_fast"] < first_healthy < started["after_slow"]


def test_a_container_that_exits_at_once_fails_up_naming_it_and_leaves_the_rest_running(run, tmp_path,
                                                                                       project_name) -> None:
    (tmp_path / "compose.yaml").write_text(APP)
    assert run("up", "-d").returncode == 0
    before = {n: c["Id"] for n, c in by_name(project_name).items()}
    (tmp_path / "compose.yaml").write_text(APP + """  broken:
    image: stackctl/busybox:latest
    command: ["sh", "-c", "echo no config; exit 3"]
""")
    out = run("up", "-d", "--wait", "--wait-timeout", "30")
    assert out.returncode == 1
    assert f"service broken: container {project_name}-broken-1 exited (3)" in out.stderr
    after = by_name(project_name)
    assert {n: after[n]["Id"] for n in before} == before
    assert all(after[n]["State"]["Running"] for n in before)


def test_config_hash_label_through_the_loader_equals_docker_compose_config_hash(run, tmp_path, project_name,
                                                                              oracle) -> None:
    import subprocess

    # `$$` and shell characters in the command, which must stay a valid command (a container that dies at
    # once makes `up` fail, rightly).
    (tmp_path / "compose.yaml").write_text(APP.replace("api up", "api $$HOME '<&>'"))
    assert run("up", "-d").returncode == 0
    theirs = subprocess.run([str(oracle), "-p", project_name, "config", "--hash", "*"], cwd=tmp_path,
                            check=False, capture_output=True, text=True).stdout
    ours = {c["Config"]["Labels"]["com.docker.compose.service"]: c["Config"]["Labels"]["com.docker.compose.config-hash"]
            for c in by_name(project_name).values()}
    assert ours == dict(line.split() for line in theirs.splitlines())
