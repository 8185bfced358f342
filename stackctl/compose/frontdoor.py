"""Replicas behind one fixed published port: the embedded load balancer fronts them.

docker compose cannot run `ports: ["8080:80"]` with several replicas (the engine refuses the second
bind). stackctl creates the replicas of such a service without the fixed host binding and has the
project's balancer (``stackctl.lb.control``) listen on the published port and forward to the
replicas' addresses. A service stays behind the balancer once it got there (until `down`), so that
scaling back to one replica does not move the port again. Replicas that a plan removes are taken
out of the balancer (and drained) before they are stopped.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from stackctl.compose.project import Project
from stackctl.plan.actions import Plan
from stackctl.plan.diff import UpOptions, fixed_host_ports, replicas_of
from stackctl.plan.observed import ObservedContainer


def listener_name(service: str, port: Mapping[str, Any]) -> str:
    return f"{service}-{port['published']}-{port.get('protocol') or 'tcp'}"


def _fixed(svc: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    ports = fixed_host_ports(svc)
    return [p for p in svc.get("ports") or [] if str(p.get("published") or "").isdigit()
            and int(p["published"]) in ports]


def _current_listeners(project: str, state_dir: Path) -> set[str]:
    from stackctl.lb.control import listener_names

    return listener_names(project, state_dir=state_dir)


def balanced(project: Project, scale: Mapping[str, int], *, state_dir: Path) -> frozenset[str]:
    """Services whose fixed published ports the balancer serves: several replicas, or already behind it."""
    out = {name for name, svc in project.services.items()
           if _fixed(svc) and replicas_of(svc, scale.get(name)) > 1}
    if any(_fixed(svc) for svc in project.services.values()):
        current = _current_listeners(project.name, state_dir)
        out |= {name for name, svc in project.services.items()
                if any(listener_name(name, p) in current for p in _fixed(svc))}
    return frozenset(out)


def balanced_port(project: Project, service: str, private: int, protocol: str, *, state_dir: Path) -> str | None:
    """`host:port` where the balancer serves ``service``'s ``private`` port, or None when it does not."""
    svc = project.services.get(service) or {}
    current = _current_listeners(project.name, state_dir)
    for port in _fixed(svc):
        if (int(port.get("target") or 0) == private and (port.get("protocol") or "tcp") == protocol
                and listener_name(service, port) in current):
            return f"{port.get('host_ip') or '0.0.0.0'}:{port['published']}"
    return None


def _listeners(project: Project, services: frozenset[str], containers: list[ObservedContainer]) -> list[Any]:
    from stackctl.lb.config import Address, BackendSpec, Listener

    out = []
    for name in sorted(services):
        running = [c for c in containers if c.service == name and c.running and c.ips and not c.oneoff]
        for port in _fixed(project.services[name]):
            backends = tuple(BackendSpec(Address(c.ips[0], int(port["target"])), health=c.health)
                             for c in sorted(running, key=lambda c: c.number))
            out.append(Listener(name=listener_name(name, port),
                                bind=Address(str(port.get("host_ip") or "0.0.0.0"), int(port["published"])),
                                backends=backends, protocol=str(port.get("protocol") or "tcp")))
    return out


def drain_removed(driver: Any, project: Project, options: UpOptions, plan: Plan, *, state_dir: Path) -> None:
    """Before a plan stops replicas of balanced services, point the balancer at the others only."""
    leaving = {a.params.get("id") for a in plan.actions
               if a.kind in ("remove_container", "recreate_container") and a.service in options.ports_elsewhere}
    leaving |= {a.params.get("old_id") for a in plan.actions if a.kind == "recreate_container"}
    if not leaving or not _current_listeners(project.name, state_dir):
        return
    from stackctl.lb import control

    kept = [c for c in driver.observe(project.name).containers if c.id not in leaving]
    current = _current_listeners(project.name, state_dir)
    backends = {lst.name: list(lst.backends) for lst in _listeners(project, options.ports_elsewhere, kept)
                if lst.name in current}
    if backends:
        control.update_backends(project.name, backends, state_dir=state_dir)


def sync(driver: Any, project: Project, options: UpOptions, *, state_dir: Path) -> None:
    """Point the balancer at the running replicas of every balanced service (starting it if needed)."""
    if not options.ports_elsewhere:
        return
    from stackctl.lb import control

    listeners = _listeners(project, options.ports_elsewhere, list(driver.observe(project.name).containers))
    control.ensure_balancer(project.name, listeners, state_dir=state_dir)


def stop(project_name: str, *, state_dir: Path) -> None:
    from stackctl.lb import control

    if control.is_configured(project_name, state_dir=state_dir):
        control.stop_balancer(project_name, state_dir=state_dir)
