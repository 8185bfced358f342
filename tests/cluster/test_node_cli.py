"""`stackctl node ls|inspect` against the lab, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from stackctl.cluster.inventory import dump_inventory

pytestmark = pytest.mark.lab

def engine_version() -> str:
    return subprocess.run(["dockerd", "--version"], capture_output=True, text=True,
                          check=True).stdout.split()[2].rstrip(",")


def test_node_ls_table_lists_every_node_ready(lab, inventory) -> None:  # type: ignore[no-untyped-def]
    out = lab.cli("node", "ls")
    assert out.returncode == 0, out.stderr
    header, *rows = out.stdout.strip().splitlines()
    assert header.split()[:5] == ["NAME", "ADDRESS", "ROLE", "STATUS", "ENGINE"]
    assert len(rows) == 3
    for node, row in zip(inventory.nodes, rows):
        cols = row.split()
        assert cols[:5] == [node.name, node.address, "manager", "ready", engine_version()]
        assert cols[5] == str(os.cpu_count())
        assert cols[-1] == f"stackctl.lab={lab.name}"


def test_node_ls_json_has_engine_facts(lab) -> None:  # type: ignore[no-untyped-def]
    out = lab.cli("node", "ls", "--format", "json")
    nodes = json.loads(out.stdout)
    assert [n["name"] for n in nodes] == ["node1", "node2", "node3"]
    for n in nodes:
        assert n["status"] == "ready" and n["error"] is None
        assert n["hostname"] == n["name"]
        assert n["cpus"] == os.cpu_count() and n["memory"] > 0
        assert isinstance(n["containers"], int)


def test_node_inspect_and_unknown_node(lab) -> None:  # type: ignore[no-untyped-def]
    out = lab.cli("node", "inspect", "node2")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["hostname"] == "node2"
    bad = lab.cli("node", "inspect", "node9")
    assert bad.returncode == 1
    assert "no node named 'node9'" in bad.stderr and "node1, node2, node3" in bad.stderr
    assert "Traceback" not in bad.stderr


def test_cluster_file_flag_and_env_override_the_current_cluster(lab, tmp_path) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(lab.inventory_file.read_text())
    doc["nodes"] = doc["nodes"][:1]
    only_one = tmp_path / "one.json"
    dump_inventory(doc, only_one)
    by_flag = lab.cli("node", "ls", "--format", "json", "--cluster", str(only_one))
    assert [n["name"] for n in json.loads(by_flag.stdout)] == ["node1"]
    env = {**lab.env, "STACKCTL_CLUSTER": str(only_one)}
    from tests.conftest import run_cli

    by_env = run_cli("node", "ls", "--format", "json", env_vars=env)
    assert [n["name"] for n in json.loads(by_env.stdout)] == ["node1"]
    current = lab.cli("cluster", "ls")
    assert f"* {lab.name}" in current.stdout
