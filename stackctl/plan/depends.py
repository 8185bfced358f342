"""`depends_on` read from the normalized document: each service's dependencies, and who depends on whom. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Dependency:
    service: str
    condition: str = "service_started"
    restart: bool = False
    required: bool = True


def dependencies(service: Mapping[str, Any]) -> tuple[Dependency, ...]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return tuple(Dependency(name) for name in deps)
    return tuple(Dependency(name, (d or {}).get("condition", "service_started"),
                            bool((d or {}).get("restart", False)), bool((d or {}).get("required", True)))
                 for name, d in deps.items())


def dependents_map(doc: Mapping[str, Any] | None) -> dict[str, set[str]]:
    """service -> the services that depend on it."""
    out: dict[str, set[str]] = {}
    for name, svc in ((doc or {}).get("services") or {}).items():
        for dep in dependencies(svc):
            out.setdefault(dep.service, set()).add(name)
    return out
