"""Every verb and flag of the issue through the CLI, each checked against the engine's real state:
ps -a/-q/--services, logs --tail/-t/-f, exec -u/-w/-e, run --rm/-e/--no-deps, stop/start/restart/kill/rm,
up --force-recreate/--no-recreate/--scale and `up SVC`, attached up with colours and Ctrl-C, and
COMPOSE_PROJECT_NAME, COMPOSE_FILE and DOCKER_HOST."""

from __future__ import annotations

import datetime
import os
import pty
import re
import secrets
import select
import signal
import subprocess
import sys
import time

import pytest

from tests.integration.compose.conftest import by_name, ts
from tests.integration.compose.stackrun import Stack

pytestmark = pytest.mark.engine

APP = """
services:
  talker:
    image: stackctl/busybox:latest
    command: ["sh", "-c", "echo one; echo two; echo three; trap 'exit 0' TERM; while true; do sleep 0.1; done"]
  quiet:
    image: stackctl/busybox:latest
    command: ["sleep", "300"]
    stop_signal: SIGKILL
    depends_on: [talker]
  ticker:
    image: stackctl/busybox:latest
    command: ["sh", "-c", "i=0; while true; do i=$$((i+1)); echo tick $$i; sleep 0.2; done"]
    stop_signal: SIGKILL
"""
@pytest.fixture(scope="module")
def stack(tmp_path_factory, busybox_image) -> Stack:
    directory = tmp_path_factory.mktemp("verbs")
    (directory / "compose.yaml").write_text(APP)
    deployed = Stack(directory, f"sct{secrets.token_hex(3)}")
    deployed.ok("up", "-d")
    yield deployed
    deployed.run("down", "-t", "0", "--remove-orphans")


def test_ps_quiet_all_and_services_match_the_engine(stack) -> None:
    stack.ok("up", "-d")
    stack.ok("stop", "quiet")
    running = {c["Id"] for c in by_name(stack.name).values() if c["State"]["Running"]}
    assert set(stack.ok("ps", "-q").split()) == running
    assert set(stack.ok("ps", "-aq").split()) == {c["Id"] for c in by_name(stack.name).values()}
    assert stack.ok("ps", "--services").split() == ["talker", "ticker"]
    assert stack.ok("ps", "-a", "--services").split() == ["quiet", "talker", "ticker"]
    table = stack.ok("ps", "-a").splitlines()
    assert table[0].split()[:4] == ["NAME", "IMAGE", "COMMAND", "SERVICE"]
    quiet = next(line for line in table if line.startswith(f"{stack.name}-quiet-1"))
    assert "Exited (137)" in quiet


