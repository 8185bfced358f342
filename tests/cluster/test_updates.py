"""Deploying changes on the real lab: rolling updates under load, automatic and manual rollback, pause,
restart policies, a migration before its API, a `build:` service without a registry, and an update that
survives the death of its leader. Through the real CLI against the suite's cluster (``stktest``).

``STACKCTL_UPDATES_LAB=1`` runs them on the current cluster of ``$STACKCTL_HOME`` (one made by hand)
instead of the suite's own.
"""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, Self

import pytest

from stackctl.drivers.ssh import SshTransport
from tests.cluster.conftest import Cluster

WEB = """
services:
  web:
    image: stackctl/busybox:latest
    command: ["sh", "-c", "[ \\"$${VERSION}\\" = bad ] && exit 3; echo $${VERSION} > /tmp/index.html; trap 'exit 0' TERM; httpd -p 8080 -h /tmp; while :; do sleep 1 & wait; done"]
    environment: {VERSION: "${VERSION}"}
    ports: ["8080:8080"]
    stop_grace_period: 2s
    healthcheck: {test: ["CMD", "wget", "-qO-", "http://127.0.0.1:8080/"], interval: 1s, timeout: 1s, retries: 2}
    deploy:
      replicas: 2
      update_config: {parallelism: 1, order: start-first, failure_action: rollback, monitor: 3s}
      rollback_config: {parallelism: 2}
"""
WORKER = """
services:
  worker:
    image: stackctl/busybox:latest
    command: ["sh", "-c", "[ \\"$${VERSION}\\" = bad ] && exit 3; trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
    environment: {VERSION: "${VERSION}"}
    stop_grace_period: 1s
    deploy:
      replicas: ${REPLICAS}
      update_config: {parallelism: 1, delay: "${DELAY}", failure_action: pause, monitor: 2s}
"""


