from __future__ import annotations

from typing import Any

import pytest

from stackctl.cluster import traffic
from stackctl.cluster.naming import container_name, task_labels
from stackctl.cluster.reconcile import NodeView, reconcile
from stackctl.cluster.state import NodeRecord, ServiceRecord, StackRecord, TaskRecord
from stackctl.errors import ClusterError
from stackctl.lb.config import Address
from stackctl.plan.observed import ObservedContainer

DOC: dict[str, Any] = {
    "name": "shop",
    "services": {
        "web": {"image": "busybox", "networks": {"default": {"aliases": ["www"]}},
                "ports": [{"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp"},
                          {"mode": "ingress", "target": 81, "published": "8081", "protocol": "tcp",
                           "x-stackctl": {"proxy_protocol": "v2"}},
                          {"mode": "host", "target": 82, "published": "8082", "protocol": "tcp"}]},
        "api": {"image": "busybox", "networks": {"default": None}, "expose": ["8000"]},
    },
    "networks": {"default": {"name": "shop_default"}},
}
STACK = StackRecord(name="shop", document=DOC, version=1)
ADDR = {"n1": "10.0.0.1", "n2": "10.0.0.2", "n3": "10.0.0.3"}
VIPS = {("shop", "web"): "10.240.0.1", ("shop", "api"): "10.240.0.2"}


def task(tid: int, node: str, service: str = "web") -> TaskRecord:
    return TaskRecord(id=f"{tid:012x}", stack="shop", service=service, slot=tid, node=node, desired="running",
                      state="running", spec_hash="h", service_version=1, leader_rev=1)


def container(t: TaskRecord, ports: tuple[tuple[str, int, int, str], ...]) -> ObservedContainer:
    return ObservedContainer(id=f"c{t.id}", name=container_name(t), service=t.service, number=t.slot,
                             labels=task_labels(t, leader_rev=1), ports=ports)


def test_vips_are_kept_allocated_lowest_free_first_and_freed_with_their_service() -> None:
    got = traffic.allocate_vips([("s", "a"), ("s", "b")], {}, "10.240.0.0/16")
    assert got == {("s", "a"): "10.240.0.1", ("s", "b"): "10.240.0.2"}
    again = traffic.allocate_vips([("s", "b"), ("s", "c")], got, "10.240.0.0/16")
    assert again == {("s", "b"): "10.240.0.2", ("s", "c"): "10.240.0.1"}
    with pytest.raises(ClusterError, match="is full"):
        traffic.allocate_vips([("s", str(i)) for i in range(3)], {}, "10.9.0.0/30")


def test_a_vip_range_overlapping_a_node_route_or_address_is_named() -> None:
    routes = ["default", "10.213.245.0/24", "172.17.0.0/16"]
    assert traffic.range_collision("10.240.0.0/16", routes, ["10.213.245.11"]) is None
    assert traffic.range_collision("172.16.0.0/12", routes, []) == "172.17.0.0/16"
    assert traffic.range_collision("10.213.0.0/16", [], ["10.213.245.11"]) == "10.213.245.11"


def test_a_task_container_publishes_its_ports_on_ephemeral_node_ports_and_resolves_services_to_vips() -> None:
    t = task(1, "n1")
    d = reconcile([STACK], [ServiceRecord(stack="shop", service="web", version=1, spec_hash="h", replicas=1)],
                  [], [NodeRecord(name="n1", address=ADDR["n1"], state="ready")],
                  {"n1": NodeView(images=frozenset({"busybox"}))}, now=1.0, leader_rev=1, new_id=lambda: t.id)
    adapted = traffic.adapt_actions(d.actions, {"shop": STACK}, VIPS, ADDR)
    spec = next(a.spec for a in adapted["n1"] if a.kind == "create_container")
    assert spec is not None
    host = spec.config["HostConfig"]
    assert host["PortBindings"] == {"80/tcp": [{"HostIp": "10.0.0.1", "HostPort": ""}],
                                    "81/tcp": [{"HostIp": "10.0.0.1", "HostPort": ""}],
                                    "82/tcp": [{"HostIp": "", "HostPort": "8082"},
                                               {"HostIp": "10.0.0.1", "HostPort": ""}]}
    assert {"web:10.240.0.1", "shop_web:10.240.0.1", "www:10.240.0.1", "api:10.240.0.2",
            "shop_api:10.240.0.2"} <= set(host["ExtraHosts"])


def test_every_node_proxy_serves_every_published_port_and_vip_over_every_running_replica() -> None:
    tasks = [task(1, "n1"), task(2, "n2"), task(3, "n2", "api")]
    views = {"n1": NodeView(containers=(container(tasks[0], (("10.0.0.1", 32768, 80, "tcp"),
                                                               ("10.0.0.1", 32769, 81, "tcp"),
                                                               ("", 8082, 82, "tcp"))),)),
             "n2": NodeView(containers=(container(tasks[1], (("10.0.0.2", 32770, 80, "tcp"),)),
                                        container(tasks[2], (("10.0.0.2", 32771, 8000, "tcp"),))))}
    reps = traffic.replicas(tasks, views, ADDR)
    configs = traffic.node_configs(ADDR, [STACK], reps, VIPS)
    assert sorted(configs) == ["n1", "n2", "n3"]
    n3 = {lst.name: lst for lst in configs["n3"].listeners}
    assert sorted(n3) == ["ingress.shop_web.8080", "ingress.shop_web.8081", "vip.shop_api.8000",
                          "vip.shop_web.80", "vip.shop_web.81", "vip.shop_web.82"]
    web = n3["ingress.shop_web.8080"]
    assert web.bind == Address("10.0.0.3", 8080)
    assert [str(b.address) for b in web.backends] == ["10.0.0.1:32768", "10.0.0.2:32770"]
    assert web.proxy_protocol == "none" and n3["ingress.shop_web.8081"].proxy_protocol == "v2"
    assert n3["vip.shop_api.8000"].bind == Address("10.240.0.2", 8000)
    assert [str(b.address) for b in n3["vip.shop_api.8000"].backends] == ["10.0.0.2:32771"]


def test_a_node_missing_from_the_pass_gives_no_backend() -> None:
    tasks = [task(1, "n1"), task(2, "n2")]
    views = {"n1": NodeView(containers=(container(tasks[0], (("10.0.0.1", 32768, 80, "tcp"),)),))}
    reps = traffic.replicas(tasks, views, ADDR)
    assert [r.node for r in reps] == ["n1"]


def test_a_bad_proxy_protocol_value_names_its_key() -> None:
    svc = {"ports": [{"target": 80, "published": "80", "x-stackctl": {"proxy_protocol": "v3"}}]}
    assert traffic.check_service(svc, where="services.web") == [
        ("services.web.ports[0].x-stackctl.proxy_protocol", "'v3' is not one of none, v1, v2")]
