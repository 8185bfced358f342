"""The compose-go v2.9.1 types (table in :mod:`stackctl.composefile._gostructs`): how a normalized dict binds to them.

``bind(doc)`` turns the normalized compose dict into the shape ``docker compose config`` prints:
fields in the Go struct order, ``omitempty`` fields dropped when zero, values converted as the Go types
decode them (``command`` strings split with shell rules, ``healthcheck.test`` strings -> ``CMD-SHELL``,
environment/labels lists -> maps, byte sizes -> ``"1048576"``, durations -> ``"1m30s"``, file modes ->
``"0440"``, ``expose`` -> strings, ``extra_hosts`` -> sorted ``host=ip`` list, ulimits ...).
``x-*`` keys of structs are kept after the fields (JSON output drops them, YAML keeps them).
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable
from typing import Any

from stackctl.composefile._gostructs import NO_EXTENSIONS, STRUCTS
from stackctl.composefile._tree import Patterns
from stackctl.composefile.canonical import go_sprint
from stackctl.composefile.syntax.shellwords import ShellwordsError
from stackctl.composefile.syntax.shellwords import split as shell_split
from stackctl.composefile.syntax.units import UnitError, format_duration, parse_bytes, parse_duration
from stackctl.errors import SpecError


class BindError(Exception):
    """A value that does not fit its Go type; carries the key path."""

    def __init__(self, path: tuple[str, ...], message: str) -> None:
        super().__init__(message)
        self.path = path
        self.message = message


def _fields(name: str) -> list[tuple[str, str, bool]]:
    out = []
    for spec in STRUCTS[name].split():
        key, _, kind = spec.partition(":")
        out.append((key, kind.rstrip("!"), not kind.endswith("!")))
    return out


FIELDS = {name: _fields(name) for name in STRUCTS}
_FIELDS = FIELDS
_KEYS = {name: {k.lower(): k for k, _, _ in fields} for name, fields in _FIELDS.items()}


def bind(doc: dict[str, Any], *, file: str = "") -> dict[str, Any]:
    """The normalized document bound to compose-go's types (see the module docstring)."""
    try:
        result = _bind_struct(_pull_extensions(doc, ()), "Project", ())
    except BindError as exc:
        from stackctl.composefile._tree import dotted
        raise SpecError(exc.message, file=file, path=dotted(exc.path)) from None
    return result


EXTENSIONS = "#extensions"
_ENV_SOURCED = ("SecretConfig", "ConfigObjConfig")
# A secret's or config's value read from the environment, kept aside so that the declared sources (file,
# environment, content: mutually exclusive) stay as written: a secret's is bound as its content (never
# printed); a config's is dropped, as docker compose prints the config with `environment` only.
ENV_VALUE = "x-#value"
_USER_KEYS = [("services",), ("services", "*", "depends_on"), ("volumes",), ("networks",), ("secrets",),
              ("configs",)]
_USER_PATTERNS = Patterns(_USER_KEYS)


