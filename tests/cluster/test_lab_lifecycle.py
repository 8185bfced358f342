"""`lab up` survives being killed half-way; `lab down` leaves nothing behind (its own small lab)."""

from __future__ import annotations

import json
import pathlib
import signal
import subprocess
import sys
import time

import pytest

from tests.cluster.conftest import ROOT, lab_env, require_lab_host
from tests.conftest import run_cli

pytestmark = pytest.mark.lab

NAME = "stkleak"
SUBNET = "10.213.252.0/24"


def traces() -> dict[str, list[str]]:
    """Everything on the host that names this lab."""
    def lines(argv: list[str]) -> list[str]:
        return subprocess.run(argv, capture_output=True, text=True, check=False).stdout.splitlines()

    cgroups = [str(p) for p in pathlib.Path("/sys/fs/cgroup").glob(f"*/stackctl-{NAME}-*")]
    return {
        "netns": [n for n in lines(["ip", "netns", "list"]) if f"stackctl-{NAME}-" in n],
        "links": [n for n in lines(["ip", "-o", "link", "show"]) if f"stk-{NAME}-" in n or f"stkbr-{NAME}" in n],
        "iptables": [r for r in lines(["iptables", "-w", "-S"]) if f"stackctl-lab-{NAME}" in r],
        "mounts": [m for m in pathlib.Path("/proc/self/mountinfo").read_text().splitlines() if f"/{NAME}" in m
                   and str(ROOT) in m],
        "cgroups": cgroups,
        "files": [str(p) for p in (ROOT / "lab-state" / NAME, ROOT / "lab-run" / NAME) if p.exists()],
    }


def alive(pid: int) -> bool:
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_killed_up_recovers_and_down_leaves_nothing(tmp_path, busybox_image) -> None:  # type: ignore[no-untyped-def]
    require_lab_host()
    env = lab_env(tmp_path)
    up_args = ["lab", "up", "--name", NAME, "--nodes", "2", "--managers", "1", "--subnet", SUBNET]
    try:
        half = subprocess.Popen([sys.executable, "-m", "stackctl", *up_args], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 30
        while not traces()["netns"] and time.monotonic() < deadline:  # killed while making the nodes
            time.sleep(0.02)
        half.send_signal(signal.SIGKILL)
        half.wait()
        left = traces()
        assert left["netns"] and left["files"]
        up = run_cli(*up_args, env_vars=env)
        assert up.returncode == 0, up.stderr
        assert "created" in up.stdout
        assert all(traces()[k] for k in ("netns", "links", "iptables", "mounts", "files"))

        load = run_cli("lab", "load", "--name", NAME, busybox_image, env_vars=env)
        assert load.returncode == 0, load.stderr
        sock = ROOT / "lab-state" / NAME / "nodes" / "node2" / "run" / "docker.sock"
        docker = ["docker", "-H", f"unix://{sock}"]
        cid = subprocess.run([*docker, "run", "-d", busybox_image, "sleep", "600"], capture_output=True,
                             text=True, check=True).stdout.strip()
        container_pid = int(subprocess.run([*docker, "inspect", "--format", "{{.State.Pid}}", cid],
                                           capture_output=True, text=True, check=True).stdout)
        status = json.loads(run_cli("lab", "status", "--name", NAME, "--format", "json", env_vars=env).stdout)
        assert [r["engine"] for r in status] == [True, True]
        node_pids = set(subprocess.run(["ip", "netns", "pids", f"stackctl-{NAME}-node2"], capture_output=True,
                                       text=True, check=False).stdout.split())
        assert len(node_pids) >= 3  # sshd, dockerd, containerd, shim
    finally:
        down = run_cli("lab", "down", "--name", NAME, env_vars=env)
    assert down.returncode == 0, down.stderr
    assert traces() == {k: [] for k in ("netns", "links", "iptables", "mounts", "cgroups", "files")}
    assert not alive(container_pid)
    assert not [p for p in node_pids if alive(int(p))]
    clusters = run_cli("cluster", "ls", "--format", "json", env_vars=env)
    assert json.loads(clusters.stdout) == []


def host_route() -> str:
    """A private /24 inside a network the host already routes (its own uplink, say)."""
    import ipaddress

    out = subprocess.run(["ip", "-4", "-o", "route", "show"], capture_output=True, text=True, check=True).stdout
    for line in out.splitlines():
        prefix = line.split()[0]
        if prefix != "default" and "/" in prefix and ipaddress.IPv4Network(prefix, strict=False).is_private:
            net = ipaddress.IPv4Network(prefix, strict=False)
            return str(next(net.subnets(new_prefix=24)) if net.prefixlen <= 24 else net.supernet(new_prefix=24))
    pytest.fail("no private host route to collide with")


def test_lab_refuses_bad_requests_clearly(tmp_path) -> None:  # type: ignore[no-untyped-def]
    require_lab_host()
    env = lab_env(tmp_path)
    for args, message in [
        (["--name", "Bad_Name"], "lab name 'Bad_Name' is invalid"),
        (["--name", "x1", "--nodes", "0"], "--nodes must be between 1 and"),
        (["--name", "x1", "--managers", "4"], "--managers must be between 0 and the number of nodes (3)"),
        (["--name", "x1", "--subnet", "8.8.8.0/24"], "not a private network"),
        (["--name", "x1", "--subnet", host_route()], "overlaps the host route"),
    ]:
        out = run_cli("lab", "up", *args, env_vars=env)
        assert out.returncode == 1 and message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
    assert not (ROOT / "lab-state" / "x1").exists()


@pytest.mark.parametrize(("platform", "euid", "message"), [
    ("darwin", 0, "the lab needs Linux namespaces (this is darwin)"),
    ("linux", 1000, "the lab needs root"),
])
def test_lab_explains_why_it_cannot_run_here(platform: str, euid: int, message: str) -> None:
    from stackctl.errors import LabError
    from stackctl.lab.lab import check_host

    with pytest.raises(LabError, match=message.replace("(", r"\(").replace(")", r"\)")):
        check_host(platform=platform, euid=euid)
