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
from collections.abc import Iterable, Mapping
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


def with_container_refs(service: Mapping[str, Any], first_ids: Mapping[str, str]) -> dict[str, Any]:
    """The service as docker compose hashes it when it creates or checks a container: each
    `network_mode|ipc|pid: service:x` becomes `container:<ID of x's first container>` and each
    `volumes_from` entry becomes that ID (`container:y[:mode]` becomes `y`; docker compose drops the
    mode in both cases). ``first_ids``: service -> the ID of its first container (by name); a
    reference to a service without a container is left as written."""
    out = dict(service)
    for key in ("network_mode", "ipc", "pid"):
        value = str(out.get(key) or "")
        if value.startswith("service:") and value[len("service:"):] in first_ids:
            out[key] = "container:" + first_ids[value[len("service:"):]]
    if out.get("volumes_from"):
        refs = []
        for ref in out["volumes_from"]:
            parts = str(ref).split(":")
            refs.append(parts[1] if parts[0] == "container" and len(parts) > 1 else first_ids.get(parts[0], str(ref)))
        out["volumes_from"] = refs
    return out


def first_container_ids(containers: Iterable[tuple[str, str, str]]) -> dict[str, str]:
    """(service, container name, container ID) -> service -> ID of its first container by name, as
    docker compose picks the container a `service:x` reference means."""
    out: dict[str, tuple[str, str]] = {}
    for service, name, ident in containers:
        if service not in out or name < out[service][0]:
            out[service] = (name, ident)
    return {service: ident for service, (_, ident) in out.items()}
