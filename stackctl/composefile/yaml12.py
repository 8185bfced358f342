"""YAML read the way docker compose reads it (go-yaml v3 as vendored by compose-go v2.9.1).

Contract (engineer A's loader calls this)::

    load_yaml(text: str, *, file: str) -> list[YamlDocument]
    YamlDocument(data: Any, lines: dict[tuple[str | int, ...], int])

One ``YamlDocument`` per YAML document of the stream (an empty stream gives ``[]``, an empty document
``data=None``). ``lines`` maps each key path (tuple of keys and list indices, ``()`` for the root) to the
1-based line where that key (or sequence item) is written; a path reached through an alias or a ``<<`` merge
gets the line of the text it was copied from.

Values, as go-yaml v3 decodes them into ``interface{}`` (YAML 1.2 core schema, plus go-yaml's quirks):

* plain ``true/True/TRUE`` and ``false`` variants are booleans; ``yes``, ``no``, ``on``, ``off``, ``y``, ``n``
  stay strings (``restart: no`` is ``"no"``); ``~``, ``null``, ``Null``, ``NULL`` and an empty value are None;
* integers follow Go's ``strconv.ParseInt(s, 0, 64)`` after dropping ``_``: ``0x1F`` 31, ``0o440`` and
  ``0440`` 288, ``0b101`` 5; above int64 up to uint64 still an int; then YAML 1.2 floats (``1e3`` 1000.0,
  ``08`` 8.0, ``.5``, ``.inf``, ``.nan``); no sexagesimal numbers (``22:22`` is a string);
* plain timestamps (``2001-12-14``, ``2001-12-14T21:59:43.10-05:00``) become the string Go prints for the
  time (RFC 3339 with nanoseconds: ``2001-12-14T00:00:00Z``), which is what ``config`` prints for them;
* quoted and block scalars are strings; ``!!str``/``!!int``/``!!float``/``!!bool``/``!!null``/``!!binary``
  tags are honoured; an unknown tag on a scalar gives its text as a string;
* ``!reset`` gives the :data:`Reset` sentinel (a sequence item tagged ``!reset`` is dropped, as compose-go
  does), ``!override X`` gives ``Override(X)`` (a scalar under ``!override`` keeps its text as a string);
* anchors may be redefined (the last definition wins); every alias is expanded into an independent copy;
  ``<<`` merges a mapping or a list of mappings (keys written in the mapping win, then the first list item);
* duplicate keys, keys that are not strings, alias cycles, excessive aliasing (go-yaml's own ratio rule,
  which stops "billion laughs" bombs after a few thousand nodes), nesting deeper than :data:`MAX_DEPTH`
  and invalid YAML raise SpecError with the line.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import math
import re
from dataclasses import dataclass
from typing import Any

from stackctl.errors import Problem, SpecError

Path = tuple["str | int", ...]

_STR = "tag:yaml.org,2002:str"
_SHORT = {f"tag:yaml.org,2002:{name}": f"!!{name}"
          for name in ("str", "int", "float", "bool", "null", "binary", "timestamp", "merge", "map", "seq")}
_CONSTANTS: dict[str, Any] = {
    "": None, "~": None, "null": None, "Null": None, "NULL": None,
    "true": True, "True": True, "TRUE": True, "false": False, "False": False, "FALSE": False,
    ".nan": math.nan, ".NaN": math.nan, ".NAN": math.nan,
    ".inf": math.inf, ".Inf": math.inf, ".INF": math.inf,
    "+.inf": math.inf, "+.Inf": math.inf, "+.INF": math.inf,
    "-.inf": -math.inf, "-.Inf": -math.inf, "-.INF": -math.inf,
}
_GO_INT = re.compile(r"([+-]?)(?:0[xX]([0-9a-fA-F]+)|0[oO]([0-7]+)|0[bB]([01]+)|0([0-7]*)|([1-9][0-9]*))\Z")
_YAML_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?\Z")
_DATE = r"([0-9]{4})-([0-9]{1,2})-([0-9]{1,2})"
_CLOCK = r"([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2})(?:[.,]([0-9]+))?"
_TIMESTAMPS = (re.compile(_DATE + r"\Z"),
               re.compile(_DATE + r"[Tt]" + _CLOCK + r"(Z|[+-][0-9]{2}:[0-9]{2})\Z"),
               re.compile(_DATE + " " + _CLOCK + r"\Z"))
_KEY = "\0"  # path part under which keys and merge sources are built (their lines are not kept)
_MERGE_TAG = "tag:yaml.org,2002:merge"
_DOT_FLOAT = re.compile(r"\.[0-9](?:_?[0-9])*(?:[eE][-+]?[0-9](?:_?[0-9])*)?\Z")
MAX_DEPTH = 200  # nested mappings and sequences (every later stage walks the tree recursively)
_INT64 = 1 << 63
_UINT64 = 1 << 64


class ResetType:
    """Type of the :data:`Reset` sentinel written ``!reset``: remove the attribute when merging."""

    _instance: ResetType | None = None

    def __new__(cls) -> ResetType:  # noqa: PYI034 - a singleton: always the one instance
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "Reset"

    def __reduce__(self) -> str:
        return "Reset"

    def __copy__(self) -> ResetType:
        return self

    def __deepcopy__(self, memo: dict[int, Any]) -> ResetType:
        return self


Reset = ResetType()


@dataclass(frozen=True)
class Override:
    """``!override value``: replace the attribute when merging, without merging into it."""

    value: Any


@dataclass
class YamlDocument:
    """One YAML document: the decoded ``data`` and the 1-based line of each key path."""

    data: Any
    lines: dict[Path, int]


def load_yaml(text: str, *, file: str) -> list[YamlDocument]:
    """Every document of ``text`` decoded as docker compose decodes it (see the module docstring)."""
    import yaml  # imported on first use, so that the markers and helpers stay cheap to import
    from yaml import events

    parser: Any
    try:  # libyaml's C parser when available (yaml.cyaml's): the events come from C, the values are built here
        from yaml._yaml import CParser

        parser = CParser(text)
    except ImportError:  # pragma: no cover - depends on how PyYAML was built
        parser = yaml.Loader(text)
    try:
        return _Builder(parser, file, events).documents()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise SpecError(Problem(file, "", f"invalid YAML: {exc.problem or exc.context}", line)) from exc
    except yaml.YAMLError as exc:
        raise SpecError(Problem(file, "", f"invalid YAML: {exc}")) from exc
    except RecursionError as exc:
        raise SpecError(Problem(file, "", "invalid YAML: document nested too deeply")) from exc
    finally:
        parser.dispose()


def path_str(path: Path) -> str:
    """``("services", "web", "ports", 0)`` -> ``services.web.ports[0]``."""
    out = ""
    for part in path:
        if part == _KEY:
            continue
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out = f"{out}.{part}" if out else part
    return out


def resolve_plain(text: str) -> Any:
    """The value go-yaml v3 gives an untagged plain scalar."""
    if not text:
        return None
    hint = text[0]
    if hint in "yYnNtTfFoO~.+-":
        if text in _CONSTANTS:
            return _CONSTANTS[text]
        if hint == ".":
            return _go_float(text) if _DOT_FLOAT.match(text) else text  # ParseFloat: "_" between digits
    if hint in "+-0123456789":
        return _resolve_number(text)
    return text


def _resolve_number(text: str) -> Any:
    if len(text) > 4 and text[4] == "-" and text[:4].isascii() and text[:4].isdigit():
        stamp = _timestamp(text)
        if stamp is not None:
            return stamp
    plain = text.replace("_", "")
    match = _GO_INT.match(plain)
    if match:
        sign, hexa, octal, binary, legacy, decimal = match.groups()
        digits, base = next((d, b) for d, b in ((hexa, 16), (octal, 8), (binary, 2), (legacy, 8), (decimal, 10))
                            if d is not None)
        significant = (digits or "0").lstrip("0") or "0"
        if len(significant) <= 64:  # longer is out of any Go int's range (and costly to convert)
            number = int(significant, base) * (-1 if sign == "-" else 1)
            if -_INT64 <= number < _INT64 or (not sign and 0 <= number < _UINT64):
                return number
    if _YAML_FLOAT.match(plain):
        value = _go_float(plain)
        if value is not None:
            return value
    return text


def _go_float(text: str) -> float | None:
    """``strconv.ParseFloat``: an out-of-range value is an error (None), not an infinity."""
    value = float(text)
    return None if math.isinf(value) else value


def _timestamp(text: str) -> str | None:
    """A go-yaml timestamp printed as Go prints a ``time.Time`` (RFC 3339 with nanoseconds), or None."""
    for pattern in _TIMESTAMPS:
        match = pattern.match(text)
        if match:
            parts = match.groups() + (None,) * (8 - len(match.groups()))
            return _format_time(*parts)
    return None


def _format_time(year: str, month: str, day: str, hour: str | None, minute: str | None,
                 second: str | None, fraction: str | None, zone: str | None) -> str | None:
    y, mo, d = int(year), int(month), int(day)
    h, mi, s = int(hour or 0), int(minute or 0), int(second or 0)
    if not (1 <= mo <= 12 and 1 <= d <= calendar.monthrange(y or 2000, mo)[1] and h < 24 and mi < 60
            and s < 60):
        return None
    frac = (fraction or "")[:9].rstrip("0")
    text = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}" + (f".{frac}" if frac else "")
    if zone is None or zone == "Z" or zone[1:] == "00:00":
        return text + "Z"
    return text + zone


class _Builder:
    """Builds Python values from parser events, go-yaml style (see the module docstring)."""

    def __init__(self, parser: Any, file: str, events: Any) -> None:
        self.parser = parser
        self.events = events
        self.file = file
        self.anchors: dict[str, tuple[Any, list[tuple[Path, int]], int]] = {}
        self.open_anchors: set[str] = set()
        self.lines: dict[Path, int] = {}
        self.decoded = 0
        self.aliased = 0
        self.bad_key: Problem | None = None
        self.depth = 0

    def documents(self) -> list[YamlDocument]:
        docs: list[YamlDocument] = []
        self.parser.get_event()  # StreamStart
        while not self.parser.check_event(self.events.StreamEndEvent):
            start = self.parser.get_event()
            if getattr(start, "version", None) not in (None, (1, 1)):  # go-yaml knows only %YAML 1.1
                raise self.fail((), "invalid YAML: found incompatible YAML document", start.start_mark.line + 1)
            self.anchors, self.lines, self.decoded, self.aliased = {}, {}, 0, 0
            self.lines[()] = self.parser.peek_event().start_mark.line + 1
            data = self.value(())
            self.lines = {p: n for p, n in self.lines.items() if _KEY not in p}
            self.parser.get_event()  # DocumentEnd
            if self.bad_key is not None:
                raise SpecError(self.bad_key)
            docs.append(YamlDocument(data, self.lines))
        return docs

    def fail(self, path: Path, message: str, line: int | None) -> SpecError:
        return SpecError(Problem(self.file, path_str(path), message, line))

    def value(self, path: Path) -> Any:
        """The next node's value; the caller has recorded the line of ``path`` itself."""
        event = self.parser.get_event()
        line = event.start_mark.line + 1
        if isinstance(event, self.events.AliasEvent):
            return self.alias(event.anchor, path, line)
        self.decoded += 1
        anchor, start, decoded = event.anchor, len(self.lines), self.decoded
        if anchor is not None:
            self.open_anchors.add(anchor)
        if isinstance(event, self.events.ScalarEvent):
            value = self.scalar(event, path, line)
        else:
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise self.fail((), f"invalid YAML: nested deeper than {MAX_DEPTH} levels", line)
            value = self.sequence(path) if isinstance(event, self.events.SequenceStartEvent) else self.mapping(path)
            self.depth -= 1
        if event.tag == "!override":
            value = Override(value)
        elif event.tag == "!reset":
            value = Reset
        if anchor is not None:
            self.open_anchors.discard(anchor)
            inner = [(p[len(path):], n) for p, n in list(self.lines.items())[start:]]
            self.anchors[anchor] = (value, inner, self.decoded - decoded + 1)
        return value

    def alias(self, anchor: str, path: Path, line: int) -> Any:
        if anchor in self.open_anchors:
            raise self.fail(path, f"anchor '{anchor}' value contains itself", line)
        if anchor not in self.anchors:
            raise self.fail(path, f"unknown anchor '{anchor}' referenced", line)
        value, inner, size = self.anchors[anchor]
        self.decoded += size
        self.aliased += size
        if self.aliased > 100 and self.decoded > 1000 and self.aliased / self.decoded > _allowed_ratio(self.decoded):
            raise self.fail(path, "document contains excessive aliasing", line)
        for rel, rel_line in inner:
            self.lines[path + rel] = rel_line
        return _clone(value)

    def scalar(self, event: Any, path: Path, line: int) -> Any:
        tag, text = event.tag, event.value
        if tag is None or tag == "!":
            return resolve_plain(text) if event.implicit[0] and tag is None else text
        short = _SHORT.get(tag, tag)
        if short in ("!!str", "!!merge") or not short.startswith("!!"):
            return text
        if short == "!!binary":
            try:
                return base64.b64decode(text, validate=False).decode("utf-8", "replace")
            except (binascii.Error, ValueError) as exc:
                raise self.fail(path, f"!!binary value contains invalid base64 data: {exc}", line) from exc
        value = resolve_plain(text)
        kind = _kind(value, text)
        if short == "!!float" and kind == "!!int":
            return float(value)
        if short != kind:
            raise self.fail(path, f"cannot decode {kind} `{text}` as a {short}", line)
        return value

    def sequence(self, path: Path) -> list[Any]:
        items: list[Any] = []
        while not self.parser.check_event(self.events.SequenceEndEvent):
            item_path = (*path, len(items))
            self.lines[item_path] = self.parser.peek_event().start_mark.line + 1
            item = self.value(item_path)
            if item is Reset:
                del self.lines[item_path]
            else:
                items.append(item)
        self.parser.get_event()
        return items

    def mapping(self, path: Path) -> dict[str, Any]:
        out: dict[str, Any] = {}
        seen: dict[str, int] = {}
        merges: list[tuple[Any, int]] = []
        while not self.parser.check_event(self.events.MappingEndEvent):
            key_event = self.parser.peek_event()
            key_line = key_event.start_mark.line + 1
            raw = _raw_key(key_event, self.events)
            if raw in seen:
                raise self.fail(path, f"mapping key {_go_quote(raw)} already defined at line {seen[raw]}", key_line)
            seen[raw] = key_line
            key = self.value((*path, _KEY))
            if raw == "<<" and _is_merge_key(key_event, self.events):
                merges.append((self.value((*path, _KEY)), key_line))
                continue
            if not isinstance(key, str):
                self.bad_key = self.bad_key or Problem(
                    self.file, "", f"non-string key {'in ' + path_str(path) if path else 'at top level'}: "
                    f"{_go_repr(key)}", key_line)
                key = str(key)
            self.lines[(*path, key)] = key_line
            out[key] = self.value((*path, key))
        self.parser.get_event()
        for source, merge_line in merges:
            self.merge_into(out, source, path, merge_line)
        return out

    def merge_into(self, out: dict[str, Any], source: Any, path: Path, line: int) -> None:
        sources = source if isinstance(source, list) else [source]
        if not all(isinstance(item, dict) for item in sources):
            raise self.fail(path, "map merge requires map or list of maps as the value", line)
        for item in sources:
            for key, value in item.items():
                if key not in out:
                    out[key] = value
                    self.lines.setdefault((*path, key), line)


