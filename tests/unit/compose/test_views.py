"""`ps`, `ls` and `port` output, as docker compose prints them."""

from __future__ import annotations

import json

from stackctl.compose.views import ago, ls_table, port_of, ps_json, ps_table
from stackctl.plan.observed import ObservedContainer


def c(name: str, number: int = 1, **kw) -> ObservedContainer:
    base = {"id": f"id-{name}", "name": f"p-{name}-{number}", "service": name, "number": number,
            "image": "stackctl/busybox:latest", "command": "sleep 300", "created": "1000"}
    base.update(kw)
    return ObservedContainer(**base)


def test_ps_table_has_docker_compose_columns_and_engine_status() -> None:
    text = ps_table([c("web", status="Up 5 seconds (healthy)", ports=(("0.0.0.0", 8080, 80, "tcp"),))], now=1065)
    header, row = text.splitlines()
    assert header.split() == ["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]
    assert "p-web-1" in row and "About a minute ago" not in row and "1 minute ago" in row
    assert "Up 5 seconds (healthy)" in row and row.endswith("0.0.0.0:8080->80/tcp")


def test_ps_json_one_object_per_line_with_publishers() -> None:
    line = ps_json([c("web", state="running", ports=(("", 8080, 80, "tcp"),))], "p").strip()
    row = json.loads(line)
    assert row["Project"] == "p" and row["Service"] == "web" and row["State"] == "running"
    assert row["Publishers"] == [{"URL": "0.0.0.0", "TargetPort": 80, "PublishedPort": 8080, "Protocol": "tcp"}]


def test_ago_words() -> None:
    assert [ago(s) for s in (3, 61, 3600, 7200, 172800)] == [
        "3 seconds ago", "1 minute ago", "About an hour ago", "2 hours ago", "2 days ago"]


def test_ls_counts_states_and_hides_stopped_projects_unless_all() -> None:
    projects = [("shop", [c("web"), c("db", state="exited")]), ("old", [c("x", state="exited")])]
    assert ls_table(projects, all=False).splitlines()[1].split()[:2] == ["shop", "exited(1),"]
    assert len(ls_table(projects, all=True).splitlines()) == 3


def test_port_of_picks_the_replica_and_protocol() -> None:
    found = [c("web", 1, ports=(("0.0.0.0", 32768, 80, "tcp"),)), c("web", 2, ports=(("0.0.0.0", 32769, 80, "tcp"),))]
    assert port_of(found, "web", 80, index=2) == "0.0.0.0:32769"
    assert port_of(found, "web", 80, "udp") is None
