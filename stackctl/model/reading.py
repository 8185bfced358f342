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


# -- what the cluster's scheduler reads (``deploy`` and host ports) ------------------------------------

def _section(value: Any, key: str) -> Any:
    """``value[key]`` of a dict or ``value.key`` of a typed model; ``None`` when absent."""
    if value is None:
        return None
    return value.get(key) if isinstance(value, Mapping) else getattr(value, key, None)


def deploy_mode(service: Any) -> str:
    """``deploy.mode``: ``"replicated"`` (the default) or ``"global"``."""
    return str(_section(_get(service, "deploy"), "mode") or "replicated")


def placement_constraints(service: Any) -> tuple[str, ...]:
    """``deploy.placement.constraints`` as written (``"node.labels.disk==ssd"``)."""
    placement = _section(_get(service, "deploy"), "placement")
    return tuple(_section(placement, "constraints") or ())


def placement_spreads(service: Any) -> tuple[Any, ...]:
    """The ``spread`` value of each ``deploy.placement.preferences`` entry, in order (None when absent)."""
    placement = _section(_get(service, "deploy"), "placement")
    return tuple(_section(p, "spread") for p in _section(placement, "preferences") or ())


def max_replicas_per_node(service: Any) -> int | None:
    """``deploy.placement.max_replicas_per_node`` (None or 0: no limit)."""
    value = _section(_section(_get(service, "deploy"), "placement"), "max_replicas_per_node")
    return None if value is None else int(value)


def reservations(service: Any) -> tuple[Any, Any]:
    """``deploy.resources.reservations`` ``(cpus, memory)`` as the document has them (memory: bytes as a
    string in the canonical form); ``None`` for what is not reserved."""
    res = _section(_section(_get(service, "deploy"), "resources"), "reservations")
    return _section(res, "cpus"), _section(res, "memory")


def host_bound_ports(service: Any, *, ingress: bool = False) -> frozenset[tuple[int, str]]:
    """``(published, protocol)`` of the fixed published ports in ``mode: host`` (and, with ``ingress``,
    the ingress ones too: without a routing mesh they bind the node's port as well)."""
    return frozenset((int(p["published"]), str(p.get("protocol") or "tcp")) for p in fixed_ports(service)
                     if p.get("mode") == "host" or (ingress and p.get("mode") in (None, "ingress")))