def _is_merge_key(event: Any, events: Any) -> bool:
    """A plain ``<<`` (or one tagged ``!!merge``); a quoted ``"<<"`` is an ordinary key."""
    if not isinstance(event, events.ScalarEvent):
        return False
    return event.tag == _MERGE_TAG or (event.tag is None and bool(event.implicit[0]))


def _raw_key(event: Any, events: Any) -> str:
    """The text go-yaml compares to find duplicate keys (an alias counts as its anchor's name)."""
    if isinstance(event, events.ScalarEvent):
        return str(event.value)
    if isinstance(event, events.AliasEvent):
        return str(event.anchor)
    return ""


def _kind(value: Any, text: str) -> str:
    if value is None:
        return "!!null"
    if isinstance(value, bool):
        return "!!bool"
    if isinstance(value, int):
        return "!!int"
    if isinstance(value, float):
        return "!!float"
    return "!!timestamp" if _timestamp(text) is not None else "!!str"


def _allowed_ratio(decoded: int) -> float:
    """go-yaml v3's limit on the share of nodes that come from alias expansion."""
    if decoded <= 400_000:
        return 0.99
    if decoded >= 4_000_000:
        return 0.10
    return 0.99 - 0.89 * (decoded - 400_000) / 3_600_000


def _clone(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    if isinstance(value, Override):
        return Override(_clone(value.value))
    return value


def _go_quote(text: str) -> str:
    """Go's ``%#v`` of a string (a double-quoted literal)."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    return f'"{escaped}"'


def _go_repr(key: Any) -> str:
    """Go's ``%#v`` of a decoded key that is not a string."""
    if key is None:
        return "<nil>"
    if isinstance(key, bool):
        return "true" if key else "false"
    return str(key)
