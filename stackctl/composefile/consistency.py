"""Semantic checks on the normalized document (what ``docker compose config --format json`` prints).

The schema says what each key may hold; these checks say whether the keys agree with each other:
references to undefined networks/volumes/secrets/configs/models/services, ``network_mode`` with
``networks``, neither ``image`` nor ``build``, ``scale`` against ``deploy.replicas``, duplicate mount
targets, dependency cycles... They follow compose-go v2.9.1 (``loader/validate.go`` and ``validation/``),
as docker compose v2.40.3 applies them, but report every problem at once, each naming its key path.
Pure: no I/O.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Mapping
from typing import Any

from stackctl.composefile.validate import format_path
from stackctl.errors import Problem

Path = tuple[str | int, ...]
Found = Iterator[tuple[Path, str]]

HEALTHCHECK_KINDS = ("CMD", "CMD-SHELL", "NONE")
TARGET_OPTIONAL_ACTIONS = ("rebuild", "restart")


def check_consistency(doc: Mapping[str, Any], *, file: str) -> list[Problem]:
    """Every semantic problem of ``doc``, sorted by key path (empty when the project is consistent)."""
    found: list[tuple[Path, str]] = []
    services = _mapping(doc.get("services"))
    for name in sorted(services):
        found.extend(_service_problems(name, _mapping(services[name]), doc))
    found.extend(_container_names(services))
    found.extend(_resource_problems(doc))
    found.extend(_cycle(services))
    unique = dict.fromkeys(found)
    ordered = sorted(unique, key=lambda item: (_sort_key(item[0]), item[1]))
    return [Problem(file, format_path(path), message) for path, message in ordered]


# --------------------------------------------------------------------------------------------------
# Per service


def _service_problems(name: str, svc: Mapping[str, Any], doc: Mapping[str, Any]) -> Found:
    at: Path = ("services", name)
    yield from _image_and_build(name, svc, at, doc)
    yield from _networking(name, svc, at, doc)
    yield from _references(name, svc, at, doc)
    yield from _dependencies(name, svc, at, _mapping(doc.get("services")))
    yield from _scale_and_resources(name, svc, at)
    yield from _mounts(svc, at)
    yield from _healthcheck(svc, at)
    yield from _develop(svc, at)
    yield from _device_requests(svc, at)


def _image_and_build(name: str, svc: Mapping[str, Any], at: Path, doc: Mapping[str, Any]) -> Found:
    build = svc.get("build")
    if build is None and not svc.get("image") and svc.get("provider") is None:
        yield at, f'service "{name}" has neither an image nor a build context specified'
    if not isinstance(build, Mapping):
        return
    if build.get("dockerfile") and build.get("dockerfile_inline"):
        yield at + ("build",), f'service "{name}" declares mutually exclusive dockerfile and dockerfile_inline'
    services = _mapping(doc.get("services"))
    for context, value in _mapping(build.get("additional_contexts")).items():
        if isinstance(value, str) and value.startswith("service:"):
            target = value[len("service:"):]
            where = at + ("build", "additional_contexts", context)
            if target not in services:
                yield where, f'service "{name}" declares unknown service "{target}" as additional context'
            elif _mapping(services[target]).get("build") is None:
                yield where, f'service "{name}" declares non-buildable service "{target}" as additional context'
    platforms, platform = build.get("platforms") or [], svc.get("platform")
    if platforms and platform and platform not in platforms:
        yield at + ("platform",), f'service.build.platforms MUST include service.platform "{platform}"'


def _networking(name: str, svc: Mapping[str, Any], at: Path, doc: Mapping[str, Any]) -> Found:
    mode, networks = svc.get("network_mode"), svc.get("networks")
    if mode and networks:
        yield at, f"service {name} declares mutually exclusive `network_mode` and `networks`"
    if isinstance(mode, str) and mode.startswith("service:"):
        target = mode[len("service:"):]
        if target not in _mapping(doc.get("services")):
            yield at + ("network_mode",), f"service \"{target}\" not found for network_mode 'service:{target}'"
    defined = _mapping(doc.get("networks"))
    for net in _names(networks):
        if net not in defined:
            yield at + ("networks", net), f'service "{name}" refers to undefined network {net}'
    for index, port in enumerate(_list(svc.get("ports"))):
        host_ip = port.get("host_ip") if isinstance(port, Mapping) else None
        if host_ip is not None and not _is_ip(host_ip):
            yield at + ("ports", index), f"invalid ip address: {host_ip}"


def _references(name: str, svc: Mapping[str, Any], at: Path, doc: Mapping[str, Any]) -> Found:
    volumes = _mapping(doc.get("volumes"))
    for index, mount in enumerate(_list(svc.get("volumes"))):
        source = mount.get("source") if isinstance(mount, Mapping) and mount.get("type") == "volume" else None
        if source and source not in volumes:
            yield at + ("volumes", index), f'service "{name}" refers to undefined volume {source}'
    checks = (("secrets", "secret", ("secrets",)), ("configs", "config", ("configs",)),
              ("secrets", "build secret", ("build", "secrets")))
    for section, label, key in checks:
        defined = _mapping(doc.get(section))
        for index, grant in enumerate(_list(_dig(svc, key))):
            source = grant if isinstance(grant, str) else _mapping(grant).get("source")
            if source is not None and source not in defined:
                yield at + key + (index,), f'service "{name}" refers to undefined {label} {source}'
    models = _mapping(doc.get("models"))
    for model in _names(svc.get("models")):
        if model not in models:
            yield at + ("models", model), f'service "{name}" refers to undefined model {model}'


def _dependencies(name: str, svc: Mapping[str, Any], at: Path, services: Mapping[str, Any]) -> Found:
    for dep in _names(svc.get("depends_on")):
        if dep not in services:
            yield at + ("depends_on", dep), f'service "{name}" depends on undefined service "{dep}"'


def _scale_and_resources(name: str, svc: Mapping[str, Any], at: Path) -> Found:
    deploy = svc.get("deploy")
    deploy = deploy if isinstance(deploy, Mapping) else None
    scale, replicas = _int(svc.get("scale")), _int(deploy.get("replicas")) if deploy else None
    if scale is not None and replicas is not None and scale != replicas:
        yield at, "can't set distinct values on 'scale' and 'deploy.replicas'"
    if scale is not None and scale < 0:
        yield at + ("scale",), "must be greater than or equal to 0"
    if replicas is not None and replicas < 0:
        yield at + ("deploy", "replicas"), "must be greater than or equal to 0"
    if svc.get("container_name") and (scale if scale is not None else replicas or 1) > 1:
        attr = "scale" if scale is not None else "deploy.replicas"
        yield at, f"can't set container_name and {attr} as container name must be unique"
    if deploy:
        yield from _resource_pairs(svc, _mapping(deploy.get("resources")), at)


def _resource_pairs(svc: Mapping[str, Any], resources: Mapping[str, Any], at: Path) -> Found:
    """A legacy key and its deploy.resources twin must agree (a missing twin counts as 0, as in compose-go)."""
    pairs = (("cpus", "limits", "cpus", _float), ("mem_limit", "limits", "memory", _bytes),
             ("mem_reservation", "reservations", "memory", _bytes), ("pids_limit", "limits", "pids", _int))
    for legacy, section, key, parse in pairs:
        own = parse(svc.get(legacy)) or 0
        block = resources.get(section)
        if own and isinstance(block, Mapping) and (parse(block.get(key)) or 0) != own:
            yield at, f"can't set distinct values on '{legacy}' and 'deploy.resources.{section}.{key}'"


def _mounts(svc: Mapping[str, Any], at: Path) -> Found:
    seen: dict[str, str] = {}
    for index, entry in enumerate(_list(svc.get("tmpfs"))):
        if isinstance(entry, str):
            yield from _mount(entry.split(":", 1)[0], at + ("tmpfs", index), seen)
    for index, mount in enumerate(_list(svc.get("volumes"))):
        if not isinstance(mount, Mapping):
            continue
        where = at + ("volumes", index)
        if mount.get("type") == "bind" and not mount.get("source"):
            yield where, 'invalid mount config for type "bind": field Source must not be empty'
        if not mount.get("target"):
            yield where, "volume is missing a mount target"
        elif isinstance(mount["target"], str):
            yield from _mount(mount["target"], where, seen)


def _mount(target: str, where: Path, seen: dict[str, str]) -> Found:
    if target in seen:
        yield where, f"target {target} already mounted as {seen[target]}"
    else:
        seen[target] = format_path(where)


def _healthcheck(svc: Mapping[str, Any], at: Path) -> Found:
    test = _mapping(svc.get("healthcheck")).get("test")
    if isinstance(test, list) and test and test[0] not in HEALTHCHECK_KINDS:
        yield at + ("healthcheck", "test"), 'must start either by "CMD", "CMD-SHELL" or "NONE"'


def _develop(svc: Mapping[str, Any], at: Path) -> Found:
    for index, watch in enumerate(_list(_mapping(svc.get("develop")).get("watch"))):
        watch = _mapping(watch)
        where = at + ("develop", "watch", index)
        if watch.get("path") == "":
            yield where + ("path",), "value can't be blank"
        if not watch.get("target") and watch.get("action") not in TARGET_OPTIONAL_ACTIONS:
            yield where, "target is required for non-rebuild actions"


def _device_requests(svc: Mapping[str, Any], at: Path) -> Found:
    key = ("deploy", "resources", "reservations", "devices")
    for path, entries in ((at + key, _dig(svc, key)), (at + ("gpus",), svc.get("gpus"))):
        for index, request in enumerate(_list(entries)):
            if isinstance(request, Mapping) and "count" in request and "device_ids" in request:
                yield path + (index,), '"count" and "device_ids" attributes are exclusive'


# --------------------------------------------------------------------------------------------------
# Across services and top-level resources


def _container_names(services: Mapping[str, Any]) -> Found:
    owners: dict[str, str] = {}
    for name in sorted(services):
        wanted = _mapping(services[name]).get("container_name")
        if not isinstance(wanted, str) or not wanted:
            continue
        if wanted in owners:
            yield ("services", name, "container_name"), \
                f'container name "{wanted}" is already in use by service "{owners[wanted]}"'
        else:
            owners[wanted] = name


def _resource_problems(doc: Mapping[str, Any]) -> Found:
    for name, volume in sorted(_mapping(doc.get("volumes")).items()):
        if isinstance(volume, Mapping) and volume.get("external") is True:
            for key in volume:
                if key not in ("name", "external") and not key.startswith("x-"):
                    yield ("volumes", name, key), f'conflicting parameters "external" and "{key}" specified'
    for section, keys in (("configs", ("file", "environment", "content")), ("secrets", ("file", "environment"))):
        for name, item in sorted(_mapping(doc.get(section)).items()):
            yield from _file_object(section, name, _mapping(item), keys)


def _file_object(section: str, name: str, item: Mapping[str, Any], keys: tuple[str, ...]) -> Found:
    present = [k for k in keys if k in item]
    where: Path = (section, name)
    if len(present) > 1:
        yield where, f"{'|'.join(keys)} attributes are mutually exclusive"
    elif not present and "external" not in item and "driver" not in item:
        yield where, f"one of {'|'.join(keys)} must be set"
    elif section == "secrets" and not present and not item.get("external"):
        yield where, f'secret "{name}" must declare either `file` or `environment`'


def _cycle(services: Mapping[str, Any]) -> Found:
    from stackctl.model.dependencies import find_cycle

    cycle = find_cycle({name: _mapping(svc) for name, svc in services.items()})
    if cycle:  # closed: ["a", "b", "a"]
        yield ("services", cycle[0], "depends_on"), "dependency cycle detected: " + " -> ".join(cycle)


# --------------------------------------------------------------------------------------------------
# Small helpers (tolerant of documents that are not fully normalized)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _names(value: Any) -> list[str]:
    """Keys of a mapping, or the strings of a list (short syntax)."""
    if isinstance(value, Mapping):
        return [str(k) for k in value]
    return [v for v in _list(value) if isinstance(v, str)]


def _dig(value: Any, keys: Path) -> Any:
    for key in keys:
        value = _mapping(value).get(str(key))
    return value


def _int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and re.fullmatch(r"[-+]?\d+", value.strip()):
        return int(value)
    return None


def _float(value: Any) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


_UNITS = {"": 1, "b": 1, "k": 1024, "kb": 1024, "m": 1024**2, "mb": 1024**2, "g": 1024**3, "gb": 1024**3}


def _bytes(value: Any) -> int | None:
    """A byte size: an int, or ``{n}{b|k|kb|m|mb|g|gb}`` as compose writes them."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return int(value)
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", value) if isinstance(value, str) else None
    if not match or match.group(2).lower() not in _UNITS:
        return None
    return int(float(match.group(1)) * _UNITS[match.group(2).lower()])


def _is_ip(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def _sort_key(path: Path) -> tuple[tuple[int, Any], ...]:
    return tuple((1, part) if isinstance(part, int) else (0, part) for part in path)
