"""The lab and the SSH transport, side by side with docker-py's own ``ssh://`` client (paramiko).

Makes a lab of N nodes (root, Linux), then measures:
- ``lab up`` (goal for 3 nodes: <= 20 s) and ``lab down``;
- ``stackctl node ls`` on the N nodes, the whole command (goal for 10 nodes: <= 2 s), against a
  process that asks every node's ``info`` in parallel with ``docker.DockerClient("ssh://…")``;
- one engine API call on a connection already made: our forwarded socket vs a paramiko client.
Run: sudo .venv/bin/python bench/cluster_transport.py [--nodes 10] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from _common import report, stackctl_cmd

NAME = "bench"
ROOT = pathlib.Path("/var/tmp/stackctl-bench")

PEER = """
import sys, concurrent.futures, docker
addrs = sys.argv[1:]
def info(a):
    return docker.DockerClient(base_url=f"ssh://root@{a}", version="auto").info()["Name"]
with concurrent.futures.ThreadPoolExecutor(len(addrs)) as ex:
    print(list(ex.map(info, addrs)))
"""


def run(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{out.stderr[-2000:]}")
    return time.perf_counter() - start


def peer_home(state: pathlib.Path) -> pathlib.Path:
    """A HOME whose ~/.ssh lets paramiko log in to the lab nodes with the lab's key."""
    home = pathlib.Path(tempfile.mkdtemp(prefix="stackctl-bench-home-"))
    ssh = home / ".ssh"
    ssh.mkdir(mode=0o700)
    (ssh / "known_hosts").write_text((state / "known_hosts").read_text())
    (ssh / "config").write_text(f"Host *\n  User root\n  IdentityFile {state / 'id_ed25519'}\n")
    return home


async def per_call(inventory_file: pathlib.Path, calls: int) -> float:
    from stackctl.cluster.inventory import load_inventory
    from stackctl.drivers.ssh import SshTransport

    inv = load_inventory(inventory_file)
    async with SshTransport(inv.nodes[:1]) as t:
        session = t.session(inv.nodes[0].name)
        await session.engine("version")
        start = time.perf_counter()
        for _ in range(calls):
            await session.engine("version")
        return (time.perf_counter() - start) / calls


def peer_per_call(address: str, home: pathlib.Path, calls: int) -> float:
    code = (f"import time, docker; c = docker.DockerClient(base_url='ssh://root@{address}', version='auto');"
            f"c.version(); s = time.perf_counter()\nfor _ in range({calls}): c.version()\n"
            f"print((time.perf_counter() - s) / {calls})")
    out = subprocess.run([sys.executable, "-c", code], env={**os.environ, "HOME": str(home)},
                         capture_output=True, text=True, check=True)
    return float(out.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    home = pathlib.Path(tempfile.mkdtemp(prefix="stackctl-bench-"))
    env = {**os.environ, "STACKCTL_LAB_ROOT": str(ROOT / "state"), "STACKCTL_LAB_RUN": str(ROOT / "run"),
           "STACKCTL_HOME": str(home)}
    cli = stackctl_cmd()
    state = ROOT / "state" / NAME
    subprocess.run([*cli, "lab", "down", "--name", NAME], env=env, capture_output=True, check=False)
    phome: pathlib.Path | None = None
    try:
        up = run([*cli, "lab", "up", "--name", NAME, "--nodes", str(args.nodes), "--managers", "3"], env)
        time.sleep(2)  # let the fresh engines settle before timing reads
        addresses = [line.split()[0] for line in (state / "known_hosts").read_text().splitlines()]
        run([*cli, "node", "ls"], env)
        ours = statistics.median(run([*cli, "node", "ls"], env) for _ in range(args.runs))
        phome = peer_home(state)
        peer_env = {**os.environ, "HOME": str(phome)}
        run([sys.executable, "-c", PEER, *addresses], peer_env)
        theirs = statistics.median(run([sys.executable, "-c", PEER, *addresses], peer_env)
                                   for _ in range(args.runs))
        call_ours = asyncio.run(per_call(state / "inventory.json", 50))
        call_theirs = peer_per_call(addresses[0], phome, 50)
    finally:
        down = run([*cli, "lab", "down", "--name", NAME], env)
        for tmp in (home, phome):
            if tmp is not None:
                shutil.rmtree(tmp, ignore_errors=True)
    n = args.nodes
    report([
        (f"lab up, {n} nodes (3 etcd)", up, None, 20.0 if n <= 3 else None),
        (f"lab down, {n} nodes", down, None, None),
        (f"node ls, {n} nodes (whole command)", ours, theirs, 2.0 if n <= 10 else None),
        ("engine API call on an open connection", call_ours, call_theirs, None),
    ])


if __name__ == "__main__":
    main()
