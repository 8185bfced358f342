"""Small normalized compose documents (as `docker compose config --format json` prints them)."""

from __future__ import annotations

import copy
from typing import Any

BUSYBOX = "stackctl/busybox:latest"


def service(**extra: Any) -> dict[str, Any]:
    svc: dict[str, Any] = {"command": ["sleep", "1000"], "entrypoint": None, "image": BUSYBOX,
                           "networks": {"default": None}}
    svc.update(extra)
    return svc


def doc(services: dict[str, dict[str, Any]], *, name: str = "p", **top: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name, "networks": {"default": {"name": f"{name}_default", "ipam": {}}},
                           "services": copy.deepcopy(services)}
    out.update(top)
    return out


def web_db(**web: Any) -> dict[str, Any]:
    """db with a healthcheck; web depends on it being healthy."""
    return doc({
        "db": service(healthcheck={"test": ["CMD", "true"], "interval": "1s"}),
        "web": service(depends_on={"db": {"condition": "service_healthy", "required": True}}, **web),
    })
