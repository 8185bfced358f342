"""`stackctl cluster init` on the real lab: etcd with TLS peers and loopback clients on the managers,
the cluster SSH key, the agents running and supervised; a second run changes nothing; a node whose
host key changed stops it with one line naming that node."""

from __future__ import annotations

import asyncio
import datetime
import json
import pathlib
import socket
import stat
import time

import pytest

from stackctl.drivers.ssh import SshTransport
from tests.cluster.conftest import Cluster

pytestmark = pytest.mark.lab

MEMBERS = ("python3 -c \"import json, urllib.request; r = urllib.request.Request("
           "'http://127.0.0.1:2379/v3/cluster/member/list', data=b'{}'); "
           "print(json.dumps(sorted(m['name'] for m in json.load(urllib.request.urlopen(r, timeout=5))['members'])))\"")


def on_nodes(inventory, command: str, nodes=None) -> dict[str, str]:  # type: ignore[no-untyped-def]
    targets = list(nodes or inventory.nodes)

    async def go() -> list[str]:
        async with SshTransport(inventory.nodes) as t:
            results = await asyncio.gather(*(t.session(n.name).run(command, timeout=30, check=False)
                                             for n in targets))
        return [r.stdout.strip() for r in results]

    return dict(zip([n.name for n in targets], asyncio.run(go())))


def node_dir(cluster: Cluster, node: str) -> pathlib.Path:
    return cluster.lab.state / "nodes" / node


def test_init_makes_one_etcd_cluster_of_the_managers(cluster: Cluster) -> None:
    inv = cluster.lab.inventory()
    assert f"cluster {inv.name}: ready (etcd 3 members healthy, agent on 3 managers)" in cluster.stdout
    print(f"\ncluster init, 3 nodes / 3 managers, fresh lab: {cluster.seconds:.1f} s")
    members = on_nodes(inv, MEMBERS, inv.managers)
    assert {name: json.loads(out) for name, out in members.items()} == {
        m.name: ["node1", "node2", "node3"] for m in inv.managers}
    status = json.loads(cluster.lab.cli("lab", "status", "--name", cluster.lab.name, "--format", "json").stdout)
    assert [(r["etcd"], r["agent"]) for r in status] == [(True, True)] * 3


def test_etcd_clients_are_refused_on_the_lab_network(cluster: Cluster) -> None:
    for node in cluster.lab.inventory().managers:
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((node.address, 2379), timeout=3).close()


# Run on node1 (so the connection comes from an address its certificate names): a TLS GET of node2's
# peer endpoint /members with the client certificate in /var/lib/stackctl/test-peer.* (or none).
PEER_GET = """python3 - <<'PY'
import os, socket, ssl
ctx = ssl.create_default_context(cafile='/etc/stackctl/pki/ca.crt')
ctx.check_hostname = False
if os.path.exists('/var/lib/stackctl/test-peer.crt'):
    ctx.load_cert_chain('/var/lib/stackctl/test-peer.crt', '/var/lib/stackctl/test-peer.key')
try:
    with socket.create_connection(('{address}', 2380), timeout=15) as raw, ctx.wrap_socket(raw) as tls:
        tls.sendall(b'GET /members HTTP/1.1\\r\\nHost: x\\r\\nConnection: close\\r\\n\\r\\n')
        reply = b''
        while data := tls.recv(65536):
            reply += data
    print(reply.split(b'\\r\\n')[0].decode() or 'closed', b'node3' in reply)
except (OSError, ssl.SSLError) as exc:
    print('refused', type(exc).__name__)
PY"""


def test_a_peer_without_a_certificate_of_the_cluster_ca_is_refused(cluster: Cluster) -> None:
    from stackctl.cluster import pki

    inv = cluster.lab.inventory()
    node1, node2 = inv.node("node1"), inv.node("node2")
    etc, var = node_dir(cluster, "node1") / "etc-stackctl" / "pki", node_dir(cluster, "node1") / "stackctl"
    now = datetime.datetime.now(datetime.UTC)
    stranger = pki.issue_peer(pki.make_ca("stranger", now=now), node="node1", address=node1.address, now=now)
    answers = {}
    try:
        for case, pem in (("none", None), ("stranger", stranger),
                          ("member", pki.Pem((etc / "node1.crt").read_bytes(), (etc / "node1.key").read_bytes()))):
            for suffix in ("crt", "key"):
                (var / f"test-peer.{suffix}").unlink(missing_ok=True)
            if pem is not None:
                (var / "test-peer.crt").write_bytes(pem.cert)
                (var / "test-peer.key").write_bytes(pem.key)
            for _ in range(3):  # the control may meet a member still busy after the fault tests: ask again
                answers[case] = on_nodes(inv, PEER_GET.format(address=node2.address), [node1])["node1"]
                if case != "member" or not answers[case].startswith("refused TimeoutError"):
                    break
    finally:
        for suffix in ("crt", "key"):
            (var / f"test-peer.{suffix}").unlink(missing_ok=True)
    assert answers["none"].startswith(("refused", "closed")), answers
    assert answers["stranger"].startswith(("refused", "closed")), answers
    assert answers["member"] == "HTTP/1.1 200 OK True", answers  # the control: a member is let in


