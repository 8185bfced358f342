"""Cluster traffic, pure: service VIPs, the task containers' ports and hosts entries, each node proxy's config.

The routing mesh is userspace, as kube-proxy's first mode was: every node runs the node proxy (the
embedded balancer, ``stackctl lb serve``), and the leader sends each one its whole configuration:

- a task publishes every port its service is reached on (the ``ports`` targets and ``expose``) on an
  ephemeral host port of its node's cluster address (``HostIp`` = the node's address, ``HostPort`` empty);
  ``mode: host`` ports keep their own binding, on the task's node only (no listener anywhere);
- each ingress published port (``8080:80``) is a listener ``<node address>:8080`` on every node whose
  backends are ``<node address>:<host port>`` of every running replica in the cluster;
- each service has a virtual IP for its life, from the cluster's VIP range; every node proxy listens on
  ``VIP:target`` for each target port (the node routes the whole range to itself: ``ip route replace
  local RANGE dev lo``), and every task container gets hosts entries for the services of its stack
  (``web``, ``<stack>_web`` and the network aliases -> the VIP) when it is created;
- PROXY protocol toward the backends, per published port: ``x-stackctl: {proxy_protocol: v2}`` on the
  port (long syntax) or on the service (every published port of it); off by default.

Nothing here reads a clock, a socket or the environment.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from stackctl import labels as L
from stackctl.cluster.naming import task_of
from stackctl.cluster.reconcile import NodeView
from stackctl.cluster.state import StackRecord, TaskRecord
from stackctl.errors import ClusterError
from stackctl.lb.config import PROXY_PROTOCOLS, Address, BackendSpec, Config, HealthCheck, Listener
from stackctl.plan.actions import Action, ContainerSpec

DEFAULT_VIP_RANGE = "10.240.0.0/16"
# The node proxies' checks: a backend that stops answering is out within interval + timeout (< 1 s);
# a refused connect takes it out at once (passive check), and the leader's push removes a silent node.
HEALTH = HealthCheck(interval=0.5, timeout=0.4, rise=1, fall=1)
CONNECT_TIMEOUT = 1.0
EXTENSION = "x-stackctl"

ServiceKey = tuple[str, str]


@dataclass(frozen=True)
class Published:
    """An ingress published port of a service: ``published`` on every node -> ``target`` of the replicas."""

    published: int
    target: int
    protocol: str
    proxy_protocol: str = "none"


@dataclass(frozen=True)
class Replica:
    """A running task as the proxies reach it: its node's address and the host port of each target port."""

    stack: str
    service: str
    node: str
    address: str
    ports: Mapping[tuple[int, str], int]
    health: str | None = None


# --- what a service publishes -----------------------------------------------------------------------------

