"""The lab as a user sees it: separate machines that reach each other, with sshd and dockerd, their own
private directories, and no resolver outside this machine."""

from __future__ import annotations

import asyncio
import json
import socket
import time

import pytest

from stackctl.drivers.ssh import SshTransport

pytestmark = pytest.mark.lab

def run_on_all(inventory, command: str) -> dict[str, str]:  # type: ignore[no-untyped-def]
    async def go() -> dict[str, str]:
        async with SshTransport(inventory.nodes) as t:
            results = await asyncio.gather(*(t.session(n.name).run(command, timeout=20)
                                             for n in inventory.nodes))
        return {n.name: r.stdout.strip() for n, r in zip(inventory.nodes, results)}

    return asyncio.run(go())


def test_lab_up_again_is_harmless_and_keeps_the_nodes(lab, inventory) -> None:  # type: ignore[no-untyped-def]
    before = run_on_all(inventory, "cat /run/docker.pid")
    again = lab.cli("lab", "up", "--name", lab.name, "--nodes", "3", "--managers", "3",
                    "--subnet", "10.213.251.0/24")
    assert again.returncode == 0, again.stderr
    assert "already up" in again.stdout
    assert run_on_all(inventory, "cat /run/docker.pid") == before  # same engines, nothing restarted


def test_each_node_is_its_own_machine(inventory) -> None:  # type: ignore[no-untyped-def]
    out = run_on_all(inventory, "hostname; docker info --format '{{.Name}} {{.ID}}'; "
                                "ip -4 -o addr show dev eth0")
    ids = set()
    for node in inventory.nodes:
        hostname, engine, addr = out[node.name].splitlines()
        assert hostname == node.name
        name, engine_id = engine.split()
        assert name == node.name
        ids.add(engine_id)
        assert f" {node.address}/" in addr
    assert len(ids) == len(inventory.nodes)  # one engine each, not a shared one


def test_nodes_reach_each_other(inventory) -> None:  # type: ignore[no-untyped-def]
    nodes = list(inventory.nodes)
    pairs = [(a, nodes[(i + 1) % len(nodes)]) for i, a in enumerate(nodes)]

    async def go() -> list[str]:
        async with SshTransport(nodes) as t:
            return [(await t.session(a.name).run(f"busybox nc -w 3 {b.address} 22 </dev/null | head -c 8",
                                                 timeout=10)).stdout for a, b in pairs]

    for (a, b), banner in zip(pairs, asyncio.run(go())):
        assert banner.startswith("SSH-2.0"), f"{a.name} -> {b.name}: {banner!r}"


def test_the_lab_opens_no_etcd_to_the_network(inventory) -> None:  # type: ignore[no-untyped-def]
    # etcd is `cluster init`'s, with loopback clients and TLS peers; the lab never serves it open.
    assert inventory.etcd_endpoints == ()
    for node in inventory.nodes:
        try:
            socket.create_connection((node.address, 2379), timeout=2).close()
        except ConnectionRefusedError:
            continue
        raise AssertionError(f"{node.name}: something answers on {node.address}:2379")


def test_each_node_has_its_private_directories_and_no_outside_resolver(inventory) -> None:  # type: ignore[no-untyped-def]
    out = run_on_all(inventory, "cat /etc/resolv.conf; for d in /etc/stackctl /root/.ssh /var/lib/stackctl "
                                "/var/lib/etcd /etc/docker; do findmnt -n -o TARGET $d; done; "
                                "t=$(date +%s%N); getent hosts registry-1.docker.io; echo rc=$? "
                                "ms=$(( ($(date +%s%N) - t) / 1000000 ))")
    for node in inventory.nodes:
        text = out[node.name]
        servers = [ln.split()[1] for ln in text.splitlines() if ln.startswith("nameserver")]
        assert servers == ["127.0.0.1"], text
        for d in ("/etc/stackctl", "/root/.ssh", "/var/lib/stackctl", "/var/lib/etcd", "/etc/docker"):
            assert f"\n{d}\n" in f"\n{text}\n", f"{node.name}: {d} is not the node's own mount"
        last = text.splitlines()[-1]
        assert last.startswith("rc=2 ") and int(last.split("ms=")[1]) < 1000, last  # fails at once


def test_an_engine_pull_fails_at_once_without_leaving_the_machine(inventory) -> None:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    out = run_on_all_one(inventory, "node1", "docker pull registry.example.com/none:1 2>&1 || true")
    assert time.monotonic() - started < 5
    assert "127.0.0.1:53" in out, out


def test_lab_status_and_ls(lab) -> None:  # type: ignore[no-untyped-def]
    status = lab.cli("lab", "status", "--name", lab.name, "--format", "json")
    assert status.returncode == 0, status.stderr
    rows = json.loads(status.stdout)
    assert [(r["name"], r["sshd"], r["engine"], r["partitioned"]) for r in rows] == [
        (f"node{i}", True, True, False) for i in (1, 2, 3)]
    # etcd and the agent: absent (None) until `cluster init`, then up
    assert {(r["etcd"], r["agent"]) for r in rows} <= {(None, None), (True, True)}
    listing = lab.cli("lab", "ls")
    assert lab.name in listing.stdout and "3 nodes" in listing.stdout


def test_partition_cuts_a_node_off_and_heal_restores_it(lab, inventory) -> None:  # type: ignore[no-untyped-def]
    node1, node2 = inventory.node("node1"), inventory.node("node2")
    probe = f"busybox nc -w 2 {node2.address} 22 </dev/null | head -c 8"
    try:
        assert lab.cli("lab", "partition", "node2", "--name", lab.name).returncode == 0
        assert run_on_all_one(inventory, node1.name, probe) == ""
    finally:
        assert lab.cli("lab", "heal", "--name", lab.name).returncode == 0
    assert run_on_all_one(inventory, node1.name, probe).startswith("SSH-2.0")


def run_on_all_one(inventory, node: str, command: str) -> str:  # type: ignore[no-untyped-def]
    async def go() -> str:
        async with SshTransport(inventory.nodes) as t:
            return (await t.session(node).run(command, timeout=15, check=False)).stdout

    return asyncio.run(go())


def test_lab_ssh_runs_a_command_on_the_node(lab) -> None:  # type: ignore[no-untyped-def]
    out = lab.cli("lab", "ssh", "--name", lab.name, "node3", "hostname")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "node3"
