"""`stackctl stack|service|node` through the real CLI, against a real etcd reached through a real sshd tunnel.

No agent runs here: deploy is checked by what it wrote; convergence by a stand-in leader (a thread that
writes running task records, as the leader would); the listings by records written as a leader would.
"""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from typing import Any

import pytest

from tests.integration.swarm_cli.conftest import Cluster, free_port

pytestmark = pytest.mark.engine

COMPOSE = """\
services:
  web:
    image: stackctl/busybox:latest
    command: [sleep, "300"]
    ports: ["8080:80"]
    deploy:
      replicas: 2
  db:
    image: stackctl/busybox:latest
    command: [sleep, "300"]
    deploy:
      mode: global
"""


def task(tid: str, service: str, slot: int, *, state: str = "running", node: str | None = "m1",
         spec_hash: str = "", message: str = "", container_id: str | None = None, now: float | None = None,
         desired: str = "running") -> dict[str, Any]:
    now = time.time() if now is None else now
    return {"id": tid, "stack": "shop", "service": service, "slot": slot, "node": node, "desired": desired,
            "state": state, "container_id": container_id, "message": message, "spec_hash": spec_hash,
            "service_version": 1, "leader_rev": 7, "created": now, "updated": now}


def put_task(cluster: Cluster, t: dict[str, Any]) -> None:
    where = t["slot"] if t["slot"] else t["node"]
    cluster.put(f"tasks/{t['stack']}/{t['service']}/{where}/{t['id']}", json.dumps(t).encode())


def put_node(cluster: Cluster, name: str = "m1", **fields: Any) -> None:
    record = {"name": name, "address": "127.0.0.1", "role": "manager", "availability": "active", "labels": {},
              "cpus": 2.0, "memory": 2**31, "state": "ready", "message": "", "last_seen": time.time(),
              "engine_version": "20.10.24", **fields}
    cluster.put(f"nodes/{name}", json.dumps(record).encode())


@pytest.fixture
def project(cluster: Cluster, busybox_image: str) -> Cluster:
    (cluster.dir / "compose.yaml").write_text(COMPOSE)
    return cluster


def deploy(cluster: Cluster, *extra: str) -> subprocess.CompletedProcess[str]:
    return cluster.cli("stack", "deploy", "-c", "compose.yaml", *extra, "shop")


def local_id(image: str) -> str:
    return subprocess.run(["docker", "image", "inspect", "--format", "{{.Id}}", image], capture_output=True,
                          text=True, check=True).stdout.strip()


def test_deploy_detached_writes_the_stack_and_its_services(project: Cluster) -> None:
    put_node(project)
    out = deploy(project, "--detach")
    assert out.returncode == 0, out.stderr
    assert "Deploying service shop_web" in out.stdout and "Deploying service shop_db" in out.stdout
    stack = project.get_prefix("stacks/")["stacks/shop"]
    assert stack["version"] == 1 and set(stack["document"]["services"]) == {"web", "db"}
    assert stack["images"] == {"stackctl/busybox:latest": local_id("stackctl/busybox:latest")}
    services = project.get_prefix("services/shop/")
    assert {k: (v["mode"], v["replicas"], v["version"]) for k, v in services.items()} == {
        "services/shop/web": ("replicated", 2, 1), "services/shop/db": ("global", 0, 1)}
    assert "Shipped" not in out.stdout  # the node's engine is this machine's: the image is there already

    again = deploy(project, "--detach")
    assert again.returncode == 0 and "Stack shop is up to date" in again.stdout
    assert project.get_prefix("stacks/")["stacks/shop"]["version"] == 1


@pytest.mark.parametrize("text, words", [
    ("services:\n  web:\n    image: a\n    deploy: {endpoint_mode: dnsrr}\n", "dnsrr cannot work"),
    ("services:\n  web:\n    image: a\n    ports: [\n", "compose.yaml"),
    ("services:\n  web:\n    image: a\n    deploy: {placement: {constraints: [engine.labels.a==b]}}\n",
     "unknown key"),
])
def test_a_bad_file_is_refused_in_one_line_and_changes_nothing(cluster: Cluster, text: str, words: str) -> None:
    (cluster.dir / "compose.yaml").write_text(text)
    out = deploy(cluster)
    assert out.returncode == 1 and words in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1 and "Traceback" not in out.stderr
    assert cluster.get_prefix("") == {}


