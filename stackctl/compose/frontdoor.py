"""Replicas behind one fixed published port: the embedded load balancer fronts them.

docker compose cannot run `ports: ["8080:80"]` with several replicas (the engine refuses the second
bind). stackctl creates the replicas of such a service without the fixed host binding and has the
project's balancer (``stackctl.lb.control``) listen on the published port and forward to the
replicas' addresses. A service stays behind the balancer once it got there (until `down`), so that
scaling back to one replica does not move the port again. Replicas that a plan removes are taken
out of the balancer (and drained) before they are stopped.

The balancer runs on the engine's host: every function takes the project's balancer control
(``lb``: :class:`stackctl.lb.balancers.LocalBalancer` here, ``RemoteBalancer`` over SSH, ``NoBalancer``
for an engine stackctl cannot run one beside), chosen by the CLI from the engine address.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from stackctl.compose.project import Project
from stackctl.model.reading import fixed_ports, replicas_of
from stackctl.plan.actions import Plan
from stackctl.plan.diff import UpOptions
from stackctl.plan.observed import ObservedContainer

if TYPE_CHECKING:
    from stackctl.lb.balancers import BalancerControl


def listener_name(service: str, port: Mapping[str, Any]) -> str:
    return f"{service}-{port['published']}-{port.get('protocol') or 'tcp'}"


def balanced(project: Project, scale: Mapping[str, int], *, lb: BalancerControl) -> frozenset[str]:
    """Services whose fixed published ports the balancer serves: several replicas, or already behind it."""
    out = {name for name, svc in project.services.items()
           if fixed_ports(svc) and replicas_of(svc, scale.get(name)) > 1}
    if any(fixed_ports(svc) for svc in project.services.values()):
        current = lb.listener_names(project.name)
        out |= {name for name, svc in project.services.items()
                if any(listener_name(name, p) in current for p in fixed_ports(svc))}
    return frozenset(out)


def balanced_port(project: Project, service: str, private: int, protocol: str, *, lb: BalancerControl) -> str | None:
    """`host:port` where the balancer serves ``service``'s ``private`` port, or None when it does not."""
    svc = project.services.get(service) or {}
    current = lb.listener_names(project.name)
    for port in fixed_ports(svc):
        if (int(port.get("target") or 0) == private and (port.get("protocol") or "tcp") == protocol
                and listener_name(service, port) in current):
            return f"{port.get('host_ip') or '0.0.0.0'}:{port['published']}"
    return None


def _listeners(project: Project, services: frozenset[str], containers: list[ObservedContainer]) -> list[Any]:
    from stackctl.lb.config import Address, BackendSpec, Listener

    out = []
    for name in sorted(services):
        running = [c for c in containers if c.service == name and c.running and c.ips and not c.oneoff]
        for port in fixed_ports(project.services[name]):
            backends = tuple(BackendSpec(Address(c.ips[0], int(port["target"])), health=c.health)
                             for c in sorted(running, key=lambda c: c.number))
            out.append(Listener(name=listener_name(name, port),
                                bind=Address(str(port.get("host_ip") or "0.0.0.0"), int(port["published"])),
                                backends=backends, protocol=str(port.get("protocol") or "tcp")))
    return out


def drain_removed(driver: Any, project: Project, options: UpOptions, plan: Plan, *, lb: BalancerControl) -> None:
    """Before a plan stops replicas of balanced services, point the balancer at the others only, and
    wait until the connections to the leaving ones have finished (at most their drain timeout)."""
    leaving = {a.params.get("id") for a in plan.actions
               if a.kind in ("remove_container", "recreate_container") and a.service in options.ports_elsewhere}
    leaving |= {a.params.get("old_id") for a in plan.actions if a.kind == "recreate_container"}
    current = lb.listener_names(project.name) if leaving else frozenset()
    if not current:
        return
    seen = list(driver.observe(project.name).containers)
    kept = [c for c in seen if c.id not in leaving]
    backends = {lst.name: list(lst.backends) for lst in _listeners(project, options.ports_elsewhere, kept)
                if lst.name in current}
    if backends:
        lb.update_backends(project.name, backends)
    for lst in _listeners(project, options.ports_elsewhere, [c for c in seen if c.id in leaving]):
        if lst.name in current and lst.backends:
            lb.wait_drained(project.name, lst.name, [b.address for b in lst.backends])


def sync(driver: Any, project: Project, options: UpOptions, *, lb: BalancerControl) -> None:
    """Point the balancer at the running replicas of every balanced service (starting it if needed)."""
    if not options.ports_elsewhere:
        return
    listeners = _listeners(project, options.ports_elsewhere, list(driver.observe(project.name).containers))
    lb.ensure_balancer(project.name, listeners)


def stop(project_name: str, *, lb: BalancerControl) -> None:
    lb.stop_balancer(project_name)
