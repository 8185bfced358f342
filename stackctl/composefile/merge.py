"""Merging compose documents (``-f a -f b``, ``extends``) with compose-go v2.9.1's ``override`` rules.

``merge(base, override)`` returns a new document: mappings merge key by key, scalars are replaced,
sequences are appended; the per-attribute rules of compose-go apply (environment/labels/... turned into
``KEY=VALUE`` sequences; command/entrypoint/healthcheck.test replaced; logging merged only for the same
driver; build/depends_on/networks/models merged as maps; ipam configs merged by subnet; extra_hosts
appended without repeats). ``yaml12.Reset`` removes an attribute, ``yaml12.Override(v)`` replaces it
without merging. ``enforce_unicity(doc)`` then drops redefined sequence entries, a later entry taking the
place of the earlier one with the same key (ports by ip/published/target/protocol, volumes by target...).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stackctl.composefile import yaml12
from stackctl.composefile._tree import ITEM, Path, Patterns, dotted, pattern, plain_copy
from stackctl.composefile.canonical import go_sprint
from stackctl.composefile.syntax.volumes import VolumeMount, VolumeSyntaxError
from stackctl.errors import SpecError

Merger = Callable[[Any, Any, Path], Any]


def merge(base: dict[str, Any], override: dict[str, Any], *, file: str = "") -> dict[str, Any]:
    """``override`` merged onto ``base`` (both left untouched); Reset/Override markers resolved."""
    base = plain_copy(base)
    marked: list[Path] = []
    override = _strip_markers(plain_copy(override), (), marked)
    for path in marked:
        _delete_path(base, path)
    try:
        result = _merge(base, override, ())
    except _MergeError as exc:
        raise SpecError(exc.message, file=file, path=dotted(exc.path)) from None
    assert isinstance(result, dict)
    return result


def strip_markers(doc: Any) -> Any:
    """``doc`` without Reset/Override markers (what a single file means on its own)."""
    return _strip_markers(plain_copy(doc), (), [])


def go_path(path: tuple[str | int, ...]) -> str:
    """A key path as compose-go writes it in messages: ``services.web.volumes.[0]``."""
    return ".".join(f"[{p}]" if isinstance(p, int) else p for p in path)


class _MergeError(Exception):
    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _is_reset(value: Any) -> bool:
    return value is yaml12.Reset or isinstance(value, getattr(yaml12, "ResetType", ()))


def _strip_markers(value: Any, path: Path, marked: list[Path]) -> Any:
    if isinstance(value, yaml12.Override):
        marked.append(path)
        return _strip_markers(value.value, path, [])
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, item in value.items():
            if _is_reset(item):
                marked.append((*path, key))
                continue
            out[key] = _strip_markers(item, (*path, key), marked)
        return out
    if isinstance(value, list):
        # compose-go records sequence indices in a form that never matches the base: items only vanish here
        return [_strip_markers(v, (*path, ITEM), []) for v in value if not _is_reset(v)]
    return value


def _delete_path(doc: Any, path: Path) -> None:
    for key in path[:-1]:
        if not isinstance(doc, dict) or key not in doc:
            return
        doc = doc[key]
    if isinstance(doc, dict):
        doc.pop(path[-1], None)


def _merge(base: Any, other: Any, path: Path) -> Any:
    special = _SPECIAL_PATTERNS.match(path)
    if special is not None:
        return _SPECIALS[special](base, other, path)
    if other is None:
        return base
    if isinstance(base, dict):
        if not isinstance(other, dict):
            raise _MergeError(path, f"cannot override {dotted(path)}")
        return _merge_mappings(base, other, path)
    if isinstance(base, list):
        if not isinstance(other, list):
            raise _MergeError(path, f"cannot override {dotted(path)}")
        return base + other
    return other


def _merge_mappings(mapping: dict[str, Any], other: dict[str, Any], path: Path) -> dict[str, Any]:
    for key, value in other.items():
        mapping[key] = _merge(mapping[key], value, (*path, key)) if key in mapping else value
    return mapping


def _as_mapping(value: Any, default: dict[str, Any] | None) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if isinstance(value, list):
        return {str(k): (dict(default) if default is not None else None) for k in value}
    return {}


def _as_sequence(value: Any) -> list[Any]:
    if isinstance(value, dict):
        seq: list[str] = []
        for key, item in value.items():
            if item is None:
                seq.append(key)
            elif isinstance(item, list):
                seq.extend(f"{key}={go_sprint(v)}" for v in item)
            else:
                seq.append(f"{key}={go_sprint(item)}")
        return sorted(seq)
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [value]
    return []


def _to_sequence(base: Any, other: Any, path: Path) -> Any:
    return _as_sequence(base) + _as_sequence(other)


def _extra_hosts(base: Any, other: Any, path: Path) -> Any:
    right = _as_sequence(base)
    return right + [v for v in _as_sequence(other) if v not in right]


def _replace(base: Any, other: Any, path: Path) -> Any:
    return other


def _logging(base: Any, other: Any, path: Path) -> Any:
    if not isinstance(base, dict) or not isinstance(other, dict):
        return other if other is not None else base
    if "driver" not in other or "driver" not in base or other["driver"] == base["driver"]:
        return _merge_mappings(base, other, path)
    return other


def _build(base: Any, other: Any, path: Path) -> Any:
    def as_build(value: Any) -> dict[str, Any]:
        if isinstance(value, str):
            return {"context": value}
        return value if isinstance(value, dict) else {}
    return _merge_mappings(as_build(base), as_build(other), path)


_DEPENDENCY = {"condition": "service_started", "required": True}


def _depends_on(base: Any, other: Any, path: Path) -> Any:
    return _merge_mappings(_as_mapping(base, _DEPENDENCY), _as_mapping(other, _DEPENDENCY), path)


def _as_maps(base: Any, other: Any, path: Path) -> Any:
    return _merge_mappings(_as_mapping(base, None), _as_mapping(other, None), path)


def _ipam_config(base: Any, other: Any, path: Path) -> Any:
    if not isinstance(base, list) or not isinstance(other, list):
        raise _MergeError(path, f"{dotted(path)}: unexpected type")
    configs: list[dict[str, Any]] = []

    def index(subnet: Any) -> int:
        return next((i for i, c in enumerate(configs) if c.get("subnet") == subnet), -1)

    for original in base:
        right = _as_mapping(original, None)
        for item in other:
            left = _as_mapping(item, None)
            if left.get("subnet") != right.get("subnet") and index(left.get("subnet")) < 0:
                configs.append(left)
                continue
            merged = _merge_mappings(right, left, path)
            at = index(merged.get("subnet"))
            if at >= 0:
                configs[at] = merged
            else:
                configs.append(merged)
    return configs


_SPECIALS: dict[Path, Merger] = {
    pattern(p): fn for p, fn in [
        ("networks.*.ipam.config", _ipam_config),
        ("networks.*.labels", _to_sequence),
        ("volumes.*.labels", _to_sequence),
        ("services.*.annotations", _to_sequence),
        ("services.*.build", _build),
        ("services.*.build.args", _to_sequence),
        ("services.*.build.additional_contexts", _to_sequence),
        ("services.*.build.extra_hosts", _extra_hosts),
        ("services.*.build.labels", _to_sequence),
        ("services.*.command", _replace),
        ("services.*.depends_on", _depends_on),
        ("services.*.deploy.labels", _to_sequence),
        ("services.*.dns", _to_sequence),
        ("services.*.dns_opt", _to_sequence),
        ("services.*.dns_search", _to_sequence),
        ("services.*.entrypoint", _replace),
        ("services.*.env_file", _to_sequence),
        ("services.*.label_file", _to_sequence),
        ("services.*.environment", _to_sequence),
        ("services.*.extra_hosts", _extra_hosts),
        ("services.*.healthcheck.test", _replace),
        ("services.*.labels", _to_sequence),
        ("services.*.volumes.*.volume.labels", _to_sequence),
        ("services.*.logging", _logging),
        ("services.*.models", _as_maps),
        ("services.*.networks", _as_maps),
        ("services.*.sysctls", _to_sequence),
        ("services.*.tmpfs", _to_sequence),
        ("services.*.ulimits.*", _replace),
    ]
}
_SPECIAL_PATTERNS = Patterns(_SPECIALS)


# --- unicity -------------------------------------------------------------------------------------------

IPath = tuple[str | int, ...]
Indexer = Callable[[Any, IPath], str]


def enforce_unicity(doc: dict[str, Any], *, file: str = "") -> dict[str, Any]:
    """``doc`` with redefined sequence entries removed (the later definition kept at the first place)."""
    try:
        result = _unique(plain_copy(doc), ())
    except _MergeError as exc:
        raise SpecError(exc.message, file=file, path=dotted(exc.path)) from None
    assert isinstance(result, dict)
    return result


def _unique(value: Any, path: Path) -> Any:
    if isinstance(value, dict):
        if not _UNIQUE_PATTERNS.below(path):
            return value
        return {k: _unique(v, (*path, k)) for k, v in value.items()}
    if isinstance(value, list):
        pat = _UNIQUE_PATTERNS.match(path)
        if pat is not None:
            return _dedupe(value, path, _UNIQUE_BY_PATTERN[pat])
    return value


def _dedupe(items: list[Any], path: Path, indexer: Indexer) -> list[Any]:
    seq: list[Any] = []
    seen: dict[str, int] = {}
    for i, entry in enumerate(items):
        key = indexer(entry, (*path, i))
        if key in seen:
            seq[seen[key]] = entry
        else:
            seen[key] = len(seq)
            seq.append(entry)
    return seq


def _key_value_index(value: Any, path: IPath) -> str:
    if not isinstance(value, str):
        raise _MergeError(path, f"unexpected type {type(value).__name__}")
    return value.partition("=")[0]


def _volume_index(value: Any, path: IPath) -> str:
    if isinstance(value, dict):
        target = value.get("target")
        if not isinstance(target, str):
            raise _MergeError(path, f"service volume {go_path(path)} is missing a mount target")
        return target
    if isinstance(value, str):
        try:
            return VolumeMount.parse(value).target
        except VolumeSyntaxError as exc:
            raise _MergeError(path, str(exc)) from exc
    return ""


def _device_index(value: Any, path: IPath) -> str:
    if isinstance(value, dict):
        target = value.get("target")
        if not isinstance(target, str):
            raise _MergeError(path, f"service device {go_path(path)} is missing a mount target")
        return target
    if isinstance(value, str):
        parts = value.split(":")
        return parts[0] if len(parts) == 1 else parts[1]
    return ""


def _expose_index(value: Any, path: IPath) -> str:
    if isinstance(value, (str, int)) and not isinstance(value, bool):
        return str(value)
    raise _MergeError(path, f"unsupported expose value {value!r}")


def _mount_index(default: str) -> Indexer:
    def index(value: Any, path: IPath) -> str:
        if isinstance(value, str):
            return f"{default}/{value}"
        if isinstance(value, dict):
            if "target" in value:
                return str(value["target"])
            return f"{default}/{value.get('source')}"
        raise _MergeError(path, f"unsupported expose value {value!r}")
    return index


def _port_index(value: Any, path: IPath) -> str:
    if isinstance(value, dict):
        if "target" not in value:
            raise _MergeError(path, f"service ports {go_path(path)} is missing a target port")
        published = value.get("published", "%!s(<nil>)")
        return f"{value.get('host_ip', '0.0.0.0')}:{published}:{value['target']}/{value.get('protocol', 'tcp')}"
    return str(value) if isinstance(value, (int, str)) else ""


def _env_file_index(value: Any, path: IPath) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "path" not in value:
            raise _MergeError(path, f"environment path attribute {go_path(path)} is missing")
        return str(value["path"])
    return ""


_UNIQUE: list[tuple[Path, Indexer]] = [
    (pattern(p), fn) for p, fn in [
        ("networks.*.labels", _key_value_index),
        ("networks.*.ipam.options", _key_value_index),
        ("services.*.annotations", _key_value_index),
        ("services.*.build.args", _key_value_index),
        ("services.*.build.additional_contexts", _key_value_index),
        ("services.*.build.platform", _key_value_index),
        ("services.*.build.tags", _key_value_index),
        ("services.*.build.labels", _key_value_index),
        ("services.*.cap_add", _key_value_index),
        ("services.*.cap_drop", _key_value_index),
        ("services.*.configs", _mount_index("")),
        ("services.*.deploy.labels", _key_value_index),
        ("services.*.dns", _key_value_index),
        ("services.*.dns_opt", _key_value_index),
        ("services.*.dns_search", _key_value_index),
        ("services.*.environment", _key_value_index),
        ("services.*.env_file", _env_file_index),
        ("services.*.expose", _expose_index),
        ("services.*.labels", _key_value_index),
        ("services.*.links", _key_value_index),
        ("services.*.networks.*.aliases", _key_value_index),
        ("services.*.networks.*.link_local_ips", _key_value_index),
        ("services.*.ports", _port_index),
        ("services.*.profiles", _key_value_index),
        ("services.*.secrets", _mount_index("/run/secrets")),
        ("services.*.sysctls", _key_value_index),
        ("services.*.tmpfs", _key_value_index),
        ("services.*.volumes", _volume_index),
        ("services.*.devices", _device_index),
    ]
]
_UNIQUE_BY_PATTERN = dict(_UNIQUE)  # the later "services.*.devices" row wins, as in compose-go's map
_UNIQUE_PATTERNS = Patterns(_UNIQUE_BY_PATTERN)
