"""What the planners read from a service of the canonical document, read in one place.

The canonical document (the dict ``docker compose config --format json`` prints) is the one model on
the data path: it is what the config hash covers, what ``config`` prints and what a cluster stores.
The frozen dataclasses of :mod:`stackctl.model` are a typed view of it (``Project.from_dict``) for
code that wants every key typed; the hot laptop path reads the few keys it decides on through these
functions and :mod:`stackctl.model.dependencies`. Each takes a typed service or the plain dict of one.
Pure code.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackctl.model.dependencies import dependencies

COMPLETED = "service_completed_successfully"


def _get(service: Any, key: str) -> Any:
    return service.get(key) if isinstance(service, Mapping) else getattr(service, key, None)


def replicas_of(service: Any, override: int | None = None) -> int:
    """How many containers the service runs: ``override`` (``--scale``), else ``scale``, else
    ``deploy.replicas``, else 1."""
    if override is not None:
        return override
    if _get(service, "scale") is not None:
        return int(_get(service, "scale"))
    deploy = _get(service, "deploy")
    replicas = (deploy.get("replicas") if isinstance(deploy, Mapping) else getattr(deploy, "replicas", None))
    return 1 if replicas is None else int(replicas)


def fixed_ports(service: Any) -> list[Mapping[str, Any]]:
    """The published ports that name one host port (not a range): only one container can bind each."""
    return [p for p in _ports(service) if str(p.get("published") or "").isdigit()]


def fixed_host_ports(service: Any) -> frozenset[int]:
    return frozenset(int(p["published"]) for p in fixed_ports(service))


def _ports(service: Any) -> list[Mapping[str, Any]]:
    out = []
    for p in _get(service, "ports") or ():
        if isinstance(p, Mapping):
            out.append(p)
        elif hasattr(p, "to_dict"):
            out.append(p.to_dict())
    return out


def has_healthcheck(service: Any) -> bool:
    """Whether the service's containers report a health status (a healthcheck that is not disabled)."""
    hc = _get(service, "healthcheck") or {}
    if not isinstance(hc, Mapping):
        hc = hc.to_dict() if hasattr(hc, "to_dict") else {}
    return bool(hc) and not hc.get("disable") and hc.get("test") != ["NONE"]


def awaited_to_complete(services: Mapping[str, Any]) -> frozenset[str]:
    """The services some other service waits on to exit 0 (``condition: service_completed_successfully``)."""
    return frozenset(e.service for name, svc in services.items() for e in dependencies(svc, name)
                     if e.condition == COMPLETED)
