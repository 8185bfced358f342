"""Short syntax -> long syntax, per file, as compose-go v2.9.1's ``transform.Canonical`` does it.

``canonicalize(doc, file=...)`` returns a new document in which every short form that compose-go rewrites
before merging is in its long form: ports (ranges expanded), volumes, depends_on, build, env_file,
extends, secrets/configs mounts, devices, gpus, service networks/models lists, dns, build.ssh,
build.additional_contexts, develop.watch ignore/include and top-level ``external: {name: x}``.
What compose-go leaves to type binding (environment/labels lists, command strings, durations...) is
done by :mod:`stackctl.composefile.normalize`. ``lenient=True`` (compose-go's ``ignoreParseError``, used when
interpolation is off) keeps unparsable port/volume strings as they are.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from stackctl.composefile._tree import ITEM, Path, Patterns, dotted, pattern, plain_copy
from stackctl.composefile.syntax.ports import PortMapping, PortSyntaxError
from stackctl.composefile.syntax.volumes import VolumeMount, VolumeSyntaxError
from stackctl.errors import SpecError

Transformer = Callable[[Any, Path, "_Ctx"], Any]


class _Ctx:
    def __init__(self, file: str, lenient: bool) -> None:
        self.file = file
        self.lenient = lenient

    def error(self, path: Path, message: str) -> SpecError:
        return SpecError(message, file=self.file, path=dotted(path))


def canonicalize(doc: dict[str, Any], *, file: str, lenient: bool = False) -> dict[str, Any]:
    """The long form of every short syntax in ``doc`` (a new dict; ``doc`` is left alone)."""
    result = _transform(plain_copy(doc), (), _Ctx(file, lenient))
    assert isinstance(result, dict)
    return _omit_empty_dns(result)


def _omit_empty_dns(doc: dict[str, Any]) -> dict[str, Any]:
    """compose-go's OmitEmpty: empty entries of ``services.*.dns`` dropped (an empty list becomes null)."""
    services = doc.get("services")
    for service in services.values() if isinstance(services, dict) else []:
        if isinstance(service, dict) and isinstance(service.get("dns"), list):
            kept = [d for d in service["dns"] if d not in (None, "")]
            service["dns"] = kept or None
    return doc


def _transform(data: Any, path: Path, ctx: _Ctx) -> Any:
    pat = _PATTERNS.match(path)
    if pat is not None:
        return _BY_PATTERN[pat](data, path, ctx)
    return _recurse(data, path, ctx)


def _recurse(data: Any, path: Path, ctx: _Ctx) -> Any:
    if not _PATTERNS.below(path):
        return data
    if isinstance(data, dict):
        return {k: _transform(v, (*path, k), ctx) for k, v in data.items()}
    if isinstance(data, list):
        return [_transform(v, (*path, ITEM), ctx) for v in data]
    return data


def _string_or_list(data: Any, path: Path, ctx: _Ctx) -> Any:
    return [data] if isinstance(data, str) else data


def _string_or_x(data: Any, path: Path, ctx: _Ctx) -> Any:
    return data if isinstance(data, str) else go_sprint(data)


