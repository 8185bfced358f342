"""Profiles and service selection, on the normalized compose dict.

Follows compose-go v2.9.1 ``types/project.go`` (``WithProfiles``, ``WithServicesEnabled``,
``WithSelectedServices``) as docker compose v2.40.3 applies them.
Pure functions: dicts in, new dicts out.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stackctl.errors import UsageError


@dataclass(frozen=True)
class ServiceSplit:
    """Services enabled by the active profiles, and the others."""

    enabled: dict[str, Any]
    disabled: dict[str, Any]
    profiles: tuple[str, ...]


def active_profiles(flags: Sequence[str], environment: Mapping[str, str]) -> tuple[str, ...]:
    """``--profile`` values, else ``COMPOSE_PROFILES`` split on commas (items trimmed)."""
    if flags:
        return tuple(flags)
    return tuple(p.strip() for p in environment.get("COMPOSE_PROFILES", "").split(","))


def has_profile(service: Mapping[str, Any], profiles: Sequence[str]) -> bool:
    """True if the service declares no profile or one of ``profiles`` (``*`` enables all)."""
    own = service.get("profiles") or []
    if not own:
        return True
    return "*" in profiles or any(p in own for p in profiles)


def split_services(services: Mapping[str, Any], profiles: Sequence[str]) -> ServiceSplit:
    enabled = {n: s for n, s in services.items() if has_profile(s or {}, profiles)}
    disabled = {n: s for n, s in services.items() if n not in enabled}
    return ServiceSplit(enabled, disabled, tuple(profiles))


def enable_services(split: ServiceSplit, names: Sequence[str]) -> ServiceSplit:
    """Services named on the command line are enabled along with their profiles."""
    profiles = list(split.profiles)
    for name in names:
        if name not in split.enabled and name in split.disabled:
            profiles += (split.disabled[name] or {}).get("profiles") or []
    if profiles == list(split.profiles):
        return split
    return split_services({**split.enabled, **split.disabled}, profiles)


def without_optional_disabled(services: Mapping[str, Any], disabled: Mapping[str, Any]) -> dict[str, Any]:
    """A copy without ``depends_on`` entries on disabled services that have ``required: false``.

    compose-go's consistency check tolerates exactly those; the checker sees this copy."""
    out = {}
    for name, service in services.items():
        deps = (service or {}).get("depends_on")
        if isinstance(deps, dict) and any(_optional(d, deps[d], disabled) for d in deps):
            service = {**service, "depends_on": {d: v for d, v in deps.items() if not _optional(d, v, disabled)}}
        out[name] = service
    return out


def _optional(name: str, dep: Any, disabled: Mapping[str, Any]) -> bool:
    return name in disabled and isinstance(dep, dict) and dep.get("required") is False


def select_services(services: Mapping[str, Any], names: Sequence[str]) -> dict[str, Any]:
    """The named services (shell patterns allowed) and their dependencies, other deps dropped."""
    if not names:
        return dict(services)
    chosen: list[str] = []
    _collect(services, list(names), chosen, required={})
    out = {}
    for name in services:
        if name in chosen:
            service = services[name]
            deps = service.get("depends_on")
            if isinstance(deps, dict):
                kept = {d: v for d, v in deps.items() if d in chosen}
                service = {k: v for k, v in service.items() if k != "depends_on"}
                if kept:
                    service["depends_on"] = kept
            out[name] = service
    return out


def _collect(services: Mapping[str, Any], names: list[str], chosen: list[str],
             required: Mapping[str, bool]) -> None:
    for pattern in names:
        matched = [n for n in services if fnmatch.fnmatchcase(n, pattern)]
        if not matched and required.get(pattern, True):
            raise UsageError(f"no such service: {pattern}")
        for name in matched:
            if name in chosen:
                continue
            chosen.append(name)
            deps = services[name].get("depends_on")
            if isinstance(deps, dict) and deps:
                flags = {d: not (isinstance(v, dict) and v.get("required") is False) for d, v in deps.items()}
                _collect(services, list(deps), chosen, flags)
