"""The Vagrant cluster cannot run here: check what can be checked without VMs (it is tested by hand)."""

from __future__ import annotations

import re
import shutil
import subprocess

from stackctl.cluster.inventory import load_inventory
from tests.support import env

VAGRANT = env.REPO / "vagrant"


def test_vagrantfile_is_valid_ruby() -> None:
    if shutil.which("ruby") is None:
        env.missing("ruby not installed (scripts/bootstrap.sh installs it)")
    out = subprocess.run(["ruby", "-c", str(VAGRANT / "Vagrantfile")], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr
    assert "Syntax OK" in out.stdout


def test_provisioning_script_is_valid_bash() -> None:
    out = subprocess.run(["bash", "-n", str(VAGRANT / "provision.sh")], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr


def test_inventory_loads_and_matches_the_vagrantfile() -> None:
    inv = load_inventory(VAGRANT / "inventory.json")
    declared = re.findall(r'\{ name: "(\w+)", ip: "([\d.]+)", role: "(\w+)" \}',
                          (VAGRANT / "Vagrantfile").read_text())
    assert declared, "no NODES found in the Vagrantfile"
    assert [(n.name, n.address, n.role) for n in inv.nodes] == declared
    managers = [addr for _, addr, role in declared if role == "manager"]
    assert list(inv.etcd_endpoints) == [f"http://{a}:2379" for a in managers]
    for n in inv.nodes:
        assert n.ssh.user == "vagrant"
        assert n.ssh.identity_file == VAGRANT / ".vagrant" / "machines" / n.name / "virtualbox" / "private_key"
        assert n.ssh.known_hosts == VAGRANT / "known_hosts"