def test_logs_tail_timestamps_and_follow(stack) -> None:
    stack.ok("up", "-d")
    for _ in range(50):
        if stack.ok("logs", "talker").count("\n") >= 3:
            break
        time.sleep(0.1)
    assert stack.ok("logs", "--tail", "2", "talker").splitlines() == ["talker-1  | two", "talker-1  | three"]
    assert stack.ok("logs", "-n", "1", "--no-log-prefix", "talker").splitlines() == ["three"]
    stamped = stack.ok("logs", "-t", "--tail", "1", "talker").splitlines()
    assert len(stamped) == 1 and stamped[0].endswith(" three")
    stamp = stamped[0].split(" | ")[1].split()[0]
    when = datetime.datetime.fromisoformat(stamp[:26] + "+00:00")
    started = datetime.datetime.fromisoformat(stack.c("talker")["State"]["StartedAt"][:26] + "+00:00")
    assert abs((when - started).total_seconds()) < 5

    follow = subprocess.Popen(stack.argv("logs", "-f", "--tail", "0", "ticker"), cwd=stack.dir, env=stack.env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        lines = [follow.stdout.readline().strip() for _ in range(2)]
    finally:
        follow.kill()
        follow.wait()
    numbers = [int(line.split("tick ")[1]) for line in lines]
    assert all(line.startswith("ticker-1  | tick ") for line in lines) and numbers[1] == numbers[0] + 1


def test_exec_user_workdir_and_environment(stack) -> None:
    stack.ok("up", "-d")
    out = stack.run("exec", "-T", "-u", "nobody", "-w", "/etc", "-e", "SET=a=b", "-e", "FROM_ME", "-e", "UNSET_HERE",
                    "talker", "sh", "-c", 'id -un; pwd; echo "$SET|$FROM_ME|${UNSET_HERE-unset}"; exit 7',
                    env={"FROM_ME": "mine"})
    assert out.returncode == 7
    assert out.stdout.splitlines() == ["nobody", "/etc", "a=b|mine|unset"]


def test_run_rm_env_and_no_deps(stack) -> None:
    stack.ok("up", "-d")
    stack.ok("stop", "talker", "quiet")
    out = stack.run("run", "--rm", "--no-deps", "-T", "-e", "WHO=tester", "-e", "FROM_ME", "quiet",
                    "sh", "-c", "echo $WHO $FROM_ME; exit 4", env={"FROM_ME": "mine"})
    assert out.returncode == 4 and out.stdout.strip() == "tester mine"
    assert not stack.c("talker")["State"]["Running"]  # --no-deps: the dependency stays stopped
    assert not [n for n in by_name(stack.name) if "-run-" in n]  # --rm removed the one-off container
    kept = stack.run("run", "-T", "quiet", "true")  # without --no-deps the dependency is started first
    assert kept.returncode == 0 and stack.c("talker")["State"]["Running"]
    oneoffs = [c for n, c in by_name(stack.name).items() if "-run-" in n]
    assert len(oneoffs) == 1 and oneoffs[0]["Config"]["Labels"]["com.docker.compose.oneoff"] == "True"
    oneoff_name = oneoffs[0]["Name"].lstrip("/")
    assert oneoff_name in stack.ok("ps", "-a") and oneoff_name not in stack.ok("ps")  # -a lists `run` ones
    subprocess.run(["docker", "rm", "-f", oneoffs[0]["Id"]], check=False, capture_output=True)
    detached = stack.ok("run", "-d", "quiet", "sleep", "30").strip()  # prints the new container's ID
    made = next(c for c in by_name(stack.name).values() if c["Id"] == detached)
    assert made["State"]["Running"] and made["Config"]["Labels"]["com.docker.compose.oneoff"] == "True"
    subprocess.run(["docker", "rm", "-f", detached], check=False, capture_output=True)


def test_stop_start_restart_kill_rm(stack) -> None:
    stack.ok("up", "-d")
    before = stack.c("talker")
    stack.ok("restart", "-t", "1", "talker")
    after = stack.c("talker")
    assert after["Id"] == before["Id"] and after["State"]["StartedAt"] != before["State"]["StartedAt"]
    assert after["State"]["Running"]
    stack.ok("stop", "talker")
    assert stack.c("talker")["State"]["ExitCode"] == 0  # stop sends SIGTERM: the trap exits 0
    stack.ok("start", "talker")
    assert stack.c("talker")["State"]["Running"]
    stack.ok("kill", "ticker")
    assert stack.c("ticker")["State"]["ExitCode"] == 137
    assert stack.ok("kill", "--dry-run", "ticker").strip() == "nothing to do: no container to kill"
    quiet = stack.c("quiet")["Id"]
    nothing = stack.run("rm", "-f", "quiet")  # -f only skips the question: a running container stays
    assert nothing.returncode == 0 and "No stopped containers" in nothing.stderr
    assert stack.c("quiet")["Id"] == quiet and stack.c("quiet")["State"]["Running"]
    asked = stack.run("rm", "ticker", answer="n\n")  # without -f docker compose asks first
    assert asked.stdout.startswith(f"Going to remove {stack.name}-ticker-1? [yN]")
    assert stack.c("ticker")["State"]["ExitCode"] == 137  # "n": still there
    assert stack.ok("rm", "-f", "ticker").strip() == f"Going to remove {stack.name}-ticker-1"
    stack.ok("rm", "-s", "-f", "quiet")
    assert sorted(by_name(stack.name)) == [f"{stack.name}-talker-1"]


def test_up_flags_recreate_scale_and_named_services(stack) -> None:
    stack.ok("up", "-d")
    ids = {n: c["Id"] for n, c in by_name(stack.name).items()}
    stack.ok("up", "-d", "--force-recreate", "ticker")
    after = {n: c["Id"] for n, c in by_name(stack.name).items()}
    assert after[f"{stack.name}-ticker-1"] != ids[f"{stack.name}-ticker-1"]
    assert {n: i for n, i in after.items() if "ticker" not in n} == {n: i for n, i in ids.items() if "ticker" not in n}

    (stack.dir / "compose.yaml").write_text(APP.replace('["sleep", "300"]', '["sleep", "301"]'))
    try:
        quiet = stack.c("quiet")["Id"]
        stack.ok("up", "-d", "--no-recreate")
        assert stack.c("quiet")["Id"] == quiet
        stack.ok("up", "-d", "--scale", "ticker=3", "--no-deps", "ticker")
        assert {n for n in by_name(stack.name) if "-ticker-" in n} == {f"{stack.name}-ticker-{i}" for i in (1, 2, 3)}
        assert stack.c("quiet")["Id"] == quiet  # not named: its changed config is left for later
        named = stack.run("up", "-d", "--remove-orphans", "ticker")
        assert "orphan" not in named.stderr.lower()  # the file's other services are not orphans
        assert stack.c("quiet")["Id"] == quiet and stack.c("quiet")["State"]["Running"]
        assert {n for n in by_name(stack.name) if "-ticker-" in n} == {f"{stack.name}-ticker-1"}
    finally:
        (stack.dir / "compose.yaml").write_text(APP)


def test_compose_project_name_compose_file_and_docker_host_are_honoured(stack, tmp_path) -> None:
    (tmp_path / "base.yaml").write_text(APP)
    (tmp_path / "over.yaml").write_text("services:\n  ticker:\n    environment: {FROM_OVERRIDE: 'yes'}\n")
    link = tmp_path / "engine.sock"
    link.symlink_to("/var/run/docker.sock")
    name = f"{stack.name}env"
    env = {**stack.env, "COMPOSE_PROJECT_NAME": name, "DOCKER_HOST": f"unix://{link}",
           "COMPOSE_FILE": f"{tmp_path}/base.yaml{os.pathsep}{tmp_path}/over.yaml"}
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    cmd = [sys.executable, "-m", "stackctl", "compose"]
    try:
        up = subprocess.run([*cmd, "up", "-d", "ticker"], check=False, cwd=elsewhere, env=env, capture_output=True,
                            text=True, timeout=120)
        assert up.returncode == 0, up.stderr
        made = by_name(name)[f"{name}-ticker-1"]
        assert "FROM_OVERRIDE=yes" in made["Config"]["Env"]
        assert made["Config"]["Labels"]["com.docker.compose.project.config_files"] == \
            f"{tmp_path}/base.yaml,{tmp_path}/over.yaml"
        dead = subprocess.run([*cmd, "ps"], check=False, cwd=elsewhere, capture_output=True, text=True, timeout=60,
                              env={**env, "DOCKER_HOST": f"unix://{tmp_path}/none.sock"})
        assert dead.returncode == 1 and "none.sock" in dead.stderr
        down = subprocess.run([*cmd, "down", "-t", "0"], check=False, cwd=elsewhere, env=env, capture_output=True,
                              text=True, timeout=120)
        assert down.returncode == 0 and by_name(name) == {}
        left = subprocess.run(["docker", "network", "ls", "-q", "--filter", f"label=com.docker.compose.project={name}"],
                              check=False, capture_output=True, text=True, timeout=60).stdout.split()
        assert left == []
    finally:
        subprocess.run(["docker", "rm", "-f", f"{name}-ticker-1"], check=False, capture_output=True)
        subprocess.run(["docker", "network", "rm", f"{name}_default"], check=False, capture_output=True)


def _read_until(fd: int, needle: bytes, seconds: float) -> bytes:
    got, end = b"", time.monotonic() + seconds
    while needle not in got and time.monotonic() < end:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if ready:
            try:
                got += os.read(fd, 4096)
            except OSError:
                break
    return got


def test_attached_up_in_a_terminal_colours_prefixes_and_ctrl_c_stops_only_the_named_service(stack) -> None:
    stack.ok("up", "-d")
    others = {s: stack.c(s)["State"]["StartedAt"] for s in ("quiet", "ticker")}
    stack.ok("stop", "talker")
    master, slave = pty.openpty()
    proc = subprocess.Popen(stack.argv("up", "talker"), cwd=stack.dir, env=stack.env, stdin=slave, stdout=slave,
                            stderr=slave, start_new_session=True)
    os.close(slave)
    try:
        seen = _read_until(master, b"three", 30)
        os.killpg(proc.pid, signal.SIGINT)
        seen += _read_until(master, b"exited with code", 30)
        assert proc.wait(timeout=60) == 130
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    text = seen.decode(errors="replace")
    prefix = "talker-1  | \x1b[0m"
    assert re.search(r"\x1b\[\d+m$", text.split(prefix)[0])  # the prefix is coloured
    assert [line.split(prefix)[1] for line in text.splitlines() if prefix in line] == ["one", "two", "three"]
    assert "Gracefully stopping" in text  # and the earlier run's output was not replayed
    assert "Attaching to talker-1\r\n" in text and "talker-1 exited with code 0" in text
    assert not stack.c("talker")["State"]["Running"]
    assert {s: (stack.c(s)["State"]["StartedAt"], stack.c(s)["State"]["Running"]) for s in others} == {
        s: (started, True) for s, started in others.items()}


RESTART = """
services:
  db:
    image: stackctl/busybox:latest
    command: ["sleep", "300"]
    stop_signal: SIGKILL
    environment: {V: "1"}
  web:
    image: stackctl/busybox:latest
    command: ["sleep", "300"]
    stop_signal: SIGKILL
    depends_on: {db: {condition: service_started, restart: true}}
"""


def test_depends_on_restart_true_restarts_the_dependent_after_its_dependency(tmp_path, busybox_image) -> None:
    (tmp_path / "compose.yaml").write_text(RESTART)
    mini = Stack(tmp_path, f"sct{secrets.token_hex(3)}")
    try:
        mini.ok("up", "-d")
        web = mini.c("web")
        (tmp_path / "compose.yaml").write_text(RESTART.replace('V: "1"', 'V: "2"'))
        assert "restart container " + f"{mini.name}-web-1: dependency recreated" in mini.ok("up", "-d", "--dry-run")
        mini.ok("up", "-d")
        db, web_after = mini.c("db"), mini.c("web")
        assert web_after["Id"] == web["Id"] and ts(web_after["State"]["StartedAt"]) > ts(db["State"]["StartedAt"])
        mini.ok("restart", "db")
        db, web = mini.c("db"), mini.c("web")
        assert ts(web["State"]["StartedAt"]) > ts(web_after["State"]["StartedAt"])
        assert ts(db["State"]["StartedAt"]) < ts(web["State"]["StartedAt"])  # the dependency first
    finally:
        mini.run("down", "-t", "0")


IMAGES = """
services:
  app:
    build: {context: ., args: {MSG: built-here}}
    command: [cat, /msg]
  ghost:
    image: stackctl/none:404
"""


def test_build_makes_the_image_and_pull_of_an_unknown_image_names_the_service(tmp_path, busybox_image) -> None:
    (tmp_path / "compose.yaml").write_text(IMAGES)
    (tmp_path / "Dockerfile").write_text('FROM stackctl/busybox:latest\nARG MSG=default\nRUN echo "$MSG" > /msg\n')
    mini = Stack(tmp_path, f"sct{secrets.token_hex(3)}")
    try:
        mini.ok("build")
        made = subprocess.run(["docker", "run", "--rm", f"{mini.name}-app", "cat", "/msg"], check=False, capture_output=True,
                              text=True, timeout=60)
        assert made.stdout.strip() == "built-here"
        pulled = mini.run("pull", "ghost")
        assert pulled.returncode == 1
        assert next(line for line in pulled.stderr.splitlines() if line.startswith("stackctl:")).startswith(
            "stackctl: service ghost: pull stackctl/none:404")
    finally:
        subprocess.run(["docker", "rmi", "-f", f"{mini.name}-app"], check=False, capture_output=True)


SHARED = """
services:
  a:
    image: stackctl/busybox:latest
    command: [sleep, "300"]
    stop_signal: SIGKILL
    ipc: shareable
    read_only: true
    mem_limit: 48m
    cpus: 0.25
    volumes: ["ext:/ext"]
    networks: [outside]
  b:
    image: stackctl/busybox:latest
    command: [sleep, "300"]
    stop_signal: SIGKILL
    ipc: "service:a"
    pid: "service:a"
    volumes_from: ["a:ro"]
    network_mode: none
networks:
  outside: {{external: true, name: {net}}}
volumes:
  ext: {{external: true, name: {vol}}}
"""


def test_pid_ipc_volumes_from_and_external_resources_reach_the_engine(tmp_path, busybox_image) -> None:
    mini = Stack(tmp_path, f"sct{secrets.token_hex(3)}")
    net, vol = f"{mini.name}-outside", f"{mini.name}-ext"
    subprocess.run(["docker", "network", "create", net], check=True, capture_output=True, timeout=60)
    subprocess.run(["docker", "volume", "create", vol], check=True, capture_output=True, timeout=60)
    (tmp_path / "compose.yaml").write_text(SHARED.format(net=net, vol=vol))
    try:
        mini.ok("up", "-d")
        a, b = mini.c("a"), mini.c("b")
        assert b["State"]["Running"]
        assert b["HostConfig"]["PidMode"] == b["HostConfig"]["IpcMode"] == f"container:{a['Id']}"
        assert b["HostConfig"]["VolumesFrom"] == [f"{mini.name}-a-1:ro"]
        assert a["HostConfig"]["Memory"] == 48 * 1024 * 1024 and a["HostConfig"]["NanoCpus"] == 250_000_000
        assert a["HostConfig"]["ReadonlyRootfs"] is True and list(a["NetworkSettings"]["Networks"]) == [net]
        written = subprocess.run(["docker", "exec", f"{mini.name}-b-1", "touch", "/ext/x"], check=False,
                                 capture_output=True, text=True, timeout=30)
        assert "Read-only file system" in written.stderr  # a's volume, mounted read-only through volumes_from
        mini.ok("down", "-v", "-t", "0")
        assert by_name(mini.name) == {}
        kept = [subprocess.run(["docker", kind, "inspect", name], check=False, capture_output=True).returncode
                for kind, name in (("network", net), ("volume", vol))]
        assert kept == [0, 0]  # external resources survive `down -v`
    finally:
        mini.run("down", "-t", "0")
        subprocess.run(["docker", "network", "rm", net], check=False, capture_output=True)
        subprocess.run(["docker", "volume", "rm", vol], check=False, capture_output=True)


def test_port_of_replicas_behind_the_balancer_is_the_published_port(tmp_path, busybox_image) -> None:
    import socket
    import urllib.request

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    image: stackctl/busybox:latest\n    stop_signal: SIGKILL\n"
        '    command: [sh, -c, "mkdir -p /www; hostname > /www/index.html; exec httpd -f -p 80 -h /www"]\n'
        f'    ports: ["{port}:80"]\n    deploy: {{replicas: 2}}\n')
    mini = Stack(tmp_path, f"sct{secrets.token_hex(3)}")
    try:
        mini.ok("up", "-d", "--wait")
        assert mini.ok("port", "web", "80").strip() == f"0.0.0.0:{port}"
        assert mini.ok("port", "--index", "2", "web", "80").strip() == f"0.0.0.0:{port}"
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as answer:
            assert answer.read().decode().strip() in {mini.c("web", n)["Config"]["Hostname"] for n in (1, 2)}
        assert mini.run("port", "web", "81").returncode == 1
    finally:
        mini.run("down", "-t", "0")