def test_secrets_are_0600_and_never_printed(cluster: Cluster) -> None:
    for m in ("node1", "node2", "node3"):
        etc = node_dir(cluster, m) / "etc-stackctl"
        for secret in (etc / "cluster_key", etc / "pki" / "ca.key", etc / "pki" / f"{m}.key"):
            assert stat.S_IMODE(secret.stat().st_mode) == 0o600, secret
        assert stat.S_IMODE((etc / "pki").stat().st_mode) == 0o700
    assert "PRIVATE KEY" not in cluster.stdout + cluster.stderr
    agent = json.loads((node_dir(cluster, "node2") / "etc-stackctl" / "agent.json").read_text())
    assert agent == {"cluster": "stktest", "node": "node2", "etcd": ["http://127.0.0.1:2379"],
                     "inventory": "/etc/stackctl/inventory.json", "ssh_key": "/etc/stackctl/cluster_key",
                     "known_hosts": "/etc/stackctl/known_hosts", "vip_range": "10.240.0.0/16"}


def test_a_manager_reaches_every_node_with_the_cluster_key_alone(cluster: Cluster) -> None:
    inv = cluster.lab.inventory()
    probe = "; ".join(f"ssh -i /etc/stackctl/cluster_key -o UserKnownHostsFile=/etc/stackctl/known_hosts "
                      f"-o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o BatchMode=yes root@{n.address} hostname"
                      for n in inv.nodes)
    out = on_nodes(inv, probe, [inv.node("node3")])
    assert out["node3"].split() == ["node1", "node2", "node3"]


def test_the_agent_runs_on_every_manager_and_comes_back_when_killed(cluster: Cluster) -> None:
    inv = cluster.lab.inventory()
    find = "pgrep -f 'stackctl agent --config /etc/stackctl/agent.json' | head -1"
    before = on_nodes(inv, find, inv.managers)
    assert all(pid.isdigit() for pid in before.values()), before
    on_nodes(inv, f"kill -9 {before['node2']}", [inv.node("node2")])
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        after = on_nodes(inv, find, [inv.node("node2")])["node2"]
        if after.isdigit() and after != before["node2"]:
            return
        time.sleep(0.3)
    raise AssertionError("the agent on node2 was not restarted within 10 s")


def test_a_second_init_changes_nothing_and_says_so(cluster: Cluster) -> None:
    started = time.monotonic()
    again = cluster.lab.cli("cluster", "init", timeout=300)
    assert again.returncode == 0, again.stderr
    assert "cluster stktest: nothing changed (etcd 3 members healthy, agents running)" in again.stdout, again.stdout
    print(f"\nsecond cluster init: {time.monotonic() - started:.1f} s")


def test_a_node_whose_host_key_changed_is_named_in_one_line(cluster: Cluster, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import subprocess

    inv_doc = json.loads(cluster.lab.inventory_file.read_text())
    node2 = cluster.lab.inventory().node("node2")
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp_path / "other")], check=True)
    other = (tmp_path / "other.pub").read_text().split()[:2]
    known = [ln if not ln.startswith(f"{node2.address} ") else f"{node2.address} {other[0]} {other[1]}"
             for ln in pathlib.Path(inv_doc["ssh"]["known_hosts"]).read_text().splitlines()]
    (tmp_path / "known_hosts").write_text("\n".join(known) + "\n")
    inv_doc["ssh"]["known_hosts"] = str(tmp_path / "known_hosts")
    (tmp_path / "inventory.json").write_text(json.dumps(inv_doc))
    out = cluster.lab.cli("cluster", "init", "--cluster", str(tmp_path / "inventory.json"))
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "node node2" in lines[0] and "host key CHANGED" in lines[0], out.stderr
    assert "Traceback" not in out.stderr


def test_lab_stop_and_start_take_etcd_and_the_agent_with_the_node(cluster: Cluster) -> None:
    lab, inv = cluster.lab, cluster.lab.inventory()
    assert lab.cli("lab", "stop", "--name", lab.name, "node3").returncode == 0
    status = json.loads(lab.cli("lab", "status", "--name", lab.name, "--format", "json").stdout)
    assert (status[2]["etcd"], status[2]["agent"]) == (False, False)
    assert lab.cli("lab", "start", "--name", lab.name, "node3").returncode == 0
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        status = json.loads(lab.cli("lab", "status", "--name", lab.name, "--format", "json").stdout)
        if (status[2]["etcd"], status[2]["agent"]) == (True, True):
            break
        time.sleep(0.5)
    assert (status[2]["etcd"], status[2]["agent"]) == (True, True), status[2]
    assert json.loads(on_nodes(inv, MEMBERS, [inv.node("node3")])["node3"]) == ["node1", "node2", "node3"]
