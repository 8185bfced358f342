"""Where everything of a lab lives: names, addresses, paths and the inventory it writes. Pure.

A lab named ``NAME`` with N nodes is, on the host:

- a bridge ``stkbr-NAME`` holding the lab subnet's first address (e.g. ``10.213.7.1/24``);
- per node i (1-based): a network namespace ``stackctl-NAME-nodeI``, a veth pair whose host end
  ``stk-NAME-I`` sits on the bridge, and whose node end is ``eth0`` with address ``.10+i``;
- persistent mount and UTS namespaces under ``RUN_ROOT/NAME/ns/``;
- per-node directories under ``STATE_ROOT/NAME/nodes/nodeI/`` bound inside the node over the
  directories a VM has for itself: ``/run``, ``/var/lib/docker``, ``/etc/docker``, and those ``cluster
  init`` fills: ``/var/lib/stackctl`` (the installed stackctl), ``/etc/stackctl`` (agent and etcd
  configuration, cluster key, certificates), ``/var/lib/etcd`` and ``/root/.ssh`` (authorized_keys);
  and a file bound over ``/etc/resolv.conf`` that names no resolver outside the machine
  (``nameserver 127.0.0.1``, where nothing answers: a lookup fails at once);
- an ``iptables`` FORWARD rule tagged with the comment ``stackctl-lab-NAME``.

Nothing here touches the system; :mod:`stackctl.lab.system` and :mod:`stackctl.lab.lab` do.
"""

from __future__ import annotations

import ipaddress
import pathlib
import re
import zlib
from dataclasses import dataclass

from stackctl.errors import LabError

NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,7}$")
MAX_NODES = 40
FIRST_HOST = 10  # node i gets host number FIRST_HOST + i
ETCD_CLIENT_PORT = 2379
ETCD_PEER_PORT = 2380


@dataclass(frozen=True)
class NodePlan:
    """One node of a lab: its identity and the host paths that make it up."""

    name: str
    index: int
    address: str
    prefix_len: int
    gateway: str
    role: str  # "manager" or "worker"
    netns: str
    veth_host: str
    dir: pathlib.Path
    mnt_ns: pathlib.Path
    uts_ns: pathlib.Path
    docker_bip: str
    cgroup_parent: str

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"

    @property
    def run_dir(self) -> pathlib.Path:
        return self.dir / "run"

    @property
    def docker_sock(self) -> pathlib.Path:
        """The node's engine socket as seen from the host (``/run/docker.sock`` inside)."""
        return self.run_dir / "docker.sock"

    @property
    def host_key(self) -> pathlib.Path:
        return self.dir / "ssh_host_ed25519_key"

    @property
    def etc_stackctl(self) -> pathlib.Path:
        """The node's ``/etc/stackctl`` as seen from the host (what ``cluster init`` wrote there)."""
        return self.dir / "etc-stackctl"

    @property
    def root_ssh(self) -> pathlib.Path:
        """The node's ``/root/.ssh`` (authorized_keys) as seen from the host."""
        return self.dir / "root-ssh"

    @property
    def resolv_conf(self) -> pathlib.Path:
        return self.dir / "resolv.conf"


@dataclass(frozen=True)
class LabLayout:
    """A whole lab: bridge, subnet, nodes, and the files it writes."""

    name: str
    subnet: str
    bridge: str
    bridge_address: str
    state_dir: pathlib.Path
    ns_dir: pathlib.Path
    nodes: tuple[NodePlan, ...]

    @property
    def comment(self) -> str:
        """The tag put on this lab's iptables rules."""
        return f"stackctl-lab-{self.name}"

    @property
    def netns_prefix(self) -> str:
        return f"stackctl-{self.name}-"

    @property
    def veth_prefix(self) -> str:
        return f"stk-{self.name}-"

    @property
    def client_key(self) -> pathlib.Path:
        return self.state_dir / "id_ed25519"

    @property
    def known_hosts(self) -> pathlib.Path:
        return self.state_dir / "known_hosts"

    @property
    def inventory_file(self) -> pathlib.Path:
        return self.state_dir / "inventory.json"

    @property
    def spec_file(self) -> pathlib.Path:
        return self.state_dir / "lab.json"

    @property
    def managers(self) -> tuple[NodePlan, ...]:
        return tuple(n for n in self.nodes if n.is_manager)

    def node(self, name: str) -> NodePlan:
        for n in self.nodes:
            if n.name == name:
                return n
        known = ", ".join(n.name for n in self.nodes)
        raise LabError(f"lab {self.name!r} has no node {name!r} (nodes: {known})")