def test_deploy_waits_until_a_leader_runs_every_task(project: Cluster) -> None:
    stop = threading.Event()

    def leader() -> None:  # writes running tasks for what the deploy asked, as the leader would
        while not stop.is_set():
            services = project.get_prefix("services/shop/")
            if len(services) == 2:
                web, db = services["services/shop/web"], services["services/shop/db"]
                time.sleep(0.5)
                put_task(project, task("aaaaaaaaaaa1", "web", 1, spec_hash=web["spec_hash"]))
                put_task(project, task("aaaaaaaaaaa2", "web", 2, state="starting", spec_hash=web["spec_hash"]))
                put_task(project, task("aaaaaaaaaaa3", "db", 0, spec_hash=db["spec_hash"]))
                time.sleep(0.5)
                put_task(project, task("aaaaaaaaaaa2", "web", 2, spec_hash=web["spec_hash"]))
                return
            time.sleep(0.05)

    thread = threading.Thread(target=leader)
    thread.start()
    try:
        out = deploy(project, "--timeout", "30")
    finally:
        stop.set()
        thread.join()
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "web: 2/2 running" in lines and "db: 1/1 running" in lines
    assert any(line.startswith("web: 1/2 running (shop_web.2: starting on m1") for line in lines)


def test_deploy_that_does_not_converge_exits_1_with_each_task_reason(project: Cluster) -> None:
    put_task(project, task("bbbbbbbbbbb1", "web", 1, state="pending", node=None,
                           message="no node with node.labels.disk==ssd"))
    out = deploy(project, "--timeout", "1.5")
    assert out.returncode == 1
    err = out.stderr.splitlines()
    assert err[0] == "stackctl: deploy of shop did not converge within 1.5 s"
    assert "stackctl:   shop_web.1: pending: no node with node.labels.disk==ssd" in err
    assert any("shop_db: no task yet" in line for line in err)


def test_listings_show_what_the_leader_wrote(project: Cluster) -> None:
    assert deploy(project, "--detach").returncode == 0
    web = project.get_prefix("services/shop/web")["services/shop/web"]
    now = time.time()
    put_task(project, task("ccccccccccc1", "web", 1, spec_hash=web["spec_hash"], now=now - 120))
    put_task(project, task("ccccccccccc2", "web", 2, state="pending", node=None, now=now - 5,
                           message="no node with node.labels.disk==ssd; 2 nodes lack 2 GiB of free memory"))
    put_task(project, task("ccccccccccc0", "web", 1, state="failed", desired="shutdown", now=now - 300,
                           message="task: non-zero exit (1)"))

    ls = project.cli("stack", "ls")
    assert ls.stdout.splitlines() == ["NAME      SERVICES", "shop      2"]
    services = project.cli("service", "ls", "--format", "json")
    rows = [json.loads(line) for line in services.stdout.splitlines()]
    assert [(r["Name"], r["Mode"], r["Replicas"], r["Ports"]) for r in rows] == [
        ("shop_db", "global", "0/0", ""), ("shop_web", "replicated", "1/2", "*:8080->80/tcp")]
    table = project.cli("stack", "services", "shop").stdout.splitlines()
    assert table[0].split() == ["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"] and len(table) == 3

    ps = project.cli("service", "ps", "shop_web", "--no-trunc")
    assert ps.returncode == 0, ps.stderr
    header, first, history, pending = ps.stdout.splitlines()
    assert header.split()[:4] == ["ID", "NAME", "IMAGE", "NODE"] and "DESIRED STATE" in header
    assert first.split()[:6] == ["ccccccccccc1", "shop_web.1", "stackctl/busybox:latest", "m1", "Running", "Running"]
    assert "About a minute ago" in first or "2 minutes ago" in first
    assert history.split()[:3] == ["ccccccccccc0", "\\_", "shop_web.1"] and '"task: non-zero exit (1)"' in history
    assert re.search(r"Pending \d+ seconds ago", pending)
    assert '"no node with node.labels.disk==ssd; 2 nodes lack 2 GiB of free memory"' in pending
    stack_ps = project.cli("stack", "ps", "shop", "--format", "json")
    assert {json.loads(line)["ID"] for line in stack_ps.stdout.splitlines()} == {
        "ccccccccccc0", "ccccccccccc1", "ccccccccccc2"}

    inspect = project.cli("service", "inspect", "shop_web")
    (doc,) = json.loads(inspect.stdout)
    assert doc["Name"] == "shop_web" and doc["Replicas"] == 2 and doc["Spec"]["command"] == ["sleep", "300"]
    missing = project.cli("service", "ps", "shop_nope")
    assert missing.returncode == 1 and missing.stderr.strip() == "stackctl: no such service: shop_nope"
    nothing = project.cli("stack", "ps", "nope")
    assert nothing.returncode == 1 and "nothing found in stack: nope" in nothing.stderr


def test_scale_writes_the_new_count_and_refuses_what_cannot_scale(project: Cluster) -> None:
    assert deploy(project, "--detach").returncode == 0
    out = project.cli("service", "scale", "shop_web=5", "-d")
    assert out.returncode == 0, out.stderr
    web = project.get_prefix("services/shop/web")["services/shop/web"]
    assert (web["replicas"], web["version"]) == (5, 2)
    bad = project.cli("service", "scale", "shop_web=1", "shop_nope=2", "-d")
    assert bad.returncode == 1 and "no such service: shop_nope" in bad.stderr
    assert project.get_prefix("services/shop/web")["services/shop/web"]["replicas"] == 5  # nothing changed
    glob = project.cli("service", "scale", "shop_db=3", "-d")
    assert glob.returncode == 1 and "replicated mode" in glob.stderr
    usage = project.cli("service", "scale", "shop_web")
    assert usage.returncode == 1 and "SERVICE=REPLICAS" in usage.stderr


