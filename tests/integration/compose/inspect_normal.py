"""How `docker inspect` output is normalised before stackctl's containers, networks and volumes are
compared with docker compose v2.40.3's (tests/integration/compose/test_identical.py).

Every rule lives here, each with its reason. Two kinds:

- **run-specific** values that differ between any two creates, whoever creates: IDs, timestamps,
  engine-allocated paths and addresses. They are dropped or replaced by a stable token.
- **deliberate differences** (``DELIBERATE``): what stackctl sends on purpose in another form than
  docker compose, or what docker compose sends in an order it does not control itself. Each is named
  with why it is kept; everything else must be identical.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

# Deliberate differences (and docker compose's own nondeterminism), with the reason for each.
DELIBERATE: dict[str, str] = {
    "label io.stackctl.managed-by":
        "stackctl marks what it created (containers, networks, volumes); docker compose has no such label",
    "label com.docker.compose.version":
        "each tool writes its own version; neither reads it back to decide anything",
    "label com.docker.compose.depends_on order":
        "docker compose joins the entries in Go map order (random from run to run); compared as a set",
    "Binds / Mounts / Links / Env / ExtraHosts / Ulimits order":
        "docker compose builds binds, mounts, links, the environment, extra hosts and ulimits from Go maps (random order); the "
        "engine does not care about the order, so each list is compared sorted",
    "ExposedPorts of `expose:` without a protocol":
        "docker compose sends `expose: 8080` as the key `8080`, stackctl as `8080/tcp`; the engine reads "
        "both as tcp (docker compose quirk, not copied)",
    "CapAdd/CapDrop `CAP_` prefix":
        "docker compose sends `NET_ADMIN` as `CAP_NET_ADMIN`; the engine accepts both spellings "
        "(docker compose quirk, not copied)",
    "fixed published port on a replicated service":
        "stackctl fronts the replicas with its load balancer and leaves the port unpublished on the "
        "containers (docker compose would fail to start the second replica): test_identical.py creates "
        "such services with one replica",
    "network_mode/ipc/pid `service:x` and volumes_from sent as container:<name> / <name>":
        "docker compose sends x's container ID; stackctl sends its name, which still means x's container "
        "after x is recreated (stackctl then restarts the dependent instead of leaving it on a removed "
        "ID); the config-hash label hashes the ID as docker compose does. Compared through `Ids`",
    "volumes_from: [x:ro]":
        "docker compose v2.40.3 drops the mode when it resolves x to an ID (the volumes come read-write); "
        "stackctl keeps `:ro` as written (the hash still drops it, as docker compose's does)",
    "healthcheck.start_interval on an engine older than v25":
        "docker compose refuses the project; stackctl sends it and the engine ignores it (not in the corpus)",
}

# Keys of a container's `docker inspect` that only say which create this was.
_CONTAINER_RUN_KEYS = ("Id", "Created", "State", "ResolvConfPath", "HostnamePath", "HostsPath", "LogPath",
                       "GraphDriver", "RestartCount", "ExecIDs", "SizeRw", "SizeRootFs", "MountLabel",
                       "ProcessLabel", "AppArmorProfile", "Platform", "Driver")
# Per network endpoint: IDs and addresses the engine allocates (empty until start, but not always).
_ENDPOINT_RUN_KEYS = ("NetworkID", "EndpointID", "Gateway", "IPAddress", "IPPrefixLen", "IPv6Gateway",
                      "GlobalIPv6Address", "GlobalIPv6PrefixLen", "MacAddress")
_NETWORK_SETTINGS_RUN_KEYS = ("SandboxID", "SandboxKey", "HairpinMode", "LinkLocalIPv6Address",
                              "LinkLocalIPv6PrefixLen", "SecondaryIPAddresses", "SecondaryIPv6Addresses",
                              "EndpointID", "Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen", "IPAddress",
                              "IPPrefixLen", "IPv6Gateway", "MacAddress", "Bridge", "Ports")
_DROPPED_LABELS = ("io.stackctl.managed-by", "com.docker.compose.version")
HASH_OVER_IDS = "<config-hash over container IDs: recomputed and equal>"


def hash_over_ids(raw: Mapping[str, Any], expected: str | None) -> dict[str, Any]:
    """The config-hash of a service with `network_mode|ipc|pid: service:x` or `volumes_from` hashes
    x's container ID (docker compose resolves the reference first), so it differs between any two
    creates. ``expected``: the hash recomputed from this run's own IDs (by the test); when the label
    holds it, the label is replaced by a token saying so, otherwise it is left to differ."""
    labels = (raw.get("Config") or {}).get("Labels") or {}
    if expected is None or labels.get("com.docker.compose.config-hash") != expected:
        return dict(raw)
    config = {**raw["Config"], "Labels": {**labels, "com.docker.compose.config-hash": HASH_OVER_IDS}}
    return {**raw, "Config": config}


class Ids:
    """Engine IDs (full or short) -> the object's name: an ID embedded in a value (a hostname that is
    the short ID, `container:<id>`) says the same thing in both runs. This is also the rule for the
    deliberate `container:<id>` / `container:<name>` difference (see DELIBERATE)."""

    def __init__(self, objects: Iterable[tuple[str, str, str]]) -> None:
        self.tokens: dict[str, str] = {}
        for _kind, ident, name in objects:
            self.tokens[ident] = name
            self.tokens[ident[:12]] = name
        self._pattern = re.compile("|".join(sorted(map(re.escape, self.tokens), key=len, reverse=True))) \
            if self.tokens else None

    def sub(self, value: Any) -> Any:
        if isinstance(value, str) and self._pattern is not None:
            return self._pattern.sub(lambda m: self.tokens[m.group(0)], value)
        if isinstance(value, list):
            return [self.sub(v) for v in value]
        if isinstance(value, dict):
            return {self.sub(k): self.sub(v) for k, v in value.items()}
        return value


def _labels(labels: Mapping[str, str] | None) -> dict[str, str]:
    out = {k: v for k, v in (labels or {}).items() if k not in _DROPPED_LABELS}
    if "com.docker.compose.depends_on" in out:
        out["com.docker.compose.depends_on"] = ",".join(sorted(filter(None, out["com.docker.compose.depends_on"]
                                                                      .split(","))))
    return out


def _sorted(items: list[Any] | None, key: str | None = None) -> list[Any] | None:
    if items is None:
        return None
    return sorted(items, key=(lambda x: str(x[key] if key else x)) if key else str)


def container(raw: Mapping[str, Any], ids: Ids) -> dict[str, Any]:
    out = ids.sub({k: v for k, v in raw.items() if k not in _CONTAINER_RUN_KEYS})
    config = dict(out.get("Config") or {})
    config["Labels"] = _labels(config.get("Labels"))
    config["Env"] = _sorted(config.get("Env"))
    if config.get("ExposedPorts"):
        config["ExposedPorts"] = {k if "/" in k else f"{k}/tcp": v for k, v in config["ExposedPorts"].items()}
    out["Config"] = config
    host = dict(out.get("HostConfig") or {})
    for key in ("Binds", "Links", "ExtraHosts"):
        host[key] = _sorted(host.get(key))
    host["Ulimits"] = _sorted(host.get("Ulimits"), "Name")
    for key in ("CapAdd", "CapDrop"):
        if host.get(key):
            host[key] = [c.removeprefix("CAP_") for c in host[key]]
    host["Mounts"] = _sorted(host.get("Mounts"), "Target")
    out["HostConfig"] = host
    out["Mounts"] = [{k: v for k, v in m.items() if not (m.get("Type") == "volume" and k in ("Name", "Source")
                                                         and _anonymous(m))}
                     for m in _sorted(out.get("Mounts"), "Destination") or []]
    out["NetworkSettings"] = _network_settings(out.get("NetworkSettings") or {})
    return out


def _anonymous(mount: Mapping[str, Any]) -> bool:
    """An anonymous volume's name is a random 64-hex string chosen by the engine."""
    return bool(re.fullmatch(r"[0-9a-f]{64}", str(mount.get("Name") or "")))