def _ports(svc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [p for p in svc.get("ports") or [] if isinstance(p, Mapping)]


def proxy_protocol(port: Mapping[str, Any], svc: Mapping[str, Any]) -> str:
    """The port's ``x-stackctl.proxy_protocol``, else the service's, else none."""
    for ext in (port.get(EXTENSION), svc.get(EXTENSION)):
        if isinstance(ext, Mapping) and ext.get("proxy_protocol") is not None:
            value = str(ext["proxy_protocol"])
            return "none" if value in ("false", "False", "off") else value
    return "none"


def published_ports(svc: Mapping[str, Any]) -> list[Published]:
    """The service's ingress published ports (``mode: host`` ones and unpublished ones are not)."""
    out = []
    for p in _ports(svc):
        if p.get("mode", "ingress") != "ingress" or not str(p.get("published") or "").strip():
            continue
        first, _, last = str(p["published"]).partition("-")
        start = int(first)
        for i in range(int(last) - start + 1 if last else 1):
            out.append(Published(start + i, int(p["target"]) + i, str(p.get("protocol") or "tcp"),
                                 proxy_protocol(p, svc)))
    return out


def target_ports(svc: Mapping[str, Any]) -> list[tuple[int, str]]:
    """Every (port, protocol) a service is reached on: its ``ports`` targets and its ``expose`` entries."""
    out: list[tuple[int, str]] = []
    for p in _ports(svc):
        out.append((int(p["target"]), str(p.get("protocol") or "tcp")))
    for e in svc.get("expose") or []:
        port, _, proto = str(e).partition("/")
        first, _, last = port.partition("-")
        out += [(n, proto or "tcp") for n in range(int(first), int(last or first) + 1)]
    return sorted(set(out))


def host_mode_targets(svc: Mapping[str, Any]) -> set[tuple[int, str]]:
    return {(int(p["target"]), str(p.get("protocol") or "tcp")) for p in _ports(svc) if p.get("mode") == "host"}


def check_service(svc: Mapping[str, Any], *, where: str) -> list[tuple[str, str]]:
    """Problems of the traffic keys of a service (``stack deploy`` refuses them): (key path, message)."""
    out = []
    for i, p in enumerate(_ports(svc)):
        value = proxy_protocol(p, svc)
        if value not in PROXY_PROTOCOLS:
            key = f"{where}.ports[{i}].{EXTENSION}.proxy_protocol" if isinstance(p.get(EXTENSION), Mapping) \
                else f"{where}.{EXTENSION}.proxy_protocol"
            out.append((key, f"{value!r} is not one of {', '.join(PROXY_PROTOCOLS)}"))
    return out


# --- virtual IPs ---------------------------------------------------------------------------------------

def vip_network(text: str) -> ipaddress.IPv4Network:
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError as exc:
        raise ClusterError(f"VIP range {text!r}: {exc}") from None
    if not isinstance(net, ipaddress.IPv4Network) or net.num_addresses < 4:
        raise ClusterError(f"VIP range {text!r}: an IPv4 network of at least 4 addresses is needed")
    return net


def range_collision(vip_range: str, routes: Iterable[str], addresses: Iterable[str]) -> str | None:
    """The first route destination (``10.0.0.0/8``, ``172.17.0.0/16``; ``default`` is skipped) or node
    address that overlaps the VIP range, else None."""
    net = vip_network(vip_range)
    for dest in routes:
        if dest in ("default", "") or "/" not in dest and not dest[0].isdigit():
            continue
        try:
            other = ipaddress.ip_network(dest, strict=False)
        except ValueError:
            continue
        if isinstance(other, ipaddress.IPv4Network) and other.prefixlen > 0 and net.overlaps(other):
            return dest
    for addr in addresses:
        try:
            if ipaddress.ip_address(addr) in net:
                return addr
        except ValueError:
            continue
    return None


def allocate_vips(services: Iterable[ServiceKey], existing: Mapping[ServiceKey, str],
                  vip_range: str) -> dict[ServiceKey, str]:
    """Each service's VIP: the one it has, else the lowest free address of the range (a removed service's
    is free again). Raises ClusterError when the range is full."""
    net = vip_network(vip_range)
    wanted = sorted(set(services))
    out = {k: v for k, v in existing.items() if k in wanted and ipaddress.ip_address(v) in net}
    used = set(out.values())
    free = (str(a) for a in net.hosts() if str(a) not in used)
    for key in wanted:
        if key not in out:
            vip = next(free, None)
            if vip is None:
                raise ClusterError(f"VIP range {vip_range} is full: no virtual IP for {key[0]}_{key[1]}")
            out[key] = vip
    return out


def host_entries(stack: StackRecord, vips: Mapping[ServiceKey, str]) -> list[str]:
    """``name:vip`` hosts entries of every service of the stack: its name, ``<stack>_<name>``, its aliases."""
    out: list[str] = []
    for name, svc in sorted((stack.document.get("services") or {}).items()):
        vip = vips.get((stack.name, name))
        if vip is None:
            continue
        names = [name, f"{stack.name}_{name}"]
        for net in (svc.get("networks") or {}).values():
            names += [str(a) for a in (net or {}).get("aliases") or []]
        out += [f"{n}:{vip}" for n in dict.fromkeys(names)]
    return out


# --- the task containers ----------------------------------------------------------------------------------

def adapt_actions(actions: Mapping[str, Sequence[Action]], stacks: Mapping[str, StackRecord],
                  vips: Mapping[ServiceKey, str], addresses: Mapping[str, str]) -> dict[str, tuple[Action, ...]]:
    """The reconciler's actions with every task container made for the mesh (:func:`task_container`)."""
    out = {}
    for node, items in actions.items():
        out[node] = tuple(_adapted(a, stacks, vips, addresses.get(node, "")) for a in items)
    return out


def _adapted(action: Action, stacks: Mapping[str, StackRecord], vips: Mapping[ServiceKey, str],
             address: str) -> Action:
    if action.kind != "create_container" or action.spec is None:
        return action
    stack = stacks.get(str((action.spec.config.get("Labels") or {}).get(L.STACK, "")))
    if stack is None or action.service is None or action.service not in (stack.document.get("services") or {}):
        return action
    return replace(action, spec=task_container(action.spec, stack, action.service, vips, address))


def task_container(spec: ContainerSpec, stack: StackRecord, service: str, vips: Mapping[ServiceKey, str],
                   address: str) -> ContainerSpec:
    """Every port the service is reached on published on an ephemeral host port of the node's cluster
    address (host-mode ports as they were), and the stack's services' names resolving to their VIPs."""
    svc = stack.document["services"][service]
    config = dict(spec.config)
    host = dict(config.get("HostConfig") or {})
    if not svc.get("network_mode"):
        old = dict(host.get("PortBindings") or {})
        keep = {f"{t}/{p}" for t, p in host_mode_targets(svc)}
        bindings: dict[str, list[dict[str, str]]] = {k: list(v) for k, v in old.items() if k in keep}
        for target, proto in target_ports(svc):
            bindings.setdefault(f"{target}/{proto}", []).append({"HostIp": address, "HostPort": ""})
        host["PortBindings"] = bindings
        exposed = dict(config.get("ExposedPorts") or {})
        exposed.update({k: {} for k in bindings})
        config["ExposedPorts"] = exposed
    entries = host_entries(stack, vips)
    if entries:
        host["ExtraHosts"] = [*(host.get("ExtraHosts") or []), *entries]
    config["HostConfig"] = host
    return replace(spec, config=config)


# --- the node proxies --------------------------------------------------------------------------------------

def replicas(tasks: Iterable[TaskRecord], views: Mapping[str, NodeView], addresses: Mapping[str, str],
             *, excluded: Iterable[str] = ()) -> list[Replica]:
    """The tasks wanted running whose container runs, on the nodes observed this pass (a node that missed
    the leader's probe, or is ``excluded``, gives none: every proxy drops it)."""
    skip = set(excluded)
    wanted = {t.id: t for t in tasks if t.desired == "running" and t.node}
    out = []
    for node, view in sorted(views.items()):
        if node in skip or node not in addresses:
            continue
        for c in view.containers:
            ref = task_of(c.labels)
            t = wanted.get(ref.task) if ref else None
            if t is None or t.node != node or not c.running or c.state != "running":
                continue
            ports = {(target, proto): published for host_ip, published, target, proto in c.ports
                     if host_ip in (addresses[node], "0.0.0.0", "")}
            out.append(Replica(t.stack, t.service, node, addresses[node], ports, c.health))
    return sorted(out, key=lambda r: (r.stack, r.service, r.node, sorted(r.ports.items())))


def _backends(reps: Sequence[Replica], target: int, proto: str) -> tuple[BackendSpec, ...]:
    return tuple(BackendSpec(Address(r.address, r.ports[(target, proto)]), r.health)
                 for r in reps if (target, proto) in r.ports)


def _listener(name: str, bind: Address, backends: tuple[BackendSpec, ...], proto: str,
              proxy: str = "none") -> Listener:
    return Listener(name=name, bind=bind, backends=backends, protocol=proto,
                    health=HEALTH if proto == "tcp" else None, proxy_protocol=proxy if proto == "tcp" else "none",
                    connect_timeout=CONNECT_TIMEOUT, drain_timeout=30.0, engine="auto")


def node_config(address: str, stacks: Iterable[StackRecord], reps: Sequence[Replica],
                vips: Mapping[ServiceKey, str]) -> Config:
    """One node proxy's whole configuration: every ingress published port on the node's address, every
    service's VIP:target, each over the service's running replicas in the whole cluster."""
    listeners: list[Listener] = []
    by_service: dict[ServiceKey, list[Replica]] = {}
    for r in reps:
        by_service.setdefault((r.stack, r.service), []).append(r)
    for stack in sorted(stacks, key=lambda s: s.name):
        for name, svc in sorted((stack.document.get("services") or {}).items()):
            if svc.get("network_mode"):
                continue
            full, mine = f"{stack.name}_{name}", by_service.get((stack.name, name), [])
            for p in published_ports(svc):
                suffix = "" if p.protocol == "tcp" else f".{p.protocol}"
                listeners.append(_listener(f"ingress.{full}.{p.published}{suffix}", Address(address, p.published),
                                           _backends(mine, p.target, p.protocol), p.protocol, p.proxy_protocol))
            vip = vips.get((stack.name, name))
            if vip is None:
                continue
            for target, proto in target_ports(svc):
                suffix = "" if proto == "tcp" else f".{proto}"
                listeners.append(_listener(f"vip.{full}.{target}{suffix}", Address(vip, target),
                                           _backends(mine, target, proto), proto))
    return Config(listeners=tuple(listeners))


def node_configs(addresses: Mapping[str, str], stacks: Iterable[StackRecord], reps: Sequence[Replica],
                 vips: Mapping[ServiceKey, str]) -> dict[str, Config]:
    stacks = list(stacks)
    return {node: node_config(addr, stacks, reps, vips) for node, addr in sorted(addresses.items())}