def test_stack_rm_removes_the_desired_state(project: Cluster) -> None:
    assert deploy(project, "--detach").returncode == 0
    out = project.cli("stack", "rm", "shop")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["Removing service shop_db", "Removing service shop_web"]
    assert project.get_prefix("stacks/") == {} and project.get_prefix("services/") == {}
    again = project.cli("stack", "rm", "shop")
    assert again.returncode == 0 and "Nothing found in stack: shop" in again.stderr


def test_node_ls_inspect_update_read_and_write_the_cluster_state(cluster: Cluster) -> None:
    put_node(cluster, labels={"zone": "a"})
    put_task(cluster, task("ddddddddddd1", "web", 1))
    ls = cluster.cli("node", "ls")
    assert ls.returncode == 0, ls.stderr
    header, row = ls.stdout.splitlines()
    assert "AVAILABILITY" in header and "MANAGER STATUS" in header
    assert row.split()[:4] == ["m1", "127.0.0.1", "manager", "ready"] and row.split()[-1] == "zone=a"
    assert " active " in row

    out = cluster.cli("node", "update", "--availability", "drain", "--label-add", "disk=ssd", "--label-rm", "zone",
                      "m1")
    assert out.returncode == 0 and out.stdout.strip() == "m1", out.stderr
    record = cluster.get_prefix("nodes/")["nodes/m1"]
    assert record["availability"] == "drain" and record["labels"] == {"disk": "ssd"}
    inspect = json.loads(cluster.cli("node", "inspect", "m1").stdout)
    assert inspect["availability"] == "drain" and inspect["tasks"] == 1 and inspect["cluster_labels"] == {"disk": "ssd"}
    listed = json.loads(cluster.cli("node", "ls", "--format", "json").stdout)
    assert listed[0]["availability"] == "drain" and listed[0]["engine_version"]

    bad = cluster.cli("node", "update", "--availability", "sleep", "m1")
    assert bad.returncode != 0 and "invalid choice" in bad.stderr
    nothing = cluster.cli("node", "update", "m1")
    assert nothing.returncode == 1 and "nothing to change" in nothing.stderr


def test_an_unreachable_manager_is_skipped_for_the_next(cluster: Cluster, tmp_path: Any) -> None:
    doc = json.loads(cluster.inventory.read_text())
    dead = {"name": "m0", "address": "127.0.0.1", "role": "manager", "ssh": {"port": free_port()}}
    doc["nodes"] = [dead, *doc["nodes"]]
    two = tmp_path / "two.json"
    two.write_text(json.dumps(doc))
    from tests.conftest import run_cli

    out = run_cli("stack", "ls", "--cluster", str(two), env_vars=cluster.env)
    assert out.returncode == 0 and out.stdout.splitlines() == ["NAME      SERVICES"], out.stderr
    doc["nodes"] = [dead]
    two.write_text(json.dumps(doc))
    none = run_cli("stack", "ls", "--cluster", str(two), env_vars=cluster.env)
    assert none.returncode == 1 and "no manager of cluster loop answers: node m0" in none.stderr
    assert len(none.stderr.strip().splitlines()) == 1


def test_service_logs_reads_every_task_through_its_node(project: Cluster, busybox_image: str) -> None:
    names = []
    try:
        ids = []
        for slot in (1, 2):
            name = f"stackctl-logs-test-{slot}-{free_port()}"
            names.append(name)
            cid = subprocess.run(["docker", "run", "-d", "--name", name, busybox_image, "sh", "-c",
                                  f"echo hello from {slot}; echo oops {slot} >&2"],
                                 capture_output=True, text=True, check=True).stdout.strip()
            ids.append(cid)
        assert deploy(project, "--detach").returncode == 0
        for slot, cid in zip((1, 2), ids):
            put_task(project, task(f"eeeeeeeeeee{slot}", "web", slot, container_id=cid))
        subprocess.run(["docker", "wait", *names], capture_output=True, check=True)
        out = project.cli("service", "logs", "shop_web")
        assert out.returncode == 0, out.stderr
        assert sorted(out.stdout.splitlines()) == ["shop_web.1@m1 | hello from 1", "shop_web.2@m1 | hello from 2"]
        assert sorted(out.stderr.splitlines()) == ["shop_web.1@m1 | oops 1", "shop_web.2@m1 | oops 2"]
    finally:
        subprocess.run(["docker", "rm", "-f", *names], capture_output=True, check=False)