def go_sprint(value: Any) -> str:
    """``fmt.Sprint`` for YAML scalars: booleans lower-case, None as ``<nil>``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "<nil>"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, dict):
        return "map[" + " ".join(f"{k}:{go_sprint(v)}" for k, v in sorted(value.items(), key=str)) + "]"
    if isinstance(value, list):
        return "[" + " ".join(go_sprint(v) for v in value) + "]"
    return str(value)


def _go_float(value: float) -> str:
    """``fmt.Sprint(float64)``: shortest digits, exponent form below 1e-4 and from 1e6 (``1e+06``)."""
    if math.isnan(value):
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    assert isinstance(exponent, int)
    text = "".join(map(str, digits))
    point = len(text) + exponent
    minus = "-" if sign else ""
    if value == 0:
        return minus + "0"
    exp = point - 1
    if exp < -4 or exp >= 6:
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{'-' if exp < 0 else '+'}{abs(exp):02d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{text}"
    if point >= len(text):
        return minus + text + "0" * (point - len(text))
    return f"{minus}{text[:point]}.{text[point:]}"


def _key_value(data: Any, path: Path, ctx: _Ctx) -> Any:
    if isinstance(data, dict):
        return data
    if isinstance(data, list):
        mapping: dict[str, Any] = {}
        for entry in data:
            key, sep, value = str(entry).partition("=")
            if not sep:
                if ctx.lenient:
                    return data
                raise ctx.error(path, f"invalid value {entry}, expected key=value")
            mapping[key] = value
        return mapping
    raise ctx.error(path, f"invalid type {type(data).__name__}")


def _depends_on(data: Any, path: Path, ctx: _Ctx) -> Any:
    if isinstance(data, list):
        return {str(k): {"condition": "service_started", "required": True} for k in data}
    if isinstance(data, dict):
        out: dict[str, Any] = {}
        for name, dep in data.items():
            if not isinstance(dep, dict):
                raise ctx.error((*path, name), f"unsupported value {dep!r}")
            out[name] = {"condition": "service_started", "required": True, **dep}
        return out
    raise ctx.error(path, f"invalid type {type(data).__name__} for depend_on")


def _env_file(data: Any, path: Path, ctx: _Ctx) -> Any:
    def one(entry: Any) -> Any:
        if isinstance(entry, str):
            return {"path": entry, "required": True}
        if isinstance(entry, dict):
            return {**entry, "required": entry.get("required", True)}
        return None

    if isinstance(data, str):
        return [one(data)]
    if isinstance(data, list):
        return [one(e) for e in data]
    raise ctx.error(path, f"invalid type {type(data).__name__} for env_file")


def _string_to_map(key: str, what: str) -> Transformer:
    def fn(data: Any, path: Path, ctx: _Ctx) -> Any:
        if isinstance(data, dict):
            return _recurse(data, path, ctx)
        if isinstance(data, str):
            return {key: data}
        raise ctx.error(path, f"invalid type {type(data).__name__} for {what}")
    return fn


def _gpus(data: Any, path: Path, ctx: _Ctx) -> Any:
    if isinstance(data, list):
        return _recurse(data, path, ctx)
    if isinstance(data, str):
        return [{"count": "all"}]
    raise ctx.error(path, f"invalid type {type(data).__name__} for gpus")


def _slice_to_map(data: Any, path: Path, ctx: _Ctx) -> Any:
    return {str(k): None for k in data} if isinstance(data, list) else data


def _volume_mount(data: Any, path: Path, ctx: _Ctx) -> Any:
    if isinstance(data, dict):
        return data
    if isinstance(data, str):
        try:
            return VolumeMount.parse(data).to_dict()
        except VolumeSyntaxError as exc:
            if ctx.lenient:
                return data
            raise ctx.error(path, str(exc)) from exc
    raise ctx.error(path, f"invalid type {type(data).__name__} for service volume mount")


def _device(data: Any, path: Path, ctx: _Ctx) -> Any:
    if isinstance(data, dict):
        return data
    if not isinstance(data, str):
        raise ctx.error(path, f"invalid type {type(data).__name__} for service volume mount")
    parts = data.split(":")
    if len(parts) > 3 and not ctx.lenient:
        raise ctx.error(path, f"confusing device mapping, please use long syntax: {data}")
    src = parts[0] if len(parts) <= 3 else ""
    dst = parts[1] if 2 <= len(parts) <= 3 else ""
    perms = parts[2] if len(parts) == 3 else "rwm"
    return {"source": src, "target": dst or src, "permissions": perms}


def _file_mount(data: Any, path: Path, ctx: _Ctx) -> Any:
    if isinstance(data, dict):
        return data
    if isinstance(data, str):
        return {"source": data}
    raise ctx.error(path, f"unsupported type {type(data).__name__}")


def _ports(data: Any, path: Path, ctx: _Ctx) -> Any:
    if not isinstance(data, list):
        raise ctx.error(path, f"invalid type {type(data).__name__} for port")
    ports: list[Any] = []
    for entry in data:
        if isinstance(entry, dict):
            ports.append(entry)
        elif isinstance(entry, (int, str)) and not isinstance(entry, bool):
            try:
                ports.extend(m.to_dict() for m in PortMapping.parse(str(entry)))
            except PortSyntaxError as exc:
                if ctx.lenient and isinstance(entry, str):
                    return data
                raise ctx.error(path, str(exc)) from exc
        else:
            raise ctx.error(path, f"invalid type {type(entry).__name__} for port")
    return ports


def _ssh(data: Any, path: Path, ctx: _Ctx) -> Any:
    if isinstance(data, dict):
        return data
    if not isinstance(data, list):
        raise ctx.error(path, f"invalid type {type(data).__name__} for ssh")
    result: dict[str, Any] = {}
    for entry in data:
        if not isinstance(entry, str):
            raise ctx.error(path, f"invalid ssh key type {type(entry).__name__}")
        key, sep, value = entry.partition("=")
        if not sep and key != "default":
            raise ctx.error(path, f'invalid ssh key "{entry}"')
        result[key] = value if sep else None
    return result


def _ulimit(data: Any, path: Path, ctx: _Ctx) -> Any:
    if isinstance(data, (dict, int)) and not isinstance(data, bool):
        return data
    raise ctx.error(path, f"invalid type {type(data).__name__} for external")


def _maybe_external(data: Any, path: Path, ctx: _Ctx) -> Any:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise ctx.error(path, "must be a mapping")
    resource = _recurse(data, path, ctx)
    ext = resource.get("external")
    if isinstance(ext, dict):
        resource["external"] = True
        if "name" in ext:
            if "name" in resource and resource["name"] != ext["name"]:
                raise ctx.error(path, "name and external.name conflict; only use name")
            resource.setdefault("name", ext["name"])
    return resource


def _include(data: Any, path: Path, ctx: _Ctx) -> Any:
    if isinstance(data, dict):
        return data
    if isinstance(data, str):
        return {"path": data}
    raise ctx.error(path, f"invalid type {type(data).__name__} for external")


def _mapping(data: Any, path: Path, ctx: _Ctx) -> Any:
    return _recurse(data, path, ctx) if isinstance(data, dict) else data


_TRANSFORMERS: list[tuple[Path, Transformer]] = [
    (pattern(p), fn) for p, fn in [
        ("services.*", _mapping),
        ("services.*.build.secrets.*", _file_mount),
        ("services.*.build.provenance", _string_or_x),
        ("services.*.build.sbom", _string_or_x),
        ("services.*.build.additional_contexts", _key_value),
        ("services.*.depends_on", _depends_on),
        ("services.*.env_file", _env_file),
        ("services.*.label_file", _string_or_list),
        ("services.*.extends", _string_to_map("service", "extends")),
        ("services.*.gpus", _gpus),
        ("services.*.networks", _slice_to_map),
        ("services.*.models", _slice_to_map),
        ("services.*.volumes.*", _volume_mount),
        ("services.*.dns", _string_or_list),
        ("services.*.devices.*", _device),
        ("services.*.secrets.*", _file_mount),
        ("services.*.configs.*", _file_mount),
        ("services.*.ports", _ports),
        ("services.*.build", _string_to_map("context", "build")),
        ("services.*.build.ssh", _ssh),
        ("services.*.ulimits.*", _ulimit),
        ("services.*.build.ulimits.*", _ulimit),
        ("services.*.develop.watch.*.ignore", _string_or_list),
        ("services.*.develop.watch.*.include", _string_or_list),
        ("volumes.*", _maybe_external),
        ("networks.*", _maybe_external),
        ("secrets.*", _maybe_external),
        ("configs.*", _maybe_external),
        ("include.*", _include),
    ]
]
_BY_PATTERN = dict(_TRANSFORMERS)
_PATTERNS = Patterns(_BY_PATTERN)
