"""Make, inspect, break and remove a lab: namespaced nodes with sshd and dockerd. Linux, root.

etcd and the agent are ``stackctl cluster init``'s to set up, as on any machine; once it has, ``lab
stop NODE`` kills them with the node and ``lab start NODE`` starts them again.

Everything a lab makes can be found again from its name alone (see :mod:`stackctl.lab.layout`), so
``down`` also removes what a killed ``up`` left half-made, and ``up`` on a half-made lab starts over.
"""

from __future__ import annotations

import json
import pathlib
import shutil
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

from stackctl.cluster.inventory import ClusterStore, dump_inventory
from stackctl.errors import LabError
from stackctl.lab import probe, system
from stackctl.lab.layout import (
    LabLayout,
    NodePlan,
    check_name,
    conflicting_route,
    inventory_document,
    plan_lab,
)
from stackctl.lab.scripts import RESOLV_CONF, daemon_json, setup_script, sshd_config, start_script

TOOLS = ("ip", "iptables", "nsenter", "unshare", "mount", "ssh-keygen", "/usr/sbin/sshd", "dockerd", "docker")


@dataclass(frozen=True)
class Roots:
    """Where labs keep files (``state``), persistent namespaces (``run``), and named clusters."""

    state: pathlib.Path
    run: pathlib.Path
    clusters: ClusterStore


def check_host(*, platform: str, euid: int) -> None:
    if not platform.startswith("linux"):
        raise LabError(f"the lab needs Linux namespaces (this is {platform}); "
                       "use the VMs in vagrant/ and their inventory instead")
    if euid != 0:
        raise LabError("the lab needs root (namespaces, bridges, iptables): run it with sudo")
    absent = [t for t in TOOLS if shutil.which(t) is None]
    if absent:
        raise LabError(f"missing tools for the lab: {', '.join(absent)} (scripts/bootstrap.sh installs them)")


# --- saved lab description ------------------------------------------------------------------------

def _read_spec(path: pathlib.Path) -> dict[str, object] | None:
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None


def load(name: str, roots: Roots) -> LabLayout:
    """The layout of an existing lab, as ``lab up`` saved it."""
    check_name(name)
    spec = _read_spec(roots.state / name / "lab.json")
    if spec is None:
        raise LabError(f"no lab named {name!r} (run `stackctl lab up --name {name}`)")
    return plan_lab(name=name, nodes=int(spec["nodes"]), managers=int(spec["managers"]),  # type: ignore[call-overload]
                    subnet=str(spec["subnet"]), state_root=roots.state, run_root=roots.run)


def names(roots: Roots) -> list[str]:
    if not roots.state.is_dir():
        return []
    return sorted(d.name for d in roots.state.iterdir() if (d / "lab.json").is_file())


# --- up -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class UpResult:
    layout: LabLayout
    created: bool
    seconds: float


def up(*, name: str, nodes: int, managers: int, subnet: str | None, roots: Roots,
       timeout: float = 60) -> UpResult:
    """Make the lab, or bring an existing one back up; a half-made one is removed and made again."""
    started = time.monotonic()
    layout = plan_lab(name=name, nodes=nodes, managers=managers, subnet=subnet,
                      state_root=roots.state, run_root=roots.run)
    _check_subnet(layout)
    spec = _read_spec(layout.spec_file)
    wanted = {"nodes": nodes, "managers": managers, "subnet": layout.subnet}
    complete = bool(spec and spec.get("complete"))
    if spec and complete and {k: spec.get(k) for k in wanted} != wanted:
        raise LabError(f"lab {name!r} exists with {spec.get('nodes')} nodes, {spec.get('managers')} "
                       f"managers, subnet {spec.get('subnet')}; run `stackctl lab down --name {name}` first")
    resumed = complete and _namespaces_intact(layout)
    if resumed:
        _resume(layout, timeout)
    else:
        down(name=name, roots=roots)  # a half-made lab (killed `up`) starts over
        _create(layout, wanted, timeout)
    _register(layout, roots)
    return UpResult(layout, not resumed, time.monotonic() - started)


def _resume(layout: LabLayout, timeout: float) -> None:
    _ensure_network(layout)
    for node in layout.nodes:
        start_node(layout, node.name, wait=False)
    _wait(layout, layout.nodes, timeout)


def _create(layout: LabLayout, wanted: dict[str, object], timeout: float) -> None:
    layout.state_dir.mkdir(parents=True, exist_ok=True)
    layout.spec_file.write_text(json.dumps({**wanted, "complete": False}) + "\n", encoding="utf-8")
    _make_files(layout)
    _ensure_network(layout)
    system.ensure_private_dir(layout.ns_dir)
    for node in layout.nodes:
        _make_namespaces(layout, node)
        _run_start(node, start_script(layout, node))
    _wait(layout, layout.nodes, timeout)
    dump_inventory(inventory_document(layout), layout.inventory_file)
    layout.spec_file.write_text(json.dumps({**wanted, "complete": True}) + "\n", encoding="utf-8")


