"""The spec hash of a service, the value of the ``com.docker.compose.config-hash`` label.

It is docker compose's ``ServiceHash``: sha256 of the JSON of the resolved service (the service as
``docker compose config --format json`` prints it) with ``build``, ``pull_policy``, ``scale``,
``deploy.replicas``, ``depends_on`` and ``profiles`` left out, so that scaling or editing
``depends_on`` never recreates a container. The JSON is written the way Go's ``encoding/json``
writes it (compact, keys in the document's order, ``<``, ``>``, ``&`` escaped), so stackctl and
docker compose agree on which containers are up to date. It covers the canonical form only, never
an image lookup.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

IGNORED_KEYS = ("build", "pull_policy", "scale", "depends_on", "profiles")
_GO_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def go_json(value: Any) -> str:
    """Compact JSON as Go's json.Marshal writes it for the same (ordered) value."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    for char, escaped in _GO_ESCAPES.items():
        if char in text:
            text = text.replace(char, escaped)
    return text


def hashable_service(service: Mapping[str, Any]) -> dict[str, Any]:
    """The service without the keys that must not cause a recreate."""
    out = {k: v for k, v in service.items() if k not in IGNORED_KEYS}
    deploy = out.get("deploy")
    if isinstance(deploy, Mapping) and "replicas" in deploy:
        out["deploy"] = {k: v for k, v in deploy.items() if k != "replicas"}
    return out


def service_hash(service: Mapping[str, Any]) -> str:
    """sha256 hex digest of the service's canonical config (equal to `docker compose config --hash`)."""
    return hashlib.sha256(go_json(hashable_service(service)).encode()).hexdigest()


def network_hash(config: Mapping[str, Any]) -> str:
    """The config-hash label of a network (docker compose's NetworkHash): sha256 of its JSON."""
    return hashlib.sha256(go_json(dict(config)).encode()).hexdigest()


def volume_hash(config: Mapping[str, Any]) -> str:
    """docker compose's VolumeHash: the volume's JSON with the driver defaulted to ``local``."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        out[key] = value
        if key == "name" and not config.get("driver"):
            out["driver"] = "local"
    out.setdefault("driver", config.get("driver") or "local")
    return hashlib.sha256(go_json(out).encode()).hexdigest()