class Cli:
    def __init__(self, env: dict[str, str], workdir: pathlib.Path) -> None:
        self.env, self.workdir = env, workdir

    def __call__(self, *args: str, timeout: float = 120,
                 env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "stackctl", *args], check=False, capture_output=True, text=True,
                              env={**self.env, **(env or {})}, timeout=timeout, cwd=self.workdir)

    def deploy(self, text: str, stack: str, *extra: str, **env: str) -> subprocess.CompletedProcess[str]:
        path = self.workdir / f"{stack}.yaml"
        path.write_text(text)
        return self("stack", "deploy", "-c", str(path), *extra, stack, env=env)

    def rows(self, *args: str) -> list[dict[str, Any]]:
        out = self(*args, "--format", "json")
        assert out.returncode == 0, out.stderr
        return [json.loads(line) for line in out.stdout.splitlines() if line.strip()]

    def inspect(self, service: str) -> dict[str, Any]:
        out = self("service", "inspect", service)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)[0]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def cli(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    if os.environ.get("STACKCTL_UPDATES_LAB"):
        env = dict(os.environ)
    else:
        cluster: Cluster = request.getfixturevalue("cluster")
        env = cluster.lab.env
    c = Cli(env, tmp_path_factory.mktemp("updates"))
    yield c
    for stack in ("upweb", "upwork", "upapp", "upfail"):
        c("stack", "rm", stack)


def nodes(cli: Cli) -> list[dict[str, Any]]:
    out = cli("node", "ls", "--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)  # type: ignore[no-any-return]


def addresses(cli: Cli) -> list[str]:
    return [n["address"] for n in nodes(cli)]


def running(cli: Cli, service: str) -> list[dict[str, Any]]:
    return [r for r in cli.rows("service", "ps", service)
            if r["DesiredState"] == "Running" and r["CurrentState"].startswith("Running")]


def wait_for(what: str, check: Any, timeout: float = 30) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = check()
        if got:
            return got
        time.sleep(0.3)
    raise AssertionError(f"{what}: not within {timeout:g} s")


class Load:
    """Steady HTTP requests through a stackctl balancer in front of every node's published port (no routing
    mesh yet: the balancer is the client's view of 'the service'); counts the answers and the failures."""

    def __init__(self, cli: Cli, backends: list[str], port: int) -> None:
        self.conf = cli.workdir / "lb.yaml"
        self.conf.write_text(json.dumps({"listeners": {"web": {
            "bind": f"127.0.0.1:{port}", "backends": backends,
            "health": {"interval": "300ms", "timeout": "300ms", "rise": 1, "fall": 1}}}}))
        self.proc = subprocess.Popen([sys.executable, "-m", "stackctl", "lb", "serve", "-c", str(self.conf)],
                                     env=cli.env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.port, self.ok, self.failed, self.bodies = port, 0, [], set()  # type: ignore[var-annotated]
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)

    def one(self) -> str:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=3)
        try:
            conn.request("GET", "/")
            resp = conn.getresponse()
            body = resp.read().decode().strip()
            if resp.status != 200:
                raise OSError(f"HTTP {resp.status}")
            return body
        finally:
            conn.close()

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.bodies.add(self.one())
                self.ok += 1
            except (OSError, http.client.HTTPException) as exc:
                self.failed.append(repr(exc))
            time.sleep(0.02)

    def __enter__(self) -> Self:
        wait_for("the balancer answers", lambda: self._try())
        self.thread.start()
        return self

    def _try(self) -> bool:
        try:
            self.one()
            return True
        except (OSError, http.client.HTTPException):
            return False

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(5)
        self.proc.terminate()
        self.proc.wait(10)


def test_rolling_update_under_load_then_a_crashing_image_rolls_back_by_itself(cli: Cli) -> None:
    up = cli.deploy(WEB, "upweb", VERSION="v1")
    assert up.returncode == 0, up.stderr
    backends = [f"{a}:8080" for a in addresses(cli)]
    with Load(cli, backends, 18080) as load:
        started = time.monotonic()
        out = cli.deploy(WEB, "upweb", VERSION="v2")
        took = time.monotonic() - started
        assert out.returncode == 0, out.stdout + out.stderr
        assert "updating" in out.stdout
        wait_for("every replica on v2", lambda: {load.one() for _ in range(8)} == {"v2"})
        time.sleep(1)
    print(f"\nstart-first update of 2 replicas under load: {took:.1f} s, {load.ok} requests, "
          f"{len(load.failed)} failed")
    assert load.failed == [], load.failed[:5]
    assert load.bodies >= {"v1", "v2"}
    assert cli.inspect("upweb_web")["UpdateStatus"]["State"] == "completed"

    started = time.monotonic()
    bad = cli.deploy(WEB, "upweb", VERSION="bad")
    took = time.monotonic() - started
    print(f"crashing image rolled back in {took:.1f} s")
    assert bad.returncode == 1, bad.stdout
    assert "rolled back: 1 of 2 new tasks exited within 3s" in bad.stderr, bad.stderr
    ps = cli("service", "ps", "upweb_web")
    assert ps.stdout.startswith("upweb_web: rolled back: 1 of 2 new tasks exited within 3s"), ps.stdout
    status = cli.inspect("upweb_web")["UpdateStatus"]
    assert status["State"] == "rollback_completed"
    assert len(running(cli, "upweb_web")) == 2
    bodies = {urlget(a) for a in addresses(cli)} - {""}
    assert bodies == {"v2"}


def urlget(address: str) -> str:
    try:
        conn = http.client.HTTPConnection(address, 8080, timeout=2)
        conn.request("GET", "/")
        return conn.getresponse().read().decode().strip()
    except OSError:
        return ""


def test_pause_leaves_the_rest_on_the_old_spec_and_service_rollback_goes_back(cli: Cli) -> None:
    env = {"REPLICAS": "3", "DELAY": "0s"}
    assert cli.deploy(WORKER, "upwork", VERSION="v1", **env).returncode == 0
    v1 = cli.inspect("upwork_worker")["SpecHash"]
    bad = cli.deploy(WORKER, "upwork", VERSION="bad", **env)
    assert bad.returncode == 1, bad.stdout
    assert "paused: 1 of 3 new tasks exited within 2s" in bad.stderr, bad.stderr
    info = cli.inspect("upwork_worker")
    assert info["UpdateStatus"]["State"] == "paused"
    old = [r for r in running(cli, "upwork_worker")]
    assert len(old) == 2  # the two slots not reached stay on v1; the paused slot keeps failing on the bad spec
    rb = cli("service", "rollback", "upwork_worker")
    assert rb.returncode == 0, rb.stdout + rb.stderr
    info = cli.inspect("upwork_worker")
    assert info["SpecHash"] == v1 and info["UpdateStatus"]["State"] == "rollback_completed"
    assert len(running(cli, "upwork_worker")) == 3


def test_on_failure_with_max_attempts_2_stops_after_two_restarts(cli: Cli) -> None:
    text = """
services:
  flaky:
    image: stackctl/busybox:latest
    command: ["sh", "-c", "sleep 0.3; exit 1"]
    deploy:
      restart_policy: {condition: on-failure, delay: 200ms, max_attempts: 2}
"""
    out = cli.deploy(text, "upfail", "--detach")
    assert out.returncode == 0, out.stderr

    def gave_up() -> list[dict[str, Any]]:
        rows = cli.rows("service", "ps", "--no-trunc", "upfail_flaky")
        return rows if any("gave up" in r["Error"] for r in rows) else []
    rows = wait_for("the restart policy gave up", gave_up, 30)
    assert len(rows) == 3 and all(r["DesiredState"] == "Shutdown" for r in rows), rows
    assert [r["Attempt"] for r in rows] == ["2", "1", "0"], rows
    ps = cli("service", "ps", "--no-trunc", "upfail_flaky")
    assert "restart 2: the container exited with code 1; gave up after 2 restarts (max_attempts 2)" in ps.stdout
    time.sleep(2)
    assert len(cli.rows("service", "ps", "upfail_flaky")) == 3  # no more restarts
    cli("stack", "rm", "upfail")


def test_a_migration_completes_before_the_api_and_build_needs_no_registry(cli: Cli) -> None:
    ctx = cli.workdir / "app"
    ctx.mkdir(exist_ok=True)
    (ctx / "Dockerfile").write_text("FROM stackctl/busybox:latest\nRUN echo built > /built\n")
    text = """
services:
  migrate:
    build: ./app
    command: ["sh", "-c", "sleep 2; echo migrated"]
    deploy:
      restart_policy: {condition: on-failure}
  api:
    build: ./app
    command: ["sh", "-c", "cat /built; trap 'exit 0' TERM; while :; do sleep 1 & wait; done"]
    depends_on:
      migrate: {condition: service_completed_successfully}
    deploy:
      replicas: 2
      restart_policy: {condition: none}
"""
    out = cli.deploy(text, "upapp")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "Built upapp-api:" in out.stdout
    tasks = cli.rows("stack", "ps", "upapp")
    migrate = [r for r in tasks if r["Name"] == "upapp_migrate.1"]
    assert migrate and migrate[0]["CurrentState"].startswith("Complete"), tasks
    api = [r for r in tasks if r["Name"].startswith("upapp_api.") and r["DesiredState"] == "Running"]
    assert len(api) == 2 and all(r["Image"].startswith("upapp-api:") for r in api)
    logs = cli("service", "logs", "upapp_api")
    assert logs.stdout.count("built") == 2, logs.stdout
    # a build that fails changes nothing and shows the builder's last lines
    (ctx / "Dockerfile").write_text("FROM stackctl/busybox:latest\nRUN echo about to fail && exit 7\n")
    broken = cli.deploy(text, "upapp")
    assert broken.returncode == 1
    assert "the build failed, nothing was deployed" in broken.stderr and "about to fail" in broken.stderr
    assert [r["Image"] for r in cli.rows("stack", "ps", "upapp") if r["DesiredState"] == "Running"] == \
        [r["Image"] for r in api]


def test_an_update_interrupted_by_killing_the_leader_completes_under_the_new_one(cli: Cli) -> None:
    env = {"REPLICAS": "4", "DELAY": "1s"}
    assert cli.deploy(WORKER, "upwork", VERSION="k1", **env).returncode == 0
    assert cli.deploy(WORKER, "upwork", "--detach", VERSION="k2", **env).returncode == 0
    name = next(n["name"] for n in nodes(cli) if n["manager_status"] == "Leader")
    wait_for("the update started", lambda: cli.inspect("upwork_worker").get("UpdateStatus"), 10)
    kill_agent(cli, name)
    target = cli.inspect("upwork_worker")["SpecHash"]

    def done() -> bool:
        info = cli.inspect("upwork_worker")
        return bool(info["UpdateStatus"] and info["UpdateStatus"]["State"] == "completed")
    wait_for("the update completed under a new leader", done, 60)
    assert cli.inspect("upwork_worker")["SpecHash"] == target
    assert len(running(cli, "upwork_worker")) == 4
    containers = count_containers(cli, "upwork_worker")
    assert containers == 4, containers


def _inventory(cli: Cli) -> Any:
    from stackctl.cli.cluster import inventory_from_args

    class A:
        cluster = None
    old = dict(os.environ)
    os.environ.update(cli.env)
    try:
        return inventory_from_args(A())  # type: ignore[arg-type]
    finally:
        os.environ.clear()
        os.environ.update(old)


def _on_nodes(cli: Cli, command: str, names: list[str] | None = None) -> dict[str, str]:
    import asyncio

    inv = _inventory(cli)
    targets = [n for n in inv.nodes if names is None or n.name in names]

    async def go() -> list[str]:
        async with SshTransport(inv.nodes) as t:
            results = await asyncio.gather(*(t.session(n.name).run(command, timeout=30, check=False) for n in targets))
        return [r.stdout.strip() for r in results]
    return dict(zip([n.name for n in targets], asyncio.run(go())))


def kill_agent(cli: Cli, node: str) -> None:
    find = "pgrep -f 'stackctl agent --config /etc/stackctl/agent.json' | head -1"
    pid = _on_nodes(cli, find, [node])[node]
    assert pid.isdigit(), pid
    _on_nodes(cli, f"kill -9 {pid}", [node])


def count_containers(cli: Cli, service: str) -> int:
    stack, svc = service.split("_", 1)
    out = _on_nodes(cli, f"docker ps -q --filter label=io.stackctl.stack={stack} "
                         f"--filter label=io.stackctl.service={svc} | wc -l")
    return sum(int(v or 0) for v in out.values())
