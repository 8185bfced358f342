"""``${VAR}`` interpolation of compose documents, as compose-go v2.9.1 (the oracle's loader) does it.

Contract (engineer A's loader calls these)::

    interpolate(doc, lookup: Mapping[str, str], *, file: str, warn=None, cast=True, lines=None) -> doc
    substitute(template: str, lookup: Mapping[str, str], *, warn=None) -> str

* ``lookup`` holds the variables that are set (an empty string is set); a missing key is unset.
* Only values are interpolated, never keys; the input is not modified, a new document is returned.
  ``yaml12.Reset`` passes through, ``yaml12.Override(v)`` is interpolated inside.
* Forms: ``$VAR``, ``${VAR}``, ``${VAR:-default}`` (unset or empty), ``${VAR-default}`` (unset),
  ``${VAR:?message}`` / ``${VAR?message}`` (error), ``${VAR:+alt}`` / ``${VAR+alt}``; defaults and messages
  nest and are evaluated eagerly, even when not used (compose-go v2.9.1, so ``${A:-${U:?x}}`` fails with
  ``A`` set, as the oracle does); braces balance, so ``${X:-{"a":1}}`` works.
* ``$$`` becomes ``$`` (compose-go semantics: the document afterwards holds the literal value; ``config``
  re-escapes every ``$`` as ``$$`` when printing). A ``$`` not followed by ``{``, ``$`` or a name stays.
* An unset variable without default becomes ``""`` and ``warn('The "X" variable is not set. Defaulting to
  a blank string.')`` is called once per variable per ``interpolate`` call.
* Errors raise :class:`InterpolationError` whose Problem names the file, the key path
  (``services.web.ports[0]``) and, when ``lines`` (from ``yaml12.YamlDocument.lines``) is given, the line.
* With ``cast=True`` the strings at compose-go's ``interpolateTypeCastMapping`` paths become int, float or
  bool after substitution (``scale: "${N}"`` -> ``3``); ``yes/no/on/off/y/n`` are accepted as booleans with a
  warning; a value that cannot be cast raises ``failed to cast to expected type: ...`` like compose-go.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Callable, Mapping
from typing import Any

from stackctl.composefile.yaml12 import Override, path_str
from stackctl.errors import InterpolationError, Problem

Warn = Callable[[str], None]
Path = tuple["str | int", ...]

_NAME = r"[_A-Za-z][_A-Za-z0-9]*"
_TOKEN = re.compile(rf"\$(?:(?P<escaped>\$)|(?P<named>{_NAME})|\{{(?:(?P<braced>{_NAME}(?::?[-+?].*)?)\}}|"
                    r"(?P<invalid>)))")
_OPERATOR = re.compile(rf"({_NAME})(:?[-+?])?")
_GO_INT = re.compile(r"[+-]?[0-9]+\Z")
_GO_FLOAT = re.compile(r"[+-]?(?:(?:[0-9][0-9_]*)?\.?[0-9_]*(?:[eE][+-]?[0-9_]+)?|inf|infinity|nan)\Z", re.IGNORECASE)
_GO_HEX_FLOAT = re.compile(r"[+-]?0[xX][0-9a-fA-F_]*\.?[0-9a-fA-F_]*[pP][+-]?[0-9_]+\Z")


MAX_EXPANDED = 16 * 1024 * 1024  # characters that substitutions may produce for one document (or .env file)
MAX_NESTING = 64  # ${A:-${B:-...}} levels (evaluating them recurses)


class _TooMuch(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class _InvalidTemplate(Exception):
    def __init__(self, template: str) -> None:
        super().__init__(template)
        self.template = template


class _MissingRequired(Exception):
    def __init__(self, name: str, reason: str) -> None:
        text = f"required variable {name} is missing a value" + (f": {reason}" if reason else "")
        super().__init__(text)


class _CastError(Exception):
    pass


class _Context:
    """The variables, and the variables already warned about."""

    def __init__(self, lookup: Mapping[str, str], warn: Warn | None) -> None:
        self.lookup = lookup
        self.warn = warn
        self.warned: set[str] = set()
        self.produced = 0
        self.depth = 0

    def value(self, name: str) -> str:
        value = self.lookup.get(name)
        if value is None:
            if self.warn is not None and name not in self.warned:
                self.warned.add(name)
                self.warn(f'The "{name}" variable is not set. Defaulting to a blank string.')
            return ""
        return self.count(value)

    def count(self, text: str) -> str:
        """``text``, counted against :data:`MAX_EXPANDED` (checked before the pieces are joined)."""
        self.produced += len(text)
        if self.produced > MAX_EXPANDED:
            raise _TooMuch(f"interpolation produces more than {MAX_EXPANDED // (1024 * 1024)} MiB of text")
        return text


def substitute(template: str, lookup: Mapping[str, str], *, warn: Warn | None = None) -> str:
    """``template`` with every ``$`` expression evaluated against ``lookup`` (see the module docstring)."""
    try:
        return _substitute(template, _Context(lookup, warn))
    except _InvalidTemplate as exc:
        raise InterpolationError(_invalid_message(exc.template)) from exc
    except (_MissingRequired, _TooMuch) as exc:
        raise InterpolationError(str(exc)) from exc


def interpolate(doc: Any, lookup: Mapping[str, str], *, file: str, warn: Warn | None = None,
                cast: bool = True, lines: Mapping[Path, int] | None = None) -> Any:
    """A copy of ``doc`` with every string value substituted (and cast where compose-go casts)."""
    walker = _Walker(_Context(lookup, warn), file=file, cast=cast, lines=lines or {})
    return walker.walk(doc, ())


def _substitute(template: str, ctx: _Context) -> str:
    if "$" not in template:
        return template
    if ctx.depth >= MAX_NESTING:
        raise _TooMuch(f"variables nested more than {MAX_NESTING} levels deep")
    ctx.depth += 1
    try:
        return _TOKEN.sub(lambda match: _replace(match, ctx), template)
    except _InvalidTemplate as exc:
        if not exc.template:
            exc.template = template
        raise
    finally:
        ctx.depth -= 1


def _replace(match: re.Match[str], ctx: _Context) -> str:
    if match.group("escaped"):
        return "$"
    named = match.group("named")
    if named:
        return ctx.value(named)
    if match.group("braced") is None:
        raise _InvalidTemplate("")
    text = match.group(0)
    end = _closing_brace(text)
    head, rest = (text[:end + 1], text[end + 1:]) if end >= 0 else (text, "")
    inner = _TOKEN.match(head)
    body = inner.group("braced") if inner else None
    if not body:
        raise _InvalidTemplate("")
    operator = _OPERATOR.match(body)
    assert operator is not None
    name, op = operator.group(1), operator.group(2)
    if op is None:
        return ctx.value(name)
    return ctx.count(_apply(name, op, body[operator.end():], ctx) + _substitute(rest, ctx))


def _closing_brace(text: str) -> int:
    """Index of the ``}`` closing the first ``{`` (compose-go's scan, which skips the char after ``{``)."""
    depth, i = 0, 0
    while i < len(text):
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i
        if text[i] == "{":
            depth += 1
            i += 1
        i += 1
    return -1


def _apply(name: str, op: str, argument: str, ctx: _Context) -> str:
    argument = _substitute(argument, ctx)  # eager, as compose-go v2.9.1
    value = ctx.lookup.get(name)
    empty_counts = op.startswith(":")
    missing = value is None or (empty_counts and value == "")
    kind = op[-1]
    if kind == "-":
        return argument if missing else value or ""
    if kind == "+":
        return "" if missing else argument
    if missing:
        raise _MissingRequired(name, argument)
    return value or ""


def _invalid_message(template: str) -> str:
    return f"invalid interpolation format {_quote(template)}: you may need to escape any $ with another $"


def _quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


class _Walker:
    def __init__(self, ctx: _Context, *, file: str, cast: bool, lines: Mapping[Path, int]) -> None:
        self.ctx = ctx
        self.file = file
        self.cast = cast
        self.lines = lines

    def walk(self, value: Any, path: Path) -> Any:
        if isinstance(value, str):
            return self.string(value, path)
        if isinstance(value, dict):
            return {key: self.walk(item, (*path, key)) for key, item in value.items()}
        if isinstance(value, list):
            return [self.walk(item, (*path, index)) for index, item in enumerate(value)]
        if isinstance(value, Override):
            return Override(self.walk(value.value, path))
        return value

    def string(self, value: str, path: Path) -> Any:
        try:
            result = _substitute(value, self.ctx)
        except _InvalidTemplate as exc:
            raise self.error(path, _invalid_message(exc.template)) from exc
        except (_MissingRequired, _TooMuch) as exc:
            raise self.error(path, str(exc)) from exc
        caster = _caster(path) if self.cast else None
        if caster is None:
            return result
        try:
            return caster(result, self.ctx.warn)
        except _CastError as exc:
            raise self.error(path, f"failed to cast to expected type: {exc}") from exc

    def error(self, path: Path, message: str) -> InterpolationError:
        return InterpolationError(Problem(self.file, path_str(path), message, _line(self.lines, path)))


def _line(lines: Mapping[Path, int], path: Path) -> int | None:
    while path:
        if path in lines:
            return lines[path]
        path = path[:-1]
    return None


# ---- type casts (compose-go v2.9.1 loader/interpolate.go interpolateTypeCastMapping) ----

def _to_int(value: str, warn: Warn | None, func: str = "strconv.Atoi") -> int:
    if not _GO_INT.match(value):
        raise _CastError(f"{func}: parsing {_quote(value)}: invalid syntax")
    number = int(value) if len(value.lstrip("+-").lstrip("0")) <= 20 else 1 << 63  # longer: out of range
    if not -(1 << 63) <= number < (1 << 63):
        raise _CastError(f"{func}: parsing {_quote(value)}: value out of range")
    return number


def _to_int64(value: str, warn: Warn | None) -> int:
    return _to_int(value, warn, "strconv.ParseInt")


def _to_float(value: str, warn: Warn | None) -> float:
    syntax_ok = value and value.isascii() and (_GO_FLOAT.match(value) or _GO_HEX_FLOAT.match(value))
    try:
        if not syntax_ok or "__" in value or value.startswith("_") or value.endswith("_"):
            raise ValueError(value)
        number = float.fromhex(value.replace("_", "")) if "x" in value.lower() else float(value)
    except ValueError:
        raise _CastError(f"strconv.ParseFloat: parsing {_quote(value)}: invalid syntax") from None
    if math.isinf(number) and "inf" not in value.lower():
        raise _CastError(f"strconv.ParseFloat: parsing {_quote(value)}: value out of range")
    return number


def _to_float32(value: str, warn: Warn | None) -> float:
    """ParseFloat(s, 32), given back as the float whose shortest text is the float32's (as Go prints it)."""
    number = _to_float(value, warn)
    if math.isinf(number) or math.isnan(number):
        return number
    single: float = struct.unpack("f", struct.pack("f", number))[0]
    if math.isinf(single):
        raise _CastError(f"strconv.ParseFloat: parsing {_quote(value)}: value out of range")
    for digits in range(1, 10):
        text = f"{single:.{digits}g}"
        if struct.unpack("f", struct.pack("f", float(text)))[0] == single:
            return float(text)
    return single


def _to_bool(value: str, warn: Warn | None) -> bool:
    lowered = value.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("y", "yes", "on", "n", "no", "off"):
        result = lowered in ("y", "yes", "on")
        if warn is not None:
            warn(f'"{value}" for boolean is not supported by YAML 1.2, please use `{str(result).lower()}`')
        return result
    raise _CastError(f"invalid boolean: {value}")


_Caster = Callable[[str, "Warn | None"], Any]
_SERVICE_CASTS: dict[tuple[str, ...], _Caster] = {
    ("cpu_count",): _to_int64, ("cpu_percent",): _to_float, ("cpu_period",): _to_int64,
    ("cpu_quota",): _to_int64, ("cpu_rt_period",): _to_int64, ("cpu_rt_runtime",): _to_int64,
    ("cpus",): _to_float32, ("cpu_shares",): _to_int64, ("init",): _to_bool,
    ("deploy", "replicas"): _to_int, ("deploy", "update_config", "parallelism"): _to_int,
    ("deploy", "update_config", "max_failure_ratio"): _to_float,
    ("deploy", "rollback_config", "parallelism"): _to_int,
    ("deploy", "rollback_config", "max_failure_ratio"): _to_float,
    ("deploy", "restart_policy", "max_attempts"): _to_int,
    ("deploy", "placement", "max_replicas_per_node"): _to_int,
    ("healthcheck", "retries"): _to_int, ("healthcheck", "disable"): _to_bool,
    ("oom_kill_disable",): _to_bool, ("oom_score_adj",): _to_int64, ("pids_limit",): _to_int64,
    ("ports", "[]", "target"): _to_int, ("privileged",): _to_bool, ("read_only",): _to_bool,
    ("scale",): _to_int, ("stdin_open",): _to_bool, ("tty",): _to_bool,
    ("ulimits", "*"): _to_int, ("ulimits", "*", "hard"): _to_int, ("ulimits", "*", "soft"): _to_int,
    ("volumes", "[]", "read_only"): _to_bool, ("volumes", "[]", "volume", "nocopy"): _to_bool,
}
_CASTS: dict[tuple[str, ...], _Caster] = {
    **{("services", "*", *rest): caster for rest, caster in _SERVICE_CASTS.items()},
    **{(kind, "*", "external"): _to_bool for kind in ("networks", "volumes", "secrets", "configs")},
    **{("networks", "*", flag): _to_bool for flag in ("internal", "attachable", "enable_ipv4", "enable_ipv6")},
}
# the patterns as a trie: {component: subtrie}, and under _END the (order, caster) of a pattern ending there
_END = object()
_CAST_TRIE: dict[Any, Any] = {}
for _order, (_pattern, _cast) in enumerate(_CASTS.items()):
    _node = _CAST_TRIE
    for _part in _pattern:
        _node = _node.setdefault(_part, {})
    _node.setdefault(_END, (_order, _cast))


def _caster(path: Path) -> _Caster | None:
    """The cast of the first pattern ``path`` matches: ``*`` matches any part, ``[]`` a list index."""
    nodes = [_CAST_TRIE]
    for part in path:
        following = []
        for node in nodes:
            for child in (node.get(part), node.get("[]") if isinstance(part, int) else None,
                          node.get("*") if part != "*" else None):
                if child is not None:
                    following.append(child)
        if not following:
            return None
        nodes = following
    ends = [node[_END] for node in nodes if _END in node]
    return min(ends, key=lambda end: end[0])[1] if ends else None
