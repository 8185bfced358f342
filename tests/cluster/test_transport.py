"""The SSH transport against the lab's real sshd and dockerd: reuse, tunnels, timeouts, clear errors."""

from __future__ import annotations

import asyncio
import dataclasses
import pathlib
import stat
import subprocess
import time

import pytest

from stackctl.drivers.ssh import (
    AuthenticationFailed,
    CommandFailed,
    CommandTimeout,
    NodeUnreachable,
    SshTransport,
    probe_nodes,
)
from stackctl.errors import EngineUnavailable, HostKeyError
from stackctl.nodes import NodeSpec

pytestmark = pytest.mark.lab

def with_ssh(node: NodeSpec, **changes: object) -> NodeSpec:
    return dataclasses.replace(node, ssh=dataclasses.replace(node.ssh, **changes))


def test_one_connection_per_node_is_reused(inventory) -> None:  # type: ignore[no-untyped-def]
    async def go() -> tuple[list[str], int]:
        async with SshTransport(inventory.nodes) as t:
            s = t.session("node1")
            outs = await asyncio.gather(*(s.run(f"echo {i}") for i in range(8)))
            await s.engine("ping")
            return [o.stdout.strip() for o in outs], s.connects

    outs, connects = asyncio.run(go())
    assert outs == [str(i) for i in range(8)]
    assert connects == 1


def test_lost_connection_is_made_again(inventory) -> None:  # type: ignore[no-untyped-def]
    async def go() -> tuple[str, int]:
        async with SshTransport(inventory.nodes) as t:
            s = t.session("node2")
            await s.run("true")
            (await s.connection()).close()
            await asyncio.sleep(0.1)
            return (await s.run("hostname")).stdout.strip(), s.connects

    assert asyncio.run(go()) == ("node2", 2)


def test_engine_socket_is_private_and_reaches_the_nodes_engine(inventory) -> None:  # type: ignore[no-untyped-def]
    async def go() -> tuple[pathlib.Path, int, int, str]:
        async with SshTransport(inventory.nodes) as t:
            sock = await t.session("node3").docker_socket()
            info = await t.session("node3").engine("info")
            return sock, sock.parent.stat().st_mode, sock.stat().st_mode, info["Name"]

    sock, dir_mode, sock_mode, name = asyncio.run(go())
    assert stat.S_IMODE(dir_mode) == 0o700
    assert stat.S_IMODE(sock_mode) == 0o600
    assert name == "node3"
    assert not sock.parent.exists()  # removed when the transport closes


def test_command_timeout_and_failure_are_errors_naming_the_node(inventory) -> None:  # type: ignore[no-untyped-def]
    async def go() -> tuple[float, str, str]:
        async with SshTransport(inventory.nodes) as t:
            s = t.session("node1")
            started = time.monotonic()
            with pytest.raises(CommandTimeout) as slow:
                await s.run("sleep 10", timeout=0.5)
            elapsed = time.monotonic() - started
            with pytest.raises(CommandFailed) as failed:
                await s.run("echo oops >&2; exit 3")
            return elapsed, str(slow.value), str(failed.value)

    elapsed, slow, failed = asyncio.run(go())
    assert elapsed < 3
    assert "node1" in slow and "sleep 10" in slow
    assert "exited 3" in failed and "oops" in failed


def probe_one(node: NodeSpec, **kw: object):  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        async with SshTransport([node], connect_timeout=2, retries=0) as t:
            with pytest.raises(Exception) as err:
                await t.session(node.name).run("true")
            return err.value

    return asyncio.run(go())