def _pull_extensions(value: dict[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
    """compose-go's processExtensions: x-* keys of every mapping (but the user-named ones) moved under
    ``#extensions``, so that a struct keeps them and a plain map shows a ``#extensions`` entry."""
    user = _USER_PATTERNS.match(path) is not None
    out: dict[str, Any] = {}
    extras: dict[str, Any] = {}
    for key, item in value.items():
        if not user and isinstance(key, str) and key.startswith("x-"):
            extras[key] = item
        elif isinstance(item, dict):
            out[key] = _pull_extensions(item, (*path, key))
        elif isinstance(item, list):
            out[key] = [_pull_extensions(v, (*path, str(i))) if isinstance(v, dict) else v
                        for i, v in enumerate(item)]
        else:
            out[key] = item
    if extras:
        out[EXTENSIONS] = extras
    return out


def bind_value(value: Any, kind: str, path: tuple[str, ...] = ()) -> Any:
    """One value bound to one Go type (``kind`` as written in :data:`STRUCTS`)."""
    return _bind(value, kind, path)


def _bind_struct(value: Any, name: str, path: tuple[str, ...]) -> dict[str, Any]:
    if value is None:
        value = {}
    if not isinstance(value, dict):
        raise BindError(path, f"expected a mapping, got {go_sprint(value)}")
    keys = _KEYS[name]
    extensions = value.get(EXTENSIONS)
    if name in _ENV_SOURCED and isinstance(extensions, dict) and ENV_VALUE in extensions:
        extensions = {k: v for k, v in extensions.items() if k != ENV_VALUE}
        if name == "SecretConfig" and isinstance(value[EXTENSIONS][ENV_VALUE], str):
            value = {**value, "content": value[EXTENSIONS][ENV_VALUE]}
    given = {keys.get(str(k).lower(), k): v for k, v in value.items() if k != EXTENSIONS}
    out: dict[str, Any] = {}
    fields = _FIELDS[name]
    for index in _present_fields(name, given):
        key, kind, omitempty = fields[index]
        if key not in given:
            if not omitempty:
                out[key] = _zero(kind)
            else:  # a struct (not a pointer to one): always there
                out[key] = _bind_struct({}, kind, (*path, key))
            continue
        bound = _bind(given[key], kind, (*path, key))
        if omitempty and _is_empty(bound, kind):
            continue
        out[key] = bound
    if name not in NO_EXTENSIONS and isinstance(extensions, dict):
        out.update({k: sorted_keys(v) for k, v in sorted(extensions.items())})
    return out


def _always_present(fields: list[tuple[str, str, bool]]) -> list[int]:
    """Indices of the fields a struct has even when not given: not omitempty, or a (non-pointer) struct."""
    return [i for i, (_, kind, omitempty) in enumerate(fields)
            if not omitempty or (not kind.startswith(("*", "map<", "list<")) and kind in STRUCTS)]


_FIELD_INDEX = {name: {key: i for i, (key, _, _) in enumerate(fields)} for name, fields in _FIELDS.items()}
_ALWAYS = {name: _always_present(fields) for name, fields in _FIELDS.items()}


def _present_fields(name: str, given: dict[str, Any]) -> list[int]:
    """Indices, in field order, of the fields given or always present (the others print nothing)."""
    index = _FIELD_INDEX[name]
    return sorted({*(index[key] for key in given if key in index), *_ALWAYS[name]})


def sorted_keys(value: Any) -> Any:
    """``value`` with every mapping's keys sorted (how Go prints a ``map[string]any``)."""
    if isinstance(value, dict):
        return {k: sorted_keys(value[k]) for k in sorted(value, key=str)}
    if isinstance(value, list):
        return [sorted_keys(v) for v in value]
    return value


def in_field_order(value: dict[str, Any], name: str) -> dict[str, Any]:
    """A bound struct's keys put back in field order (after a key was added), x-* keys last."""
    order = {key: i for i, (key, _, _) in enumerate(_FIELDS[name])}
    return dict(sorted(value.items(), key=lambda kv: order.get(kv[0], len(order))))


def _zero(kind: str) -> Any:
    if kind.startswith("map<"):
        return {}  # compose-go always makes the project's services map
    return {"str": "", "int": 0, "uint32": 0, "bool": False, "float32": 0.0}.get(kind)


def _is_empty(value: Any, kind: str) -> bool:
    if kind.startswith("*"):
        return value is None
    if kind in STRUCTS:
        return False
    if (kind, value) in (("UnitBytes", "0"), ("Duration", "0s")):
        return True
    return value is None or value is False or value == 0 and not isinstance(value, str) or value in ("", [], {})


def _bind(value: Any, kind: str, path: tuple[str, ...]) -> Any:
    if kind.startswith("*"):
        return None if value is None else _bind(value, kind[1:], path)
    if value is None and kind not in STRUCTS:
        return None
    if kind.startswith("list<"):
        return _bind_list(value, kind[5:-1], path)
    if kind.startswith("map<"):
        return _bind_map(value, kind[4:-1], path)
    if kind in STRUCTS:
        return _bind_struct(value, kind, path)
    try:
        return _SCALARS[kind](value)
    except (ValueError, TypeError, UnitError, ShellwordsError) as exc:
        raise BindError(path, str(exc)) from exc


def _bind_list(value: Any, kind: str, path: tuple[str, ...]) -> list[Any] | None:
    if value is None:
        return None
    if not isinstance(value, list):
        value = [value]
    return [_bind(v, kind, (*path, str(i))) for i, v in enumerate(value)]


def _bind_map(value: Any, kind: str, path: tuple[str, ...]) -> dict[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise BindError(path, f"expected a mapping, got {go_sprint(value)}")
    return {k: _bind(value[k], kind, (*path, k)) for k in sorted(value)}


# --- scalar and special types ----------------------------------------------------------------------------

def _str(value: Any) -> str:
    return value if isinstance(value, str) else go_sprint(value)


_INT64_MIN = -(1 << 63)
_UINT64 = 1 << 64


def _int(value: Any) -> int:
    """A Go ``int`` (64 bits) as mapstructure sets it: floats truncated, and what does not fit (``.inf``,
    ``.nan``, ``1e300``) becomes what Go's conversion gives on amd64, the smallest int64."""
    if isinstance(value, bool):
        raise TypeError(f"cannot convert {go_sprint(value)} to an integer")
    if isinstance(value, float):
        return int(value) if math.isfinite(value) and -_INT64_MIN > value >= _INT64_MIN else _INT64_MIN
    number = int(value, 0) if isinstance(value, str) else int(value)
    return (number - _INT64_MIN) % _UINT64 + _INT64_MIN  # a uint64 from YAML wraps, as int64(u) does


def _uint32(value: Any) -> int:
    """A Go ``uint32`` (a port's ``target``) as mapstructure sets it: negative numbers are refused,
    larger ones keep their low 32 bits."""
    if isinstance(value, bool):
        raise TypeError(f"cannot convert {go_sprint(value)} to an integer")
    if isinstance(value, float):
        if value < 0:
            raise ValueError(f"cannot parse value as 'uint32': {go_sprint(value)} overflows uint")
        return int(value) % (1 << 32) if math.isfinite(value) and value < _UINT64 else 0
    number = int(value, 0) if isinstance(value, str) else int(value)
    if number < 0:
        raise ValueError(f"cannot parse value as 'uint32': {number} overflows uint")
    return number % (1 << 32)


def _bool(value: Any) -> bool:
    if isinstance(value, str):
        if value.lower() in ("1", "t", "true"):
            return True
        if value.lower() in ("0", "f", "false"):
            return False
        raise ValueError(f"invalid boolean: {value}")
    return bool(value)


def float32(value: Any) -> float:
    """The value as Go prints a float32 (shortest decimal that survives a round trip through 32 bits)."""
    f = float(value)
    if not math.isfinite(f) or abs(f) > 3.4028234663852886e38:  # NaN, or beyond float32: +Inf/-Inf
        return f if math.isnan(f) else math.copysign(math.inf, f)
    packed: float = struct.unpack("f", struct.pack("f", f))[0]
    for digits in range(1, 10):
        text = f"{packed:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == packed:
            number = float(text)
            return int(number) if number == int(number) and abs(number) < 1e21 else number
    return packed


def _command(value: Any) -> list[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return shell_split(value)
    return [_str(v) for v in value]


def _health_test(value: Any) -> list[str]:
    return ["CMD-SHELL", value] if isinstance(value, str) else [_str(v) for v in value]


def _mapping_with_equals(value: Any) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    if isinstance(value, dict):
        for k, v in value.items():
            out[str(k)] = None if v is None else _str(v)
    else:
        for entry in value:
            key, sep, val = go_sprint(entry).partition("=")
            if key and key[-1].isspace():
                raise ValueError(f"environment variable {key} is declared with a trailing space")
            out[key] = val if sep else None
    return dict(sorted(out.items()))


def _mapping(value: Any) -> dict[str, str]:
    if isinstance(value, dict):
        return {str(k): "" if v is None else _str(v) for k, v in sorted(value.items())}
    out = {}
    for entry in value:
        key, _, val = go_sprint(entry).partition("=")
        out[key] = val
    return dict(sorted(out.items()))


def _multi_options(value: Any) -> dict[str, list[str]]:
    return {k: [_str(x) for x in (v if isinstance(v, list) else [v])] for k, v in sorted(value.items())}


def _string_list(value: Any) -> list[str]:
    return [value] if isinstance(value, str) else [_str(v) for v in value]


def _hosts(value: Any) -> list[str]:
    hosts: dict[str, list[str]] = {}
    if isinstance(value, dict):
        for host, ips in value.items():
            hosts[host] = [_str(i) for i in ips] if isinstance(ips, list) else [_str(ips if ips is not None else "")]
    else:
        for entry in value:
            text = go_sprint(entry)
            sep = "=" if "=" in text else ":" if ":" in text else None
            if sep is None:
                raise ValueError(f"invalid additional host, missing IP: {text}")
            host, _, ips = text.partition(sep)
            hosts.setdefault(host, []).extend(ips.split(","))
    out: list[str] = []
    for host, ips in hosts.items():
        if not host or ":" in host or "=" in host:
            raise ValueError(f"bad host name '{host}'")
        out.extend(f"{host}={ip[1:-1] if len(ip) > 2 and ip[0] == '[' and ip[-1] == ']' else ip}" for ip in ips)
    return sorted(out)


def _ulimit(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _int(value[k]) for k in ("soft", "hard") if value.get(k)}
    return _int(value)


def _ssh(value: Any) -> list[str]:
    if isinstance(value, list):
        return [_str(v) for v in value]
    if not isinstance(value, dict):
        raise TypeError(f"invalid ssh config type {type(value).__name__}")
    return [k if v is None else f"{k}: {_str(v)}" for k, v in sorted(value.items())]


def _env_file(value: Any) -> dict[str, Any]:
    """Kept whole in the model (the folding needs ``format``); the views print it as compose-go does."""
    if isinstance(value, str):
        return {"path": value, "required": True}
    out: dict[str, Any] = {"path": _str(value.get("path", "")), "required": _bool(value.get("required", True))}
    if value.get("format"):
        out["format"] = _str(value["format"])
    return out


def _device_count(value: Any) -> int:
    if isinstance(value, str) and value.lower() == "all":
        return -1
    if isinstance(value, str):
        try:
            return int(value, 10)
        except ValueError:
            raise ValueError(f'invalid value "{value}", the only value allowed is \'all\' or a number') from None
    return _int(value)


def _file_mode(value: Any) -> str:
    mode = int(value, 8) if isinstance(value, str) else _int(value)
    return f"0{mode:o}"


def _unit_bytes(value: Any) -> str:
    if isinstance(value, str) and value.startswith("-") and value[1:].isdigit():
        return value  # what a bound -1 prints as: binding stays idempotent
    return str(parse_bytes(value) if isinstance(value, str) else _int(value))


def _duration(value: Any) -> str:
    return format_duration(parse_duration(go_sprint(value)))


_SCALARS: dict[str, Callable[[Any], Any]] = {
    "str": _str, "int": _int, "uint32": _uint32, "bool": _bool, "float32": float32,
    "ShellCommand": _command, "HealthCheckTest": _health_test, "MappingWithEquals": _mapping_with_equals,
    "Mapping": _mapping, "Labels": _mapping, "Options": _mapping, "MultiOptions": _multi_options,
    "StringList": _string_list, "StringOrNumberList": _string_list, "HostsList": _hosts, "Ulimit": _ulimit,
    "SSHConfig": _ssh, "EnvFile": _env_file, "DeviceCount": _device_count, "FileMode": _file_mode,
    "UnitBytes": _unit_bytes, "Duration": _duration,
}
