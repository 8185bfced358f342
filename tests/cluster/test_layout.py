"""The lab's plan (pure): names the kernel accepts, addresses that fit, an inventory that loads."""

from __future__ import annotations

import ipaddress
import pathlib

import pytest

from stackctl.cluster.inventory import load_schema, parse_inventory
from stackctl.errors import LabError
from stackctl.lab.layout import conflicting_route, default_subnet, inventory_document, plan_lab
from stackctl.lab.scripts import daemon_json, start_script

IFNAMSIZ = 15  # longest interface name Linux accepts


def plan(**kw: object):  # type: ignore[no-untyped-def]
    args = {"name": "lab", "nodes": 3, "managers": 1, "state_root": pathlib.Path("/s"),
            "run_root": pathlib.Path("/r"), **kw}
    return plan_lab(**args)  # type: ignore[arg-type]


def test_longest_names_and_most_nodes_fit_the_kernel_limits() -> None:
    layout = plan(name="abcdefgh", nodes=40, managers=3)
    names = [layout.bridge, *(n.veth_host for n in layout.nodes)]
    assert max(len(n) for n in names) <= IFNAMSIZ
    assert len(set(names)) == len(names)
    addrs = [ipaddress.IPv4Address(n.address) for n in layout.nodes]
    net = ipaddress.IPv4Network(layout.subnet)
    assert len(set(addrs)) == 40 and all(a in net for a in addrs)
    assert ipaddress.IPv4Address(layout.bridge_address.split("/")[0]) not in addrs
    assert len({n.docker_bip for n in layout.nodes}) == 40  # each node's docker0 is distinct


def test_default_subnet_is_private_and_stable_per_name() -> None:
    assert default_subnet("lab") == default_subnet("lab")
    assert default_subnet("lab") != default_subnet("other")
    assert ipaddress.IPv4Network(default_subnet("lab")).is_private


@pytest.mark.parametrize(("kw", "message"), [
    ({"subnet": "10.9.9.0/29"}, "too small for 3 nodes"),
    ({"subnet": "10.9.9.1/24"}, "is not an IPv4 network"),
    ({"nodes": 41}, "--nodes must be between 1 and 40"),
    ({"name": "9lab"}, "lab name '9lab' is invalid"),
])
def test_impossible_labs_are_refused(kw: dict[str, object], message: str) -> None:
    with pytest.raises(LabError, match=message):
        plan(**kw)


def test_the_lab_inventory_is_a_valid_inventory() -> None:
    layout = plan(managers=2)
    inv = parse_inventory(inventory_document(layout), file="lab.json", base_dir=pathlib.Path("/"),
                          schema=load_schema())
    assert [(n.name, n.role) for n in inv.nodes] == [("node1", "manager"), ("node2", "manager"),
                                                      ("node3", "worker")]
    assert inv.etcd_endpoints == ()  # no open etcd: cluster init's is on each manager's loopback
    assert inv.nodes[0].ssh.known_hosts == layout.known_hosts


def test_the_lab_starts_no_etcd_itself_only_what_cluster_init_set_up() -> None:
    layout = plan(managers=2)
    for node in layout.nodes:
        script = start_script(layout, node)
        assert "--listen-client-urls" not in script and "2379" not in script
        assert "[ -f /etc/stackctl/etcd.sh ]" in script and "supervise.sh agent" in script
    assert f'"bip": "{layout.nodes[2].docker_bip}"' in daemon_json(layout.nodes[2])
    assert '"dns": [\n    "127.0.0.1"' in daemon_json(layout.nodes[2])


def test_a_subnet_already_routed_elsewhere_is_found() -> None:
    layout = plan(subnet="10.50.1.0/24")
    routes = [("default", "eth0"), ("10.50.0.0/16", "wg0"), ("10.50.1.0/24", layout.bridge)]
    assert conflicting_route(layout, routes) == "10.50.0.0/16 dev wg0"
    assert conflicting_route(layout, routes[2:]) is None  # our own bridge is not a conflict
