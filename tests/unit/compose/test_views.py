"""`ps`, `ls` and `port` output, as docker compose prints them."""

from __future__ import annotations

import json

from stackctl.compose.views import ago, images_table, ls_table, port_of, ps_json, ps_table
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
    assert "p-web-1" in row and "About a minute ago" in row
    assert "Up 5 seconds (healthy)" in row and row.endswith("0.0.0.0:8080->80/tcp")


def test_ps_json_one_object_per_line_with_publishers() -> None:
    line = ps_json([c("web", state="running", ports=(("", 8080, 80, "tcp"),))], "p").strip()
    row = json.loads(line)
    assert row["Project"] == "p" and row["Service"] == "web" and row["State"] == "running"
    assert row["Publishers"] == [{"URL": "0.0.0.0", "TargetPort": 80, "PublishedPort": 8080, "Protocol": "tcp"}]


def test_ps_json_has_docker_compose_keys_and_cuts_id_and_command_unless_no_trunc() -> None:
    long = c("web", id="ab" * 32, command="sh -c 'echo a long command line'", networks=frozenset({"p_b", "p_a"}),
             ports=(("0.0.0.0", 8080, 80, "tcp"),), volume_mounts=(("/data", "p_data"),))
    row = json.loads(ps_json([long], "p", now=1061))
    assert sorted(row) == ["Command", "CreatedAt", "ExitCode", "Health", "ID", "Image", "Labels", "LocalVolumes",
                           "Mounts", "Name", "Names", "Networks", "Ports", "Project", "Publishers", "RunningFor",
                           "Service", "Size", "State", "Status"]
    assert (row["ID"], row["Command"]) == ("ab" * 6, '"sh -c \'echo a long …"')
    assert (row["Networks"], row["Ports"], row["Mounts"], row["LocalVolumes"]) == (
        "p_a,p_b", "0.0.0.0:8080->80/tcp", "p_data", "1")
    assert row["RunningFor"] == "About a minute ago" and row["CreatedAt"].startswith("1970-01-01 ")
    full = json.loads(ps_json([long], "p", trunc=False))
    assert (full["ID"], full["Command"]) == ("ab" * 32, '"sh -c \'echo a long command line\'"')


def test_ago_words_are_docker_human_durations() -> None:
    seconds = (0.5, 1, 3, 61, 150, 3600, 7200, 172800, 86400 * 20, 86400 * 90, 86400 * 800)
    assert [ago(s) for s in seconds] == [
        "Less than a second ago", "1 second ago", "3 seconds ago", "About a minute ago", "2 minutes ago",
        "About an hour ago", "2 hours ago", "2 days ago", "2 weeks ago", "3 months ago", "2 years ago"]


def test_ls_counts_only_running_containers_and_hides_stopped_projects_unless_all() -> None:
    projects = [("shop", [c("web", state="running"), c("db", state="exited")]), ("old", [c("x", state="exited")])]
    assert [line.split()[:2] for line in ls_table(projects, all=False).splitlines()[1:]] == [["shop", "running(1)"]]
    assert [line.split()[:3] for line in ls_table(projects, all=True).splitlines()[1:]] == [
        ["shop", "exited(1),", "running(1)"], ["old", "exited(1)"]]


def test_images_lists_platform_and_age_of_each_container_image() -> None:
    info = {"Id": "sha256:" + "5" * 64, "Size": 1980000, "Os": "linux", "Architecture": "arm64", "Variant": "v8",
            "Created": "1970-01-01T00:00:10.093581901Z"}
    header, row = images_table([c("web")], {"stackctl/busybox:latest": info}, now=7210).splitlines()
    assert header.split() == ["CONTAINER", "REPOSITORY", "TAG", "PLATFORM", "IMAGE", "ID", "SIZE", "CREATED"]
    assert row.split() == ["p-web-1", "stackctl/busybox", "latest", "linux/arm64/v8", "5" * 12, "1.98MB", "2", "hours",
                           "ago"]


def test_port_of_picks_the_replica_and_protocol() -> None:
    found = [c("web", 1, ports=(("0.0.0.0", 32768, 80, "tcp"),)), c("web", 2, ports=(("0.0.0.0", 32769, 80, "tcp"),))]
    assert port_of(found, "web", 80, index=2) == "0.0.0.0:32769"
    assert port_of(found, "web", 80, "udp") is None
