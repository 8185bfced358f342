"""`-H ssh://user@host`: the engine through the docker SDK's SSH transport, host key checked."""

from __future__ import annotations

import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time

import pytest

pytestmark = pytest.mark.engine


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sshd(tmp_path: pathlib.Path, engine: None):
    """A real sshd on loopback accepting one client key; HOME holds that key (and known_hosts)."""
    binary = shutil.which("sshd") or "/usr/sbin/sshd"
    if not os.path.exists(binary) or os.geteuid() != 0:
        from tests.support.env import missing
        missing("sshd (openssh-server) and root are needed for the ssh transport test")
    home, port = tmp_path / "home", _free_port()
    (home / ".ssh").mkdir(parents=True)
    for key in (tmp_path / "hostkey", home / ".ssh" / "id_ed25519"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    (tmp_path / "authorized").write_text((home / ".ssh" / "id_ed25519.pub").read_text())
    (tmp_path / "sshd_config").write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {tmp_path}/hostkey\nPidFile {tmp_path}/sshd.pid\n"
        f"AuthorizedKeysFile {tmp_path}/authorized\nPermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\nStrictModes no\nUsePAM no\n")
    os.makedirs("/run/sshd", exist_ok=True)
    subprocess.run([binary, "-f", str(tmp_path / "sshd_config"), "-E", str(tmp_path / "sshd.log")], check=True)
    for _ in range(50):
        if (tmp_path / "sshd.pid").exists():
            break
        time.sleep(0.1)
    pid = int((tmp_path / "sshd.pid").read_text())
    yield {"home": home, "port": port, "hostkey": (tmp_path / "hostkey.pub").read_text(), "dir": tmp_path}
    os.kill(pid, signal.SIGTERM)


def test_unknown_host_key_is_refused_then_trusted_key_works(sshd, cli, tmp_path, project_name,
                                                           busybox_image) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  a:\n    image: stackctl/busybox:latest\n    command: [sleep, '300']\n"
        "    stop_signal: SIGKILL\n")
    env = {**os.environ, "HOME": str(sshd["home"])}
    env.pop("DOCKER_HOST", None)
    host = f"ssh://root@127.0.0.1:{sshd['port']}"
    refused = cli("compose", "-p", project_name, "up", "-d", "-H", host, cwd=tmp_path, env_vars=env)
    assert refused.returncode == 1
    assert f"the SSH host key of {host} is unknown" in refused.stderr
    assert f"ssh-keyscan -p {sshd['port']} 127.0.0.1" in refused.stderr and "Traceback" not in refused.stderr

    (sshd["home"] / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{sshd['port']} {sshd['hostkey']}")
    env["DOCKER_HOST"] = host  # DOCKER_HOST is honoured like -H
    up = cli("compose", "-p", project_name, "up", "-d", cwd=tmp_path, env_vars=env)
    assert up.returncode == 0, up.stderr
    ps = cli("compose", "-p", project_name, "ps", "-q", cwd=tmp_path, env_vars=env)
    engine_ids = subprocess.run(["docker", "ps", "-q", "--no-trunc", "--filter",
                                 f"label=com.docker.compose.project={project_name}"],
                                check=False, capture_output=True, text=True).stdout.split()
    assert ps.stdout.split() == engine_ids and len(engine_ids) == 1


def test_changed_host_key_is_refused(sshd, cli, tmp_path) -> None:
    other = tmp_path / "other"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(other)], check=True)
    (sshd["home"] / ".ssh" / "known_hosts").write_text(
        f"[127.0.0.1]:{sshd['port']} {(tmp_path / 'other.pub').read_text()}")
    (tmp_path / "compose.yaml").write_text("services:\n  a:\n    image: stackctl/busybox:latest\n")
    env = {**os.environ, "HOME": str(sshd["home"])}
    out = cli("compose", "-p", "x", "ps", "-H", f"ssh://root@127.0.0.1:{sshd['port']}", cwd=tmp_path,
              env_vars=env)
    assert out.returncode == 1 and "host key" in out.stderr and "changed" in out.stderr
