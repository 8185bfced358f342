"""cluster init's pieces without a lab: the CA and peer certificates, the etcd command line, the files
and the agent bundle."""

from __future__ import annotations

import datetime
import io
import itertools
import pathlib
import tarfile

import pytest
from cryptography import x509

from stackctl.cluster import init_files, pki
from stackctl.cluster.inventory import Inventory
from stackctl.cluster.setup import check_managers
from stackctl.drivers import ssh_install
from stackctl.errors import ClusterError
from stackctl.nodes import NodeSpec

NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)
M1 = NodeSpec("m1", "10.0.0.11", role="manager")
M2 = NodeSpec("m2", "10.0.0.12", role="manager")


def test_a_peer_certificate_names_its_address_and_is_valid_only_under_its_own_ca() -> None:
    ca = pki.make_ca("prod", now=NOW)
    peer = pki.issue_peer(ca, node="m1", address="10.0.0.11", now=NOW)
    cert = x509.load_pem_x509_certificate(peer.cert)
    cert.verify_directly_issued_by(x509.load_pem_x509_certificate(ca.cert))
    assert pki.peer_cert_valid(peer.cert, ca.cert, address="10.0.0.11", now=NOW)
    assert not pki.peer_cert_valid(peer.cert, ca.cert, address="10.0.0.99", now=NOW)  # moved: issue anew
    assert not pki.peer_cert_valid(peer.cert, pki.make_ca("other", now=NOW).cert, address="10.0.0.11", now=NOW)
    assert not pki.peer_cert_valid(peer.cert, ca.cert, address="10.0.0.11",
                                   now=NOW + datetime.timedelta(days=pki.PEER_DAYS - 10))  # about to expire
    assert not pki.peer_cert_valid(None, ca.cert, address="10.0.0.11", now=NOW)
    assert pki.ca_usable(ca, now=NOW)
    assert not pki.ca_usable(pki.Pem(ca.cert, pki.make_ca("other", now=NOW).key), now=NOW)  # key of another CA


def test_keys_stay_out_of_reprs() -> None:
    ca = pki.make_ca("prod", now=NOW)
    assert b"PRIVATE KEY" in ca.key and "PRIVATE" not in repr(ca) and "key=<secret>" in repr(ca)


def test_the_cluster_ssh_key_is_read_back_to_the_same_public_line() -> None:
    private, line = pki.make_ssh_key("stackctl-cluster-prod")
    assert line.startswith("ssh-ed25519 ") and line.endswith(" stackctl-cluster-prod")
    assert pki.ssh_public_line(private, "stackctl-cluster-prod") == line
    assert pki.ssh_public_line(b"garbage", "c") is None


def test_etcd_serves_clients_on_loopback_only_and_peers_with_the_cluster_ca() -> None:
    argv = init_files.etcd_argv("prod", M1, [M1, M2], etcd="/usr/bin/etcd")
    flags = {a: b for a, b in itertools.pairwise(argv) if a.startswith("--") and not b.startswith("--")}
    assert flags["--listen-client-urls"] == "http://127.0.0.1:2379"
    assert flags["--listen-peer-urls"] == "https://10.0.0.11:2380"
    assert flags["--initial-cluster"] == "m1=https://10.0.0.11:2380,m2=https://10.0.0.12:2380"
    assert "--peer-client-cert-auth" in argv
    assert flags["--peer-trusted-ca-file"] == "/etc/stackctl/pki/ca.crt"
    assert flags["--peer-key-file"] == "/etc/stackctl/pki/m1.key"


def test_the_agent_gets_the_contracts_configuration_and_an_inventory_with_the_cluster_key() -> None:
    assert init_files.agent_sh("prod", M1, python="/usr/bin/python3", install_dir="/var/lib/stackctl/0.1-ab").endswith(
        "PYTHONPATH=/var/lib/stackctl/0.1-ab exec /usr/bin/python3 -S -m stackctl agent "
        "--config /etc/stackctl/agent.json\n")
    import json

    inv = json.loads(init_files.inventory_json("prod", [M1, NodeSpec("w1", "10.0.0.21")]))
    assert inv["ssh"] == {"identity_file": "/etc/stackctl/cluster_key", "known_hosts": "/etc/stackctl/known_hosts"}
    assert [(n["name"], n["role"], n["ssh"]) for n in inv["nodes"]] == [
        ("m1", "manager", {"user": "root", "port": 22}), ("w1", "worker", {"user": "root", "port": 22})]


def test_root_steps_go_through_sudo_for_another_user() -> None:
    from stackctl.nodes import SshSettings

    assert init_files.as_root(M1, "id -u") == "sh -c 'id -u'"
    assert init_files.as_root(NodeSpec("v", "1.2.3.4", ssh=SshSettings(user="vagrant")), "id -u") == \
        "sudo -n sh -c 'id -u'"


@pytest.mark.parametrize("managers", [0, 2, 4])
def test_a_cluster_needs_1_3_or_5_managers(managers: int) -> None:
    nodes = tuple(NodeSpec(f"n{i}", f"10.0.0.{i}", role="manager" if i < managers else "worker") for i in range(5))
    with pytest.raises(ClusterError, match=f"{managers} managers; a cluster needs 1, 3 or 5"):
        check_managers(Inventory("prod", "inv.json", nodes))


def test_the_agent_bundle_holds_what_the_agent_imports_with_its_binary_modules() -> None:
    bundle = ssh_install.build_bundle(distributions=ssh_install.AGENT_DISTRIBUTIONS)
    with tarfile.open(fileobj=io.BytesIO(bundle.archive)) as tar:
        names = set(tar.getnames())
    for needed in ("stackctl/cli/main.py", "stackctl/_schemas/inventory.schema.json", "asyncssh/__init__.py",
                   "docker/__init__.py", "jsonschema/__init__.py", "networkx/__init__.py", "yaml/__init__.py",
                   "typing_extensions.py"):
        assert needed in names, needed
    assert any(n.startswith("cryptography/hazmat/bindings/_rust") for n in names)
    assert any(n.startswith("rpds/rpds.") and n.endswith(".so") for n in names)
    assert not [n for n in names if "__pycache__" in n or "/tests/" in n or n.startswith("paramiko/")]
    identity = ssh_install.build_bundle(distributions=ssh_install.AGENT_DISTRIBUTIONS, archive=False)
    assert (identity.digest, identity.archive) == (bundle.digest, b"")


def test_the_supervisor_restarts_what_it_runs_and_the_lab_starts_it_again() -> None:
    assert "sleep 1 &" in init_files.SUPERVISE_SH and "/run/stackctl-$name.pid" in init_files.SUPERVISE_SH
    assert pathlib.PurePosixPath(init_files.ETC) == pathlib.PurePosixPath("/etc/stackctl")
