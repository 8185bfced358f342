"""Inventory files and named clusters (no lab needed): clear errors, and which cluster a command uses."""

from __future__ import annotations

import json
import os
import pathlib

import pytest

from stackctl.cluster.inventory import ClusterStore, InventoryError, load_inventory, resolve_inventory_path
from stackctl.errors import ClusterError
from tests.conftest import run_cli

GOOD = {
    "version": 1,
    "name": "prod",
    "ssh": {"user": "deploy", "identity_file": "keys/id", "known_hosts": "known_hosts"},
    "nodes": [
        {"name": "m1", "address": "10.0.0.1", "role": "manager", "labels": {"zone": "a"}},
        {"name": "w1", "address": "w1.example", "ssh": {"port": 2222, "user": "ops"}},
    ],
    "etcd": {"endpoints": ["http://10.0.0.1:2379"]},
}


def write(path: pathlib.Path, doc: object) -> pathlib.Path:
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return path


def test_inventory_defaults_and_relative_paths(tmp_path) -> None:  # type: ignore[no-untyped-def]
    inv = load_inventory(write(tmp_path / "prod.json", GOOD))
    m1, w1 = inv.nodes
    assert (inv.name, [n.name for n in inv.managers], inv.etcd_endpoints) == ("prod", ["m1"], ("http://10.0.0.1:2379",))
    assert (m1.ssh.user, m1.ssh.port, m1.labels) == ("deploy", 22, {"zone": "a"})
    assert m1.ssh.identity_file == tmp_path / "keys" / "id"
    assert (w1.role, w1.ssh.user, w1.ssh.port, w1.ssh.known_hosts) == ("worker", "ops", 2222, tmp_path / "known_hosts")


def test_yaml_inventory_is_accepted(tmp_path) -> None:  # type: ignore[no-untyped-def]
    inv = load_inventory(write(tmp_path / "lab.yaml", "version: 1\nnodes:\n  - {name: a, address: 10.1.1.1}\n"))
    assert (inv.name, inv.nodes[0].address) == ("lab", "10.1.1.1")  # name defaults to the file's


@pytest.mark.parametrize(("doc", "expected"), [
    ({"nodes": [{"name": "a", "address": "x"}]}, [": 'version' is a required property"]),
    ({"version": 1, "nodes": [{"name": "a"}, {"name": "b", "address": "y", "role": "boss"}]},
     [": nodes[0]: 'address' is a required property", ": nodes[1].role: 'boss' is not one of"]),
    ({"version": 1, "nodes": [{"name": "a", "address": "x", "ssh": {"port": 0}}], "extra": 1},
     [": Additional properties are not allowed ('extra' was unexpected)", ": nodes[0].ssh.port: 0 is less than"]),
    ({"version": 1, "nodes": [{"name": "a", "address": "x"}, {"name": "a", "address": "y"}]},
     [": nodes[1].name: duplicate node name 'a' (also nodes[0])"]),
])
def test_every_problem_is_reported_with_file_and_path(tmp_path, doc, expected) -> None:  # type: ignore[no-untyped-def]
    path = write(tmp_path / "inv.json", doc)
    with pytest.raises(InventoryError) as err:
        load_inventory(path)
    lines = err.value.lines()
    assert len(lines) == len(expected)
    for line, want in zip(lines, expected):
        assert line.startswith(f"{path}{want}"), line


def test_unreadable_and_malformed_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InventoryError, match="cannot read inventory"):
        load_inventory(tmp_path / "missing.json")
    with pytest.raises(InventoryError, match=r"bad\.json:1: not valid JSON/YAML"):
        load_inventory(write(tmp_path / "bad.json", '{"version": 1, "nodes": [}'))


def test_store_and_resolution_order(tmp_path) -> None:  # type: ignore[no-untyped-def]
    store = ClusterStore(tmp_path / "home")
    with pytest.raises(ClusterError, match="no cluster selected"):
        resolve_inventory_path(flag=None, env={}, store=store)
    a, b = write(tmp_path / "a.json", GOOD), write(tmp_path / "b.json", GOOD)
    store.register("a", a, make_current=True)
    store.register("b", b)
    assert resolve_inventory_path(flag=None, env={}, store=store) == a
    assert resolve_inventory_path(flag=None, env={"STACKCTL_CLUSTER": "b"}, store=store) == b
    assert resolve_inventory_path(flag=None, env={"STACKCTL_CLUSTER": "/x/c.json"}, store=store) == pathlib.Path("/x/c.json")
    assert resolve_inventory_path(flag="d.json", env={"STACKCTL_CLUSTER": "b"}, store=store) == pathlib.Path("d.json")
    with pytest.raises(ClusterError, match=r"no cluster named 'zz' \(known: a, b\)"):
        resolve_inventory_path(flag=None, env={"STACKCTL_CLUSTER": "zz"}, store=store)
    store.remove("a")
    assert store.current() is None and [e.name for e in store.entries()] == ["b"]


def test_cluster_commands(tmp_path) -> None:  # type: ignore[no-untyped-def]
    env = {**os.environ, "STACKCTL_HOME": str(tmp_path / "home")}
    env.pop("STACKCTL_CLUSTER", None)
    inv = write(tmp_path / "prod.json", GOOD)
    assert run_cli("cluster", "add", "prod", str(inv), env_vars=env).returncode == 0
    assert run_cli("cluster", "add", "stage", str(inv), "--use", env_vars=env).returncode == 0
    listing = run_cli("cluster", "ls", env_vars=env).stdout.splitlines()
    assert [line.split()[0] for line in listing[1:]] == ["prod", "*"]
    assert run_cli("cluster", "use", "prod", env_vars=env).stdout.strip() == "current cluster: prod"
    shown = json.loads(run_cli("cluster", "show", env_vars=env).stdout)
    assert [n["name"] for n in shown["nodes"]] == ["m1", "w1"] and shown["nodes"][1]["port"] == 2222
    unknown = run_cli("cluster", "use", "nope", env_vars=env)
    assert unknown.returncode == 1 and "no cluster named 'nope' (known: prod, stage)" in unknown.stderr
    broken = write(tmp_path / "broken.json", {"version": 2, "nodes": []})
    refused = run_cli("cluster", "add", "broken", str(broken), env_vars=env)
    assert refused.returncode == 1 and f"{broken}: version: 1 was expected" in refused.stderr
    assert "Traceback" not in refused.stderr + unknown.stderr