def _namespaces_intact(layout: LabLayout) -> bool:
    netns = set(system.netns_list(layout.netns_prefix))
    mounted = set(system.mounts_under(layout.ns_dir))
    return all(n.netns in netns and str(n.mnt_ns) in mounted and str(n.uts_ns) in mounted
               for n in layout.nodes)


def _register(layout: LabLayout, roots: Roots) -> None:
    roots.clusters.register(layout.name, layout.inventory_file, make_current=True)


def _keygen(path: pathlib.Path, comment: str) -> None:
    if not path.exists():
        system.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)])


def _make_files(layout: LabLayout) -> None:
    layout.state_dir.chmod(0o700)
    _keygen(layout.client_key, f"stackctl-lab-{layout.name}")
    pub = layout.client_key.with_suffix(".pub").read_text(encoding="utf-8")
    known = []
    for node in layout.nodes:
        for sub in ("run", "docker", "etc-docker", "logs", "etcd", "stackctl"):
            (node.dir / sub).mkdir(parents=True, exist_ok=True)
        for private in (node.etc_stackctl, node.root_ssh):
            private.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_private(node.root_ssh / "authorized_keys", pub)
        node.resolv_conf.write_text(RESOLV_CONF, encoding="utf-8")
        _keygen(node.host_key, f"root@{node.name}")
        (node.dir / "sshd_config").write_text(sshd_config(layout, node), encoding="utf-8")
        (node.dir / "etc-docker" / "daemon.json").write_text(daemon_json(node), encoding="utf-8")
        key_type, key = node.host_key.with_suffix(".pub").read_text(encoding="utf-8").split()[:2]
        known.append(f"{node.address} {key_type} {key}\n")
    layout.known_hosts.write_text("".join(known), encoding="utf-8")


def _write_private(path: pathlib.Path, text: str) -> None:
    path.touch(mode=0o600)
    path.chmod(0o600)
    path.write_text(text, encoding="utf-8")


def _check_subnet(layout: LabLayout) -> None:
    clash = conflicting_route(layout, system.routes())
    if clash:
        raise LabError(f"lab {layout.name}: subnet {layout.subnet} overlaps the host route {clash}; "
                       "choose another with --subnet")


def _ensure_network(layout: LabLayout) -> None:
    _check_subnet(layout)
    if not system.link_exists(layout.bridge):
        system.run(["ip", "link", "add", layout.bridge, "type", "bridge"])
        system.run(["ip", "addr", "add", layout.bridge_address, "dev", layout.bridge])
    system.run(["ip", "link", "set", layout.bridge, "up"])
    system.ensure_forward_rule(layout.bridge, layout.comment)
    existing = set(system.netns_list(layout.netns_prefix))
    for node in layout.nodes:
        if node.netns not in existing:
            _make_netns(layout, node)


def _make_netns(layout: LabLayout, node: NodePlan) -> None:
    ns = ["ip", "-n", node.netns]
    system.run(["ip", "netns", "add", node.netns])
    if system.link_exists(node.veth_host):
        system.run(["ip", "link", "del", node.veth_host])
    system.run(["ip", "link", "add", node.veth_host, "type", "veth", "peer", "name", "eth0",
                "netns", node.netns])
    system.run(["ip", "link", "set", node.veth_host, "master", layout.bridge, "up"])
    system.run([*ns, "addr", "add", f"{node.address}/{node.prefix_len}", "dev", "eth0"])
    system.run([*ns, "link", "set", "lo", "up"])
    system.run([*ns, "link", "set", "eth0", "up"])
    system.run([*ns, "route", "add", "default", "via", node.gateway])


def _make_namespaces(layout: LabLayout, node: NodePlan) -> None:
    for f in (node.mnt_ns, node.uts_ns):
        f.touch()
    system.run(["nsenter", f"--net=/run/netns/{node.netns}", "unshare", f"--mount={node.mnt_ns}",
                f"--uts={node.uts_ns}", "--propagation", "private", "sh", "-c", setup_script(node)])


def _enter(node: NodePlan) -> list[str]:
    """The command prefix that runs something inside a node (what `lab ssh` does without SSH)."""
    return ["nsenter", f"--net=/run/netns/{node.netns}", f"--mount={node.mnt_ns}", f"--uts={node.uts_ns}"]


def _run_start(node: NodePlan, script: str) -> None:
    system.run([*_enter(node), "sh", "-c", script])


def _log_tail(node: NodePlan) -> str:
    parts = []
    for path in (node.dir / "logs" / "sshd.log", node.dir / "logs" / "dockerd.log"):
        log = path.name
        if path.is_file():
            lines = path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
            if lines:
                parts.append(f"{log}: {lines[-1][:200]}")
    return "; ".join(parts) or f"no logs in {node.dir / 'logs'}"


def _wait(layout: LabLayout, nodes: Sequence[NodePlan], timeout: float) -> None:
    probe.wait_until_up(nodes, timeout=timeout, log_tail=_log_tail)


