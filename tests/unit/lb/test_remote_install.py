"""Shipping stackctl to an engine's host: what the archive holds, how the probe is read, the tcp:// refusal."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from stackctl.drivers import ssh_install
from stackctl.drivers.ssh_command import SshCommandResult
from stackctl.errors import DriverError


@pytest.fixture(scope="module")
def bundle() -> ssh_install.Bundle:
    return ssh_install.build_bundle()


def test_archive_holds_stackctl_with_its_native_relay_and_pure_yaml(bundle: ssh_install.Bundle) -> None:
    with tarfile.open(fileobj=io.BytesIO(bundle.archive)) as tar:
        names = tar.getnames()
    assert "stackctl/cli/main.py" in names and "stackctl/lb/control.py" in names and "yaml/__init__.py" in names
    assert [n for n in names if n.endswith(".so")] == [n for n in names if n.startswith("stackctl/lb/_relay")
                                                       and n.endswith(".so")] != []
    assert not [n for n in names if "__pycache__" in n or n.endswith((".c", ".pyc"))]
    assert bundle.dirname.startswith(f"{bundle.version}-") and ssh_install.build_bundle().digest == bundle.digest


def _probe(bundle: ssh_install.Bundle, python: str, version: str, machine: str, stamp: str,
           others: str = "") -> ssh_install.Installation:
    text = f"/var/lib/stackctl\n{python}\n{version}\n{machine}\n{stamp}\n{others}\n"
    return ssh_install.parse_probe("ssh://root@n1", bundle, text)


def test_probe_reads_what_is_there(bundle: ssh_install.Bundle) -> None:
    same = _probe(bundle, "/usr/bin/python3", bundle.python, bundle.machine, bundle.digest)
    assert same.present and same.native and same.dir == f"/var/lib/stackctl/{bundle.dirname}"
    other = _probe(bundle, "/usr/bin/python3", "3.13", bundle.machine, "", f"0.0.9-abc {bundle.dirname}")
    assert not other.present and not other.native and other.others == ("0.0.9-abc",)  # asyncio engine there
    assert other.command("lb", "project", "stats").startswith(
        f"PYTHONPATH=/var/lib/stackctl/{bundle.dirname} /usr/bin/python3 -S -m stackctl lb project stats")


@pytest.mark.parametrize(("python", "version", "says"), [("", "none", "no python3"),
                                                           ("/usr/bin/python3", "3.9", "python3 there is 3.9")])
def test_a_host_that_cannot_run_stackctl_is_refused_in_one_line(bundle: ssh_install.Bundle, python: str,
                                                               version: str, says: str) -> None:
    with pytest.raises(DriverError) as err:
        _probe(bundle, python, version, "x86_64", "")
    assert says in str(err.value) and "\n" not in str(err.value)


class LocalRunner:
    """Runs the install scripts here as a non-root user would (base under XDG_DATA_HOME)."""

    def __init__(self, data: Path) -> None:
        self.data = data

    def run(self, command: str, *, input: bytes | None = None, timeout: float = 120.0,
            check: bool = True) -> SshCommandResult:
        prelude = f"id() {{ echo 1000; }}\nexport XDG_DATA_HOME={self.data}\n"
        p = subprocess.run(["sh", "-c", prelude + command], input=input, capture_output=True, timeout=timeout,
                           check=False)
        return SshCommandResult(p.returncode, p.stdout, p.stderr)


def test_install_unpacks_once_and_runs_with_the_hosts_python(bundle: ssh_install.Bundle, tmp_path: Path) -> None:
    runner = LocalRunner(tmp_path)
    found = ssh_install.probe(runner, "here", bundle)
    assert not found.present and found.base == f"{tmp_path}/stackctl"
    made = ssh_install.install(runner, found, bundle)
    assert made.present and (Path(made.dir) / "STAMP").read_text() == bundle.digest
    assert sorted(p.name for p in Path(made.base).iterdir()) == [bundle.dirname]  # no half-made leftovers
    assert ssh_install.install(runner, made, bundle) is made  # same version and content: nothing shipped
    out = runner.run(made.command("--version"))
    assert out.exit_status == 0 and out.stdout.decode().strip().endswith(bundle.version)


def test_tcp_engine_refuses_replicas_behind_one_port_before_anything_changes(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        'services:\n  web:\n    image: busybox\n    ports: ["8080:80"]\n    deploy:\n      replicas: 2\n')
    env = {**os.environ, "DOCKER_HOST": "tcp://192.0.2.1:2375", "XDG_STATE_HOME": str(tmp_path / "state")}
    out = subprocess.run([sys.executable, "-m", "stackctl", "compose", "up", "-d"], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=60, check=False)
    assert out.returncode == 1
    assert out.stderr.splitlines() == [out.stderr.strip()] and "tcp://192.0.2.1:2375: several replicas" in out.stderr
    assert "-H ssh://" in out.stderr and not (tmp_path / "state").exists()
