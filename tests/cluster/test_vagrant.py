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
    assert len(inv.managers) in (1, 3, 5)
    assert inv.etcd_endpoints == ()  # etcd answers clients on each manager's loopback only
    for n in inv.nodes:
        assert n.ssh.user == "vagrant"
        assert n.ssh.identity_file == VAGRANT / ".vagrant" / "machines" / n.name / "virtualbox" / "private_key"
        assert n.ssh.known_hosts == VAGRANT / "known_hosts"


def test_provisioning_gives_what_cluster_init_needs_and_no_open_etcd() -> None:
    script = (VAGRANT / "provision.sh").read_text()
    for needed in ("docker.io", "openssh-server", "python3", "etcd-server", "AllowStreamLocalForwarding yes"):
        assert needed in script, needed
    assert "systemctl disable --now etcd" in script  # Debian's own member would hold 127.0.0.1:2379
    code = "\n".join(ln for ln in script.splitlines() if not ln.lstrip().startswith("#"))
    assert "2379" not in code and "ETCD_" not in code
