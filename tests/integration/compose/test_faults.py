"""The issue's "bad input and faults" through the CLI, with a stack already running: one clear line,
exit code 1, no traceback, and what ran before still runs (same containers, still running)."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys

import pytest

from tests.integration.compose.conftest import by_name
from tests.integration.compose.stackrun import REPO, Stack
from tests.support import env as support

pytestmark = pytest.mark.engine

APP = """
services:
  api:
    image: stackctl/busybox:latest
    command: ["sleep", "300"]
    stop_signal: SIGKILL
  worker:
    image: stackctl/busybox:latest
    command: ["sleep", "300"]
    stop_signal: SIGKILL
    depends_on: [api]
"""
@pytest.fixture(scope="module")
def stack(tmp_path_factory, busybox_image) -> Stack:
    directory = tmp_path_factory.mktemp("faults")
    directory.chmod(0o755)
    (directory / "compose.yaml").write_text(APP)
    deployed = Stack(directory, f"sct{secrets.token_hex(3)}")
    assert deployed.run("up", "-d").returncode == 0
    yield deployed
    deployed.run("down", "-t", "0", "--remove-orphans")


@pytest.fixture
def running(stack: Stack) -> dict[str, str]:
    """The stack's containers before the fault; the test checks they are all still there, running."""
    before = stack.ids()
    assert len(before) == 2
    yield before
    after = by_name(stack.name)
    assert {n: after[n]["Id"] for n in before if n in after} == before
    assert all(after[n]["State"]["Running"] for n in before)


def one_error_line(out: subprocess.CompletedProcess[str]) -> str:
    assert out.returncode == 1, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    errors = [line for line in out.stderr.splitlines() if line.startswith("stackctl:")]
    assert len(errors) == 1, out.stderr
    return errors[0]


@pytest.mark.parametrize("args", [("up", "-d", "nope"), ("restart", "nope"), ("logs", "nope"),
                                  ("exec", "-T", "nope", "true"), ("port", "nope", "80"),
                                  ("run", "--rm", "nope", "true")])
def test_unknown_service_is_named(stack, running, args) -> None:
    assert one_error_line(stack.run(*args)) == "stackctl: no such service: nope"


def test_missing_image_of_a_new_service_names_it(stack, running) -> None:
    (stack.dir / "ghost.yaml").write_text("services:\n  ghost:\n    image: stackctl/none:404\n")
    line = one_error_line(stack.run("up", "-d", files=("ghost.yaml",)))
    assert "service ghost" in line and "stackctl/none:404" in line
    assert not any(n.endswith("-ghost-1") for n in stack.ids())


def test_port_taken_by_another_program_names_the_service(stack, running) -> None:
    with socket.socket() as holder:
        holder.bind(("0.0.0.0", 0))
        holder.listen()
        port = holder.getsockname()[1]
        (stack.dir / "web.yaml").write_text(f"services:\n  web:\n    image: stackctl/busybox:latest\n"
                                            f"    command: [sleep, '300']\n    ports: ['{port}:80']\n")
        line = one_error_line(stack.run("up", "-d", files=("web.yaml",)))
    assert "service web" in line and str(port) in line
    assert "address already in use" in line or "already allocated" in line
    web = by_name(stack.name).get(f"{stack.name}-web-1")
    assert web is None or not web["State"]["Running"]
    stack.run("rm", "-f", "web", files=("web.yaml",))


def test_engine_not_running_is_one_line_for_every_verb(stack, running, tmp_path) -> None:
    stale = tmp_path / "docker.sock"  # a socket file left behind by a dead dockerd: nobody listens
    with socket.socket(socket.AF_UNIX) as dead:
        dead.bind(str(stale))
    for host in (f"unix://{stale}", f"unix://{tmp_path}/absent.sock"):
        for args in (("up", "-d"), ("ps",), ("down",), ("logs",)):
            line = one_error_line(stack.run(*args, env={"DOCKER_HOST": host}))
            assert line == f"stackctl: cannot connect to the Docker engine at {host}: is dockerd running?"


@pytest.fixture(scope="module")
def unprivileged() -> tuple[str, ...]:
    """A command prefix that runs as a new system user outside the docker group. It keeps only the
    capability to read and search files (the interpreter may live under /root); writing to the
    root-owned socket needs CAP_DAC_OVERRIDE, which it does not have."""
    if os.geteuid() != 0 or not shutil.which("useradd") or not shutil.which("setpriv"):
        support.missing("needs root, useradd and setpriv to run a command as an unprivileged user")
    user = f"sct{secrets.token_hex(3)}"
    subprocess.run(["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", user], check=True)
    uid, gid = (subprocess.run(["id", flag, user], check=True, capture_output=True, text=True).stdout.strip()
                for flag in ("-u", "-g"))
    prefix = ("setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--inh-caps=+dac_read_search",
              "--ambient-caps=+dac_read_search", "--")
    probe = subprocess.run([*prefix, sys.executable, "-c", "import stackctl"], check=False, capture_output=True,
                           text=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    try:
        if probe.returncode != 0:
            support.missing(f"cannot run the interpreter as an unprivileged user: {probe.stderr.strip()[-200:]}")
        yield prefix
    finally:
        subprocess.run(["userdel", user], check=False)


@pytest.mark.parametrize("args", [("ps",), ("up", "-d"), ("down",)])
def test_permission_denied_on_the_socket_is_one_line(stack, running, unprivileged, args) -> None:
    out = stack.run(*args, prefix=unprivileged, env={"HOME": str(stack.dir)})
    assert one_error_line(out) == ("stackctl: permission denied on the Docker socket unix:///var/run/docker.sock: "
                                   "add your user to the docker group or use sudo")


def test_start_and_wait_on_a_project_without_containers_say_so(stack, running) -> None:
    empty = Stack(stack.dir, f"{stack.name}none")
    assert one_error_line(empty.run("start")) == f'stackctl: no container found for project "{empty.name}"'
    assert one_error_line(empty.run("wait", "api")) == f'stackctl: no containers for project "{empty.name}"'
    assert empty.ids() == {}