def test_changed_host_key_is_refused_with_how_to_fix(inventory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    node1, node2 = inventory.node("node1"), inventory.node("node2")
    lines = node1.ssh.known_hosts.read_text().splitlines()
    key_of = {line.split()[0]: line.split(None, 1)[1] for line in lines}
    forged = tmp_path / "known_hosts"
    forged.write_text(f"{node1.address} {key_of[node2.address]}\n")  # node2's key claimed for node1
    err = probe_one(with_ssh(node1, known_hosts=forged))
    assert isinstance(err, HostKeyError)
    assert "CHANGED" in str(err) and "node1" in str(err)
    assert f"ssh-keygen -R {node1.address} -f {forged}" in str(err)


def test_unknown_host_key_is_refused_and_the_message_trusts_it(inventory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    node1 = inventory.node("node1")
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    err = probe_one(with_ssh(node1, known_hosts=empty))
    assert isinstance(err, HostKeyError) and "unknown" in str(err)
    fix = str(err).split("`")[1]
    assert fix == f"ssh-keyscan {node1.address} >> {empty}"
    subprocess.run(fix, shell=True, check=True, capture_output=True, timeout=20)  # doing what it says...

    async def go() -> str:
        async with SshTransport([with_ssh(node1, known_hosts=empty)]) as t:
            return (await t.session("node1").run("hostname")).stdout.strip()

    assert asyncio.run(go()) == "node1"  # ...is enough


def test_wrong_key_is_an_authentication_error(inventory, tmp_path) -> None:  # type: ignore[no-untyped-def]
    key = tmp_path / "other_key"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    err = probe_one(with_ssh(inventory.node("node2"), identity_file=key))
    assert isinstance(err, AuthenticationFailed)
    assert "node2" in str(err) and str(key) in str(err)


def test_unreachable_address_is_its_own_error(inventory) -> None:  # type: ignore[no-untyped-def]
    ghost = dataclasses.replace(inventory.node("node1"), name="ghost",
                                address=inventory.node("node1").address.rsplit(".", 1)[0] + ".250")
    started = time.monotonic()
    err = probe_one(ghost)
    assert isinstance(err, NodeUnreachable)
    assert "ghost" in str(err) and "unreachable" in str(err)
    assert time.monotonic() - started < 10


def test_stopped_engine_is_reported_as_engine_down(lab, inventory) -> None:  # type: ignore[no-untyped-def]
    async def stop_engine_then_probe():  # type: ignore[no-untyped-def]
        async with SshTransport(inventory.nodes) as t:
            await t.session("node2").run("kill $(cat /run/docker.pid); "
                                         "while [ -e /run/docker.pid ]; do sleep 0.1; done", timeout=30)
            statuses = await probe_nodes(t, timeout=5)
            with pytest.raises(EngineUnavailable) as err:
                await t.session("node2").engine("info")
            return statuses, err.value

    try:
        statuses, err = asyncio.run(stop_engine_then_probe())
    finally:
        assert lab.cli("lab", "start", "node2", "--name", lab.name).returncode == 0
    by_name = {s.name: s for s in statuses}
    assert by_name["node2"].status == "engine-down"
    assert "node2" in str(err) and "dockerd" in str(err)
    assert by_name["node1"].status == by_name["node3"].status == "ready"


def test_stopped_node_is_reported_down_by_node_ls(lab) -> None:  # type: ignore[no-untyped-def]
    import json

    try:
        stop = lab.cli("lab", "stop", "node3", "--name", lab.name)
        assert stop.returncode == 0, stop.stderr
        down = lab.cli("node", "ls", "--format", "json", "--timeout", "2")
    finally:
        start = lab.cli("lab", "start", "node3", "--name", lab.name)
    assert down.returncode == 0, down.stderr
    status = {n["name"]: n["status"] for n in json.loads(down.stdout)}
    assert status == {"node1": "ready", "node2": "ready", "node3": "unreachable"}
    assert start.returncode == 0, start.stderr
    after = lab.cli("node", "ls", "--format", "json")
    assert {n["name"]: n["status"] for n in json.loads(after.stdout)}["node3"] == "ready"



def test_a_command_waits_out_a_node_restart_with_backoff(lab, inventory) -> None:  # type: ignore[no-untyped-def]
    import threading

    assert lab.cli("lab", "stop", "node1", "--name", lab.name).returncode == 0
    starter = threading.Timer(1.0, lambda: lab.cli("lab", "start", "node1", "--name", lab.name))

    async def go() -> tuple[str, float]:
        async with SshTransport(inventory.nodes, connect_timeout=2, retries=6, backoff=0.3) as t:
            started = time.monotonic()
            starter.start()
            out = await t.session("node1").run("hostname")
            return out.stdout.strip(), time.monotonic() - started

    try:
        hostname, waited = asyncio.run(go())
    finally:
        starter.join()
        final = lab.cli("lab", "start", "node1", "--name", lab.name)  # harmless when already up
        assert final.returncode == 0, final.stderr
    assert hostname == "node1"
    assert waited >= 0.9  # it did wait for the node instead of failing at once