def check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise LabError(f"lab name {name!r} is invalid: 1-8 characters, lowercase letters and digits, "
                       "starting with a letter")
    return name


def default_subnet(name: str) -> str:
    """A /24 in 10.213.0.0/16 chosen from the lab name, so two labs rarely collide."""
    third = zlib.crc32(name.encode()) % 250 + 1
    return f"10.213.{third}.0/24"


def plan_lab(*, name: str, nodes: int, managers: int, state_root: pathlib.Path,
             run_root: pathlib.Path, subnet: str | None = None) -> LabLayout:
    """The complete layout of a lab; raises LabError on impossible requests."""
    check_name(name)
    if not 1 <= nodes <= MAX_NODES:
        raise LabError(f"--nodes must be between 1 and {MAX_NODES}, not {nodes}")
    if not 0 <= managers <= nodes:
        raise LabError(f"--managers must be between 0 and the number of nodes ({nodes}), not {managers}")
    net = _parse_subnet(subnet or default_subnet(name), nodes)
    hosts = list(net.hosts())
    state_dir = state_root / name
    ns_dir = run_root / name / "ns"
    plans = tuple(
        _node_plan(name=name, index=i, address=str(hosts[FIRST_HOST + i - 1]), net=net,
                   gateway=str(hosts[0]), manager=i <= managers, state_dir=state_dir, ns_dir=ns_dir)
        for i in range(1, nodes + 1))
    return LabLayout(name=name, subnet=str(net), bridge=f"stkbr-{name}",
                     bridge_address=f"{hosts[0]}/{net.prefixlen}", state_dir=state_dir, ns_dir=ns_dir,
                     nodes=plans)


def _parse_subnet(subnet: str, nodes: int) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.IPv4Network(subnet, strict=True)
    except ValueError as exc:
        raise LabError(f"--subnet {subnet!r} is not an IPv4 network: {exc}") from exc
    if not net.is_private:
        raise LabError(f"--subnet {subnet} is not a private network")
    if net.num_addresses - 2 < FIRST_HOST + nodes:
        raise LabError(f"--subnet {subnet} is too small for {nodes} nodes")
    return net


def _node_plan(*, name: str, index: int, address: str, net: ipaddress.IPv4Network, gateway: str,
               manager: bool, state_dir: pathlib.Path, ns_dir: pathlib.Path) -> NodePlan:
    node = f"node{index}"
    return NodePlan(
        name=node, index=index, address=address, prefix_len=net.prefixlen, gateway=gateway,
        role="manager" if manager else "worker", netns=f"stackctl-{name}-{node}",
        veth_host=f"stk-{name}-{index}",
        dir=state_dir / "nodes" / node, mnt_ns=ns_dir / f"{node}.mnt", uts_ns=ns_dir / f"{node}.uts",
        docker_bip=f"172.31.{index}.1/24", cgroup_parent=f"stackctl-{name}-{node}")


def inventory_document(layout: LabLayout) -> dict[str, object]:
    """The inventory (schemas/inventory.schema.json) describing this lab to the cluster code."""
    return {
        "version": 1,
        "name": layout.name,
        "ssh": {"user": "root", "port": 22, "identity_file": str(layout.client_key),
                "known_hosts": str(layout.known_hosts)},
        "nodes": [{"name": n.name, "address": n.address, "role": n.role,
                   "labels": {"stackctl.lab": layout.name}} for n in layout.nodes],
    }


def conflicting_route(layout: LabLayout, routes: list[tuple[str, str]]) -> str | None:
    """The first host route (prefix, device) that overlaps the lab subnet on another device."""
    net = ipaddress.IPv4Network(layout.subnet)
    for prefix, dev in routes:
        if prefix == "default" or dev == layout.bridge:
            continue
        try:
            other = ipaddress.IPv4Network(prefix, strict=False)
        except ValueError:
            continue
        if net.overlaps(other):
            return f"{prefix} dev {dev}"
    return None
