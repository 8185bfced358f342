"""The real lab, made once per test session through the real CLI and removed at the end (also on failure).

The lab (name ``stktest``, 3 nodes, 3 managers) keeps its files under fixed directories, so a
session killed half-way leaves nothing the next session's ``lab up`` cannot find and remove. ``lab up``
starts sshd and dockerd only; the ``cluster`` fixture runs ``stackctl cluster init`` on it once (etcd
with TLS peers on the managers, the cluster key, the agents), for the tests that need a cluster.
"""

from __future__ import annotations

import os
import pathlib
import shutil
import sys
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import run_cli
from tests.support import env

LAB_NAME = "stktest"
LAB_SUBNET = "10.213.251.0/24"
ROOT = pathlib.Path("/var/tmp/stackctl-tests")
TOOLS = ("ip", "iptables", "nsenter", "unshare", "/usr/sbin/sshd", "dockerd", "etcd", "docker", "ssh-keygen")
# etcd is not the lab's: `cluster init` runs the host's etcd binary on the managers (nodes share /usr).


@dataclass(frozen=True)
class Lab:
    name: str
    env: dict[str, str]
    state: pathlib.Path
    inventory_file: pathlib.Path

    def cli(self, *args: str, timeout: float = 120):  # type: ignore[no-untyped-def]
        return run_cli(*args, env_vars=self.env, timeout=timeout)

    def inventory(self):  # type: ignore[no-untyped-def]
        from stackctl.cluster.inventory import load_inventory

        return load_inventory(self.inventory_file)


def lab_env(home: pathlib.Path) -> dict[str, str]:
    return {**os.environ, "STACKCTL_LAB_ROOT": str(ROOT / "lab-state"),
            "STACKCTL_LAB_RUN": str(ROOT / "lab-run"), "STACKCTL_HOME": str(home)}


def require_lab_host() -> None:
    if not sys.platform.startswith("linux") or os.geteuid() != 0:
        env.missing("the lab needs Linux and root")
    absent = [t for t in TOOLS if shutil.which(t) is None]
    if absent:
        env.missing(f"lab tools missing: {', '.join(absent)} (scripts/bootstrap.sh)")
    if not env.engine_answers():
        env.missing("no local Docker engine (scripts/start-dockerd.sh)")


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    require_lab_host()
    home = tmp_path_factory.mktemp("stackctl-home")
    vars_ = lab_env(home)
    the_lab = Lab(LAB_NAME, vars_, ROOT / "lab-state" / LAB_NAME,
                  ROOT / "lab-state" / LAB_NAME / "inventory.json")
    try:
        up = the_lab.cli("lab", "up", "--name", LAB_NAME, "--nodes", "3", "--managers", "3",
                         "--subnet", LAB_SUBNET)
        assert up.returncode == 0, up.stderr
        yield the_lab
    finally:
        down = the_lab.cli("lab", "down", "--name", LAB_NAME)
        assert down.returncode == 0, down.stderr


@pytest.fixture(scope="session")
def inventory(lab: Lab):  # type: ignore[no-untyped-def]
    return lab.inventory()


@dataclass(frozen=True)
class Cluster:
    """The session lab after its first `stackctl cluster init`, and what that run printed."""

    lab: Lab
    stdout: str
    stderr: str
    seconds: float


@pytest.fixture(scope="session")
def cluster(lab: Lab) -> Cluster:
    import time

    started = time.monotonic()
    out = lab.cli("cluster", "init", timeout=300)
    assert out.returncode == 0, out.stderr
    return Cluster(lab, out.stdout, out.stderr, time.monotonic() - started)
