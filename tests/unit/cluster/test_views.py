"""What `stack ls|ps|services`, `service ls|ps` print: docker's columns and JSON keys, its time wording, the
history of a slot, a pending task's reason in ERROR."""

from __future__ import annotations

import json

from stackctl.cluster.converge import progress
from stackctl.cluster.state import NodeRecord, ServiceRecord, StackRecord, TaskRecord
from stackctl.cluster.views import (
    find_service,
    json_lines,
    manager_status,
    node_fields,
    service_id,
    service_rows,
    service_table,
    stack_rows,
    stack_table,
    table,
    task_rows,
    task_table,
)
from stackctl.humanize import human_duration

DOC = {"services": {"web": {"image": "nginx:1", "ports": [{"mode": "ingress", "target": 80, "published": "8080",
                                                           "protocol": "tcp"}]},
                    "db": {"image": "redis", "deploy": {"mode": "global"}}}}
STACK = StackRecord(name="shop", document=DOC, version=1)
WEB = ServiceRecord(stack="shop", service="web", version=1, spec_hash="h1", replicas=3)
DB = ServiceRecord(stack="shop", service="db", version=1, spec_hash="h2", mode="global", replicas=0)


def task(tid: str, service: str = "web", slot: int = 1, *, state: str = "running", desired: str = "running",
         node: str | None = "node1", message: str = "", created: float = 100.0, spec: str = "h1") -> TaskRecord:
    return TaskRecord(id=tid * 12 if len(tid) == 1 else tid, stack="shop", service=service, slot=slot, node=node,
                      desired=desired, state=state, message=message, spec_hash=spec, created=created,  # type: ignore[arg-type]
                      updated=created)


def test_table_is_docker_tabwriter() -> None:
    assert table(["NAME", "SERVICES"], [["shop", "2"]]) == "NAME      SERVICES\nshop      2\n"
    assert table(["A", "B"], [["a-much-longer-cell", "x"]]).splitlines()[1] == "a-much-longer-cell   x"


def test_human_duration_is_go_units() -> None:
    assert [human_duration(s) for s in (0.4, 1, 59, 61, 600, 3600, 7200, 86400 * 3)] == [
        "Less than a second", "1 second", "59 seconds", "About a minute", "10 minutes", "About an hour",
        "2 hours", "3 days"]


def test_stack_ls() -> None:
    rows = stack_rows([STACK], [WEB, DB])
    assert rows == [{"Name": "shop", "Services": "2"}]
    assert stack_table(rows).splitlines()[0].split() == ["NAME", "SERVICES"]


def test_service_ls_columns_replicas_and_json() -> None:
    tasks = [task("a", slot=1), task("b", slot=2), task("c", slot=3, state="pending", node=None),
             task("d", "db", 0, node="node1", spec="h2"), task("e", "db", 0, node="node2", state="starting", spec="h2")]
    rows = service_rows([STACK], [WEB, DB], tasks)
    assert [(r["Name"], r["Mode"], r["Replicas"], r["Image"], r["Ports"]) for r in rows] == [
        ("shop_db", "global", "1/2", "redis", ""), ("shop_web", "replicated", "2/3", "nginx:1", "*:8080->80/tcp")]
    assert rows[1]["ID"] == service_id("shop", "web") and len(rows[1]["ID"]) == 12
    header = service_table(rows).splitlines()[0]
    assert header.split() == ["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"]
    first = json.loads(json_lines(rows).splitlines()[0])
    assert sorted(first) == ["ID", "Image", "Mode", "Name", "Ports", "Replicas"]


def test_service_ps_shows_states_history_and_why_pending() -> None:
    why = "no node with node.labels.disk==ssd; 2 nodes lack 2 GiB of free memory"
    tasks = [task("a", slot=1, created=90.0, state="failed", desired="shutdown", message="task: non-zero exit (1)"),
             task("b", slot=1, created=95.0),
             task("c", slot=2, state="pending", node=None, message=why, created=95.0)]
    rows = task_rows(tasks, [STACK], now=125.0)
    assert [r["Name"] for r in rows] == ["shop_web.1", " \\_ shop_web.1", "shop_web.2"]
    assert [r["DesiredState"] for r in rows] == ["Running", "Shutdown", "Running"]
    assert [r["CurrentState"] for r in rows] == ["Running 30 seconds ago", "Failed 35 seconds ago",
                                                 "Pending 30 seconds ago"]
    assert rows[1]["Error"] == '"task: non-zero exit (1)"' and rows[0]["Error"] == ""
    assert rows[2]["Error"].startswith('"no node with') and rows[2]["Error"].endswith('…"')
    assert task_rows(tasks, [STACK], now=125.0, trunc=False)[2]["Error"] == f'"{why}"'
    assert rows[2]["Node"] == "" and rows[0]["Node"] == "node1" and rows[0]["Image"] == "nginx:1"
    header = task_table(rows).splitlines()[0]
    assert [h.strip() for h in header.split("   ") if h.strip()] == [
        "ID", "NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE", "ERROR", "PORTS"]


