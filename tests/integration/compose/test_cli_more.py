"""Attached `up`, `run`, `exec`, `build`, `port`, `ls`, `images`, `kill -s`, `wait` through the CLI."""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time

import pytest

from tests.integration.compose.conftest import by_name, docker_json

pytestmark = pytest.mark.engine

APP = """
services:
  api:
    image: stackctl/busybox:latest
    command: ["sh", "-c", "echo api says hi; trap 'exit 0' TERM; while true; do sleep 0.1; done"]
    ports: ["80"]
  job:
    image: stackctl/busybox:latest
    command: ["sh", "-c", "sleep 0.5; exit 5"]
    profiles: [jobs]
"""


@pytest.fixture
def run(cli, tmp_path, project_name, busybox_image):
    env = {**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")}

    def go(*args: str, timeout: float = 120):
        return cli("compose", "-p", project_name, *args, cwd=tmp_path, env_vars=env, timeout=timeout)
    (tmp_path / "compose.yaml").write_text(APP)
    return go


def test_attached_up_streams_prefixed_logs_and_stops_on_interrupt(run, tmp_path, project_name) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "stackctl", "compose", "-p", project_name, "up"], cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "Attaching to api-1"
        first = proc.stdout.readline()
        assert first.strip() == "api-1  | api says hi"
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130  # as docker compose after Ctrl-C
        assert proc.stdout.read().strip() == "api-1 exited with code 0"
    finally:
        proc.kill()
    state = by_name(project_name)[f"{project_name}-api-1"]["State"]
    assert state["Status"] == "exited"


def test_run_exec_port_ls_images_kill(run, project_name) -> None:
    oneoff = run("run", "--rm", "-e", "WHO=tester", "api", "sh", "-c", "echo run by $WHO; exit 3")
    assert oneoff.returncode == 3 and oneoff.stdout.strip() == "run by tester"
    assert by_name(project_name) == {}  # --rm removed it, and api itself was not started by `run`

    assert run("up", "-d").returncode == 0
    executed = run("exec", "-T", "api", "sh", "-c", "echo in $HOSTNAME; exit 2")
    host = by_name(project_name)[f"{project_name}-api-1"]["Config"]["Hostname"]
    assert executed.returncode == 2 and executed.stdout.strip() == f"in {host}"

    port = run("port", "api", "80")
    engine_says = subprocess.run(["docker", "port", f"{project_name}-api-1", "80/tcp"], check=False,
                                 capture_output=True, text=True).stdout.splitlines()[0]
    assert port.returncode == 0 and port.stdout.strip() == engine_says

    listing = run("ls")
    assert project_name in listing.stdout and "running(1)" in listing.stdout
    images = run("images")
    assert f"{project_name}-api-1" in images.stdout and "stackctl/busybox" in images.stdout

    assert run("kill", "-s", "SIGTERM", "api").returncode == 0
    for _ in range(50):
        state = by_name(project_name)[f"{project_name}-api-1"]["State"]
        if state["Status"] == "exited":
            break
        time.sleep(0.1)
    assert state["Status"] == "exited" and state["ExitCode"] == 0  # the trap saw SIGTERM, not SIGKILL


def test_wait_returns_the_exit_code_of_a_one_shot_service(run) -> None:
    started = run("--profile", "jobs", "up", "-d", "job")
    assert started.returncode == 0, started.stderr
    assert run("--profile", "jobs", "wait", "job").returncode == 5


BUILD = """
services:
  app:
    build:
      context: .
      args: {GREETING: built-by-stackctl}
      target: final
    command: ["sleep", "300"]
"""
DOCKERFILE = """\
FROM stackctl/busybox:latest AS base
ARG GREETING
RUN echo "$GREETING" > /greeting
FROM base AS final
RUN echo final > /stage
"""


def test_up_builds_a_multi_stage_image_with_args_through_the_engine(cli, tmp_path, project_name,
                                                                     busybox_image) -> None:
    (tmp_path / "compose.yaml").write_text(BUILD)
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    out = cli("compose", "-p", project_name, "up", "-d", cwd=tmp_path, timeout=300)
    try:
        assert out.returncode == 0, out.stderr
        container = by_name(project_name)[f"{project_name}-app-1"]
        assert container["Config"]["Image"] == f"{project_name}-app"
        read = subprocess.run(["docker", "exec", f"{project_name}-app-1", "cat", "/greeting", "/stage"],
                              check=False, capture_output=True, text=True)
        assert read.stdout.split() == ["built-by-stackctl", "final"]
        image = docker_json("image", "inspect", f"{project_name}-app")[0]
        assert image["Config"]["Labels"]["com.docker.compose.service"] == "app"
        assert container["Config"]["Labels"]["com.docker.compose.image"] == image["Id"]
    finally:
        subprocess.run(["docker", "rm", "-f", f"{project_name}-app-1"], check=False, capture_output=True)
        subprocess.run(["docker", "rmi", "-f", f"{project_name}-app"], check=False, capture_output=True)


def test_ps_json_lists_published_ports(run, project_name) -> None:
    assert run("up", "-d").returncode == 0
    rows = [json.loads(line) for line in run("ps", "--format", "json").stdout.splitlines()]
    assert rows[0]["Publishers"][0]["TargetPort"] == 80 and rows[0]["Publishers"][0]["PublishedPort"] > 0


def test_exec_forwards_piped_stdin_and_separates_stderr(run, project_name, tmp_path) -> None:
    assert run("up", "-d", "api").returncode == 0
    out = subprocess.run([sys.executable, "-m", "stackctl", "compose", "-p", project_name, "exec", "-T", "api",
                          "sh", "-c", "tr a-z A-Z; echo oops >&2; exit 4"], cwd=tmp_path, input="piped\n",
                         check=False, capture_output=True, text=True, timeout=60)
    assert (out.returncode, out.stdout, out.stderr) == (4, "PIPED\n", "oops\n")


def test_exec_in_a_terminal_is_interactive(run, project_name, tmp_path) -> None:
    import pty

    assert run("up", "-d", "api").returncode == 0
    master, slave = pty.openpty()
    command = ["sh", "-c", "read line; echo got $line from $(tty); exit 5"]
    proc = subprocess.Popen([sys.executable, "-m", "stackctl", "compose", "-p", project_name, "exec", "api",
                             *command], cwd=tmp_path, stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    os.write(master, b"hello\n")
    seen, deadline = b"", time.monotonic() + 60
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 1)[0]:
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # the terminal closed: the command ended
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert proc.wait(timeout=60) == 5
    assert b"got hello from /dev/pts/" in seen  # typed input reached a command that has a terminal


def test_run_forwards_stdin_and_removes_the_one_off_container(run, project_name, tmp_path) -> None:
    out = subprocess.run([sys.executable, "-m", "stackctl", "compose", "-p", project_name, "run", "--rm", "-T",
                          "api", "sh", "-c", "wc -l; exit 6"], cwd=tmp_path, input="a\nb\nc\n", check=False,
                         capture_output=True, text=True, timeout=120)
    assert (out.returncode, out.stdout.strip()) == (6, "3")
    leftovers = subprocess.run(["docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={project_name}",
                                "--filter", "label=com.docker.compose.oneoff=True"], check=False,
                               capture_output=True, text=True).stdout.split()
    assert leftovers == []
