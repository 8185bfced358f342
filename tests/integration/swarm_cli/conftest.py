"""A one-manager "cluster" on this machine's loopback: a real sshd (the manager's SSH) and a real etcd on
127.0.0.1 (the manager's loopback etcd), and an inventory naming them, so the real CLI reaches etcd the way
it reaches a cluster: through an SSH tunnel. The engine behind the node is this machine's.

Records are read and written with etcd's JSON gateway directly (not with stackctl's client), so a test
checks what the CLI wrote, and feeds the listings what a leader would have written.
"""

from __future__ import annotations

import base64
import json
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import run_cli

pytestmark = pytest.mark.engine


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait(pred: Any, what: str, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.05)
    raise AssertionError(f"{what} did not come up")


@dataclass
class Cluster:
    dir: pathlib.Path
    inventory: pathlib.Path
    etcd_url: str
    name: str
    env: dict[str, str]

    def cli(self, *args: str, cwd: pathlib.Path | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        return run_cli(*args, "--cluster", str(self.inventory), cwd=cwd or self.dir, env_vars=self.env,
                       timeout=timeout)

    # -- etcd's JSON gateway ------------------------------------------------------------------------
    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(self.etcd_url + path, data=json.dumps(body).encode(), method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read())  # type: ignore[no-any-return]

    @property
    def prefix(self) -> str:
        return f"/stackctl/{self.name}/"

    def put(self, key: str, value: bytes) -> None:
        self._post("/v3/kv/put", {"key": _b64(self.prefix + key), "value": base64.b64encode(value).decode()})

    def get_prefix(self, key: str) -> dict[str, Any]:
        start = self.prefix + key
        end = start[:-1] + chr(ord(start[-1]) + 1)
        out = self._post("/v3/kv/range", {"key": _b64(start), "range_end": _b64(end)})
        return {base64.b64decode(kv["key"]).decode()[len(self.prefix):]: json.loads(base64.b64decode(kv["value"]))
                for kv in out.get("kvs", [])}

    def wipe(self) -> None:
        start = self.prefix
        end = start[:-1] + chr(ord(start[-1]) + 1)
        self._post("/v3/kv/deleterange", {"key": _b64(start), "range_end": _b64(end)})


def _b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture(scope="session")
def loopback_cluster(tmp_path_factory: pytest.TempPathFactory, engine: None) -> Iterator[Cluster]:
    sshd_bin, etcd_bin = shutil.which("sshd") or "/usr/sbin/sshd", shutil.which("etcd")
    if os.geteuid() != 0 or not os.path.exists(sshd_bin) or not etcd_bin:
        from tests.support.env import missing
        missing("root, sshd (openssh-server) and etcd are needed for the cluster CLI tests")
    d = tmp_path_factory.mktemp("loopcluster")
    ssh_port, client_port, peer_port = free_port(), free_port(), free_port()
    for key in (d / "hostkey", d / "id_ed25519"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    (d / "authorized").write_text((d / "id_ed25519.pub").read_text())
    (d / "sshd_config").write_text(
        f"Port {ssh_port}\nListenAddress 127.0.0.1\nHostKey {d}/hostkey\nPidFile {d}/sshd.pid\n"
        f"AuthorizedKeysFile {d}/authorized\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nStrictModes no\nUsePAM no\nAllowTcpForwarding yes\nAllowStreamLocalForwarding yes\n")
    os.makedirs("/run/sshd", exist_ok=True)
    subprocess.run([sshd_bin, "-f", str(d / "sshd_config"), "-E", str(d / "sshd.log")], check=True)
    _wait(lambda: (d / "sshd.pid").exists(), "sshd")
    (d / "known_hosts").write_text(f"[127.0.0.1]:{ssh_port} {(d / 'hostkey.pub').read_text()}")
    url = f"http://127.0.0.1:{client_port}"
    etcd = subprocess.Popen([etcd_bin, "--name", "m1", "--data-dir", str(d / "etcd"),
                             "--listen-client-urls", url, "--advertise-client-urls", url,
                             "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
                             "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
                             "--initial-cluster", f"m1=http://127.0.0.1:{peer_port}"],
                            stdout=subprocess.DEVNULL, stderr=open(d / "etcd.log", "w"))  # noqa: SIM115
    cluster_name = "loop"
    inventory = {"version": 1, "name": cluster_name,
                 "ssh": {"user": "root", "port": ssh_port, "identity_file": str(d / "id_ed25519"),
                         "known_hosts": str(d / "known_hosts")},
                 "etcd": {"endpoints": [url]},
                 "nodes": [{"name": "m1", "address": "127.0.0.1", "role": "manager"}]}
    (d / "inventory.json").write_text(json.dumps(inventory))
    env = {**os.environ, "STACKCTL_HOME": str(d / "home")}
    env.pop("STACKCTL_CLUSTER", None)
    cluster = Cluster(dir=d, inventory=d / "inventory.json", etcd_url=url, name=cluster_name, env=env)

    def etcd_up() -> bool:
        try:
            cluster._post("/v3/maintenance/status", {})
            return True
        except OSError:
            return False

    try:
        _wait(etcd_up, "etcd")
        yield cluster
    finally:
        etcd.terminate()
        etcd.wait(10)
        os.kill(int((d / "sshd.pid").read_text()), signal.SIGTERM)


@pytest.fixture
def cluster(loopback_cluster: Cluster) -> Iterator[Cluster]:
    loopback_cluster.wipe()
    yield loopback_cluster
    loopback_cluster.wipe()