# --- node faults -----------------------------------------------------------------------------------

def node_pids(layout: LabLayout, node: NodePlan) -> set[int]:
    return system.netns_pids(node.netns) | system.cgroup_pids(node.cgroup_parent)


def stop_node(layout: LabLayout, name: str) -> None:
    """The node dies: every process in it (sshd, engine, containers, etcd, agent) is killed."""
    node = layout.node(name)
    system.kill_all(node_pids(layout, node))
    system.remove_cgroups(node.cgroup_parent)
    for pidfile in ("sshd.pid", "docker.pid", "stackctl-etcd.pid", "stackctl-agent.pid", "stackctl-proxy.pid",
                    "docker/containerd/containerd.pid"):
        (node.run_dir / pidfile).unlink(missing_ok=True)


def start_node(layout: LabLayout, name: str, *, wait: bool = True, timeout: float = 60) -> None:
    node = layout.node(name)
    if not node.mnt_ns.exists() or node.netns not in system.netns_list(node.netns):
        raise LabError(f"lab node {name} has lost its namespaces; run `stackctl lab down --name "
                       f"{layout.name}` then `lab up`")
    _run_start(node, start_script(layout, node))
    if wait:
        _wait(layout, [node], timeout)


def partition(layout: LabLayout, name: str) -> None:
    """Cut the node off the lab network (its processes keep running)."""
    system.run(["ip", "link", "set", layout.node(name).veth_host, "down"])


def heal(layout: LabLayout) -> None:
    for node in layout.nodes:
        system.run(["ip", "link", "set", node.veth_host, "master", layout.bridge, "up"])


def status(layout: LabLayout) -> list[dict[str, object]]:
    rows = []
    for node in layout.nodes:
        h = probe.health(node)
        link = system.run(["ip", "-o", "link", "show", "dev", node.veth_host], check=False).stdout
        flags = link.split("<", 1)[1].split(">", 1)[0].split(",") if "<" in link else []
        rows.append({"name": node.name, "address": node.address, "role": node.role,
                     "sshd": h.sshd, "engine": h.engine, "etcd": probe.etcd_health(node),
                     "agent": probe.agent_running(node),
                     "partitioned": "UP" not in flags,
                     "processes": len(node_pids(layout, node))})
    return rows


def load_images(layout: LabLayout, images: Sequence[str], *, nodes: Sequence[str] = ()) -> None:
    """`docker save IMAGES | docker load` into each node's engine (directly on its socket)."""
    targets = [layout.node(n) for n in nodes] if nodes else list(layout.nodes)
    save = subprocess.run(["docker", "save", *images], capture_output=True, timeout=600, check=False)
    if save.returncode != 0:
        raise LabError(f"docker save {' '.join(images)} failed: {save.stderr.decode().strip()}")
    for node in targets:
        loaded = subprocess.run(["docker", "-H", f"unix://{node.docker_sock}", "load", "-q"],
                                input=save.stdout, capture_output=True, timeout=600, check=False)
        if loaded.returncode != 0:
            raise LabError(f"docker load on {node.name} failed: {loaded.stderr.decode().strip()}")


def ssh_argv(layout: LabLayout, name: str, command: Sequence[str]) -> list[str]:
    node = layout.node(name)
    return ["ssh", "-i", str(layout.client_key), "-o", f"UserKnownHostsFile={layout.known_hosts}",
            "-o", "StrictHostKeyChecking=yes", "-o", "LogLevel=ERROR", f"root@{node.address}", *command]


# --- down ----------------------------------------------------------------------------------------

def down(*, name: str, roots: Roots) -> None:
    """Remove everything the lab named ``name`` made, found by name: nothing is left behind."""
    check_name(name)
    netns_prefix, cg_prefix = f"stackctl-{name}-", f"stackctl-{name}-"
    pids: set[int] = set()
    for ns in system.netns_list(netns_prefix):
        pids |= system.netns_pids(ns)
    pids |= system.cgroup_pids(cg_prefix)
    system.kill_all(pids)
    system.remove_cgroups(cg_prefix)
    system.unmount_all(roots.run / name)
    system.unmount_all(roots.state / name)
    for ns in system.netns_list(netns_prefix):
        system.run(["ip", "netns", "del", ns], check=False)
    for link in [*system.links(f"stk-{name}-"), *system.links(f"stkbr-{name}")]:
        if link in (f"stkbr-{name}",) or link.startswith(f"stk-{name}-"):
            system.run(["ip", "link", "del", link], check=False)
    system.delete_rules(f"stackctl-lab-{name}")
    shutil.rmtree(roots.run / name, ignore_errors=True)
    shutil.rmtree(roots.state / name, ignore_errors=True)
    if (roots.state / name).exists():
        raise LabError(f"could not remove {roots.state / name}")
    for entry in roots.clusters.entries():
        if entry.inventory == (roots.state / name / "inventory.json").resolve():
            roots.clusters.remove(entry.name)