def _network_settings(raw: Mapping[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in raw.items() if k not in _NETWORK_SETTINGS_RUN_KEYS}
    networks = {}
    for name, ep in (out.get("Networks") or {}).items():
        ep = {k: v for k, v in (ep or {}).items() if k not in _ENDPOINT_RUN_KEYS}
        if ep.get("Links") is not None:
            ep["Links"] = sorted(ep["Links"])
        if ep.get("Aliases") is not None:
            ep["Aliases"] = sorted(ep["Aliases"])  # the engine appends the short ID on start only
        networks[name] = ep
    out["Networks"] = networks
    return out


def network(raw: Mapping[str, Any], ids: Ids, *, declared_subnets: frozenset[str]) -> dict[str, Any]:
    """``declared_subnets``: the subnets the compose file names; any other was allocated by the
    engine from its pool, and which one depends on what else exists at that moment."""
    out = {k: v for k, v in raw.items() if k not in ("Id", "Created", "Containers")}
    out["Labels"] = _labels(out.get("Labels"))
    ipam = dict(out.get("IPAM") or {})
    ipam["Config"] = [c if c.get("Subnet") in declared_subnets else {k: "<allocated>" for k in c}
                      for c in ipam.get("Config") or []]
    out["IPAM"] = ipam
    return ids.sub(out)


def volume(raw: Mapping[str, Any], ids: Ids) -> dict[str, Any]:
    out = {k: v for k, v in raw.items() if k not in ("CreatedAt",)}
    out["Labels"] = _labels(out.get("Labels"))
    return ids.sub(out)


def first_difference(a: Any, b: Any, path: str = "") -> str:
    """The first key path where two normalised documents differ (empty when they are equal)."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a or key not in b or a[key] != b[key]:
                if key in a and key in b:
                    return first_difference(a[key], b[key], f"{path}.{key}")
                return f"{path}.{key}: ours {a.get(key, '<absent>')!r} != theirs {b.get(key, '<absent>')!r}"
        return ""
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return first_difference(x, y, f"{path}[{i}]")
        return ""
    return "" if a == b else f"{path}: ours {a!r} != theirs {b!r}"


def all_differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Every leaf difference, for a readable failure listing all of them at once."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for key in sorted(set(a) | set(b), key=str):
            if key in a and key in b:
                out += all_differences(a[key], b[key], f"{path}.{key}")
            elif a.get(key) != b.get(key):
                out.append(f"{path}.{key}: ours {a.get(key, '<absent>')!r} != theirs {b.get(key, '<absent>')!r}")
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in all_differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: ours {a!r} != theirs {b!r}"]