def test_global_task_is_named_by_node() -> None:
    (row,) = task_rows([task("d", "db", 0, node="node2", spec="h2")], [STACK], now=100.0)
    assert row["Name"] == "shop_db.node2"


def test_find_service_by_name_or_id_prefix() -> None:
    assert find_service([WEB, DB], "shop_web") is WEB
    assert find_service([WEB, DB], service_id("shop", "db")[:6]) is DB
    assert find_service([WEB, DB], "web") is None


def test_node_fields_and_manager_status() -> None:
    n1 = NodeRecord(name="node1", address="10.0.0.1", role="manager", availability="drain", labels={"disk": "ssd"})
    n2 = NodeRecord(name="node2", address="10.0.0.2", role="manager", state="down")
    w = NodeRecord(name="node3", address="10.0.0.3")
    assert [manager_status(n, "node1") for n in (n1, n2, w)] == ["Leader", "Unreachable", ""]
    f = node_fields(n1, leader="node1", tasks=[task("a"), task("b", slot=2, desired="shutdown")])
    assert f["availability"] == "drain" and f["tasks"] == 1 and f["cluster_labels"] == {"disk": "ssd"}
    assert node_fields(None, leader=None, tasks=[])["availability"] is None


def test_progress_lines_and_convergence() -> None:
    tasks = [task("a", slot=1), task("b", slot=2, state="starting"),
             task("c", slot=3, state="pending", node=None, message="no node is active")]
    (p,) = progress([WEB], tasks, since=0.0)
    assert not p.converged and p.line() == "web: 1/3 running (shop_web.2: starting on node1)"
    assert "shop_web.3: pending: no node is active" in p.reasons
    done = [task("a", slot=1), task("b", slot=2), task("c", slot=3)]
    (p,) = progress([WEB], done, since=0.0)
    assert p.converged and p.line() == "web: 3/3 running"
    stale = [*done, task("d", slot=4)]  # scaled down but slot 4 still runs
    assert not progress([WEB], stale, since=0.0)[0].converged
    old_spec = [task("a", slot=1, spec="old"), task("b", slot=2), task("c", slot=3)]
    assert not progress([WEB], old_spec, since=0.0)[0].converged


def test_a_slot_failing_again_and_again_fails_the_deploy_early() -> None:
    tasks = [task(t, slot=1, state="failed", desired="shutdown", created=c, message="exit 1")
             for t, c in (("a", 10.0), ("b", 11.0), ("c", 12.0))]
    (p,) = progress([WEB], tasks, since=5.0)
    assert p.failed and p.reasons[0] == "shop_web.1 failed 3 times: exit 1"
    (late,) = progress([WEB], tasks, since=11.5)  # failures from before this deploy do not count
    assert not late.failed


def test_global_service_without_tasks_is_not_converged() -> None:
    (p,) = progress([DB], [], since=0.0)
    assert not p.converged and p.desired == 0 and "no task yet" in p.reasons[0]


def test_progress_prints_a_line_per_change_or_redraws_on_a_terminal() -> None:
    import io

    from stackctl.cli._swarm import Progress

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    starting = progress([WEB], [task("a", slot=1), task("b", slot=2, state="starting"), task("c", slot=3)], since=0)
    running = progress([WEB], [task("a", slot=1), task("b", slot=2), task("c", slot=3)], since=0)
    plain = io.StringIO()
    show = Progress(plain)
    for state in (starting, starting, running):
        show(state)
    assert plain.getvalue().splitlines() == ["web: 2/3 running (shop_web.2: starting on node1)", "web: 3/3 running"]
    tty = Tty()
    show = Progress(tty)
    show(starting)
    show(running)
    assert tty.getvalue() == ("\x1b[2Kweb: 2/3 running (shop_web.2: starting on node1)\n"
                              "\x1b[1F\x1b[2Kweb: 3/3 running\n")
