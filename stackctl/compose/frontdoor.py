"""Replicas behind one fixed published port: the embedded load balancer fronts them.

docker compose cannot run `ports: ["8080:80"]` with several replicas (the engine refuses the second
bind). stackctl creates such replicas without the fixed host binding and asks the load balancer
(``stackctl.lb.control``) to listen on the published port and forward to the replicas' addresses.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from stackctl.compose.container_config import fixed_ports
from stackctl.compose.project import Project
from stackctl.plan.diff import UpOptions, replicas_of


def fronted(project: Project, options: UpOptions) -> set[str]:
    """Services whose fixed published ports the load balancer must serve."""
    return {name for name, svc in project.services.items()
            if fixed_ports(svc) and replicas_of(svc, options.scale.get(name)) > 1}


def publish_filter(project: Project, options: UpOptions) -> Callable[[str], bool]:
    lb = fronted(project, options)
    return lambda service: service not in lb


def _control() -> Any | None:
    try:
        from stackctl.lb import control  # type: ignore[attr-defined]
    except ImportError:
        return None
    return control


def sync(driver: Any, project: Project, options: UpOptions) -> None:
    """Point the load balancer at the current replicas of every fronted service."""
    services = fronted(project, options)
    if not services:
        return
    control = _control()
    if control is None or not hasattr(control, "sync_project"):
        names = ", ".join(sorted(services))
        print(f"WARN[0000] the embedded load balancer is not available: the fixed published ports of "
              f"{names} are not served", file=sys.stderr)
        return
    control.sync_project(driver, project, services)


def stop(driver: Any, project_name: str) -> None:
    control = _control()
    if control is not None and hasattr(control, "stop_project"):
        control.stop_project(driver, project_name)
