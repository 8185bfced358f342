"""The normalized document printed as ``docker compose config`` prints it (JSON or YAML).

``to_json(doc)`` / ``to_yaml(doc)`` take what :func:`stackctl.composefile.normalize.normalize` returns. Keys come
in compose-go's struct order (maps sorted), JSON escapes ``< > &`` as Go does, YAML is block style with
2-space indents and quotes exactly the strings go-yaml v3 quotes (``restart: "no"``, ``"N": ...``), and
every ``$`` is re-escaped as ``$$`` (unless ``escape_dollars=False``, as with ``--no-interpolate``).
``json_document(doc)`` is the dict the JSON text encodes; ``model_to_json`` / ``model_to_yaml`` print a raw
(unbound) model the way ``config --no-interpolate`` does.
"""

from __future__ import annotations

import json
import re
from functools import cmp_to_key
from typing import Any

import yaml

from stackctl.composefile._gostructs import STRUCTS
from stackctl.composefile._yamlemit import emit
from stackctl.composefile.gotypes import FIELDS, sorted_keys
from stackctl.errors import StackctlError

_GO_JSON_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def json_document(doc: dict[str, Any], *, escape_dollars: bool = True) -> dict[str, Any]:
    """The dict ``config --format json`` prints for ``doc``."""
    view = json_view(doc)
    return _escape(view) if escape_dollars else view


def to_json(doc: dict[str, Any], *, escape_dollars: bool = True) -> str:
    """``docker compose config --format json`` output for ``doc`` (no trailing newline, as the oracle)."""
    text = _go_json(json_view(doc))
    return text.replace("$", "$$") if escape_dollars else text


def to_yaml(doc: dict[str, Any], *, escape_dollars: bool = True) -> str:
    """``docker compose config`` (YAML) output for ``doc``."""
    text = _go_yaml(yaml_view(doc))
    return text.replace("$", "$$") if escape_dollars else text


def model_to_json(model: dict[str, Any]) -> str:
    """A raw model (``config --no-interpolate``) as Go prints a ``map[string]any``: keys sorted, no ``$`` escaping."""
    return _go_json(sorted_keys(model))


def model_to_yaml(model: dict[str, Any]) -> str:
    """A raw model (``config --no-interpolate --format yaml``) as go-yaml v3 prints a map: keys sorted."""
    return _go_yaml(yaml_sorted(model))


def _go_json(value: Any) -> str:
    try:
        text = json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False)
    except ValueError as exc:  # Go: "json: unsupported value: +Inf"
        raise StackctlError("cannot print as JSON: a number is infinite or NaN (JSON has no such numbers)") from exc
    return re.sub("[<>&\u2028\u2029]", lambda m: _GO_JSON_ESCAPES[m.group(0)], text)


def _go_yaml(value: Any) -> str:
    fast = emit(value, quote=needs_double_quotes, resolvers=_GoYamlDumper.yaml_implicit_resolvers)
    return fast if fast is not None else _pyyaml(value)


def _pyyaml(value: Any) -> str:
    """PyYAML's own (slower) writer: what :func:`stackctl.composefile._yamlemit.emit` reproduces."""
    return str(yaml.dump(value, Dumper=_GoYamlDumper, sort_keys=False, allow_unicode=True,
                         default_flow_style=False, width=2**31 - 1, indent=2))


def json_view(doc: dict[str, Any]) -> dict[str, Any]:
    """What ``--format json`` shows: x-* keys only at top level, no top-level ``models``, keys sorted."""
    top = {k: v for k, v in doc.items() if k != "models"}
    view = _view(top, "Project", keep_ext=False, for_yaml=False)
    view.update({k: v for k, v in doc.items() if k.startswith("x-")})
    return dict(sorted(view.items()))


def yaml_view(doc: dict[str, Any]) -> dict[str, Any]:
    """What ``--format yaml`` shows: x-* kept everywhere, zero structs and null commands omitted."""
    view: dict[str, Any] = _view(doc, "Project", keep_ext=True, for_yaml=True)
    return view


def _view(value: Any, kind: str, *, keep_ext: bool, for_yaml: bool) -> Any:
    if value is None:
        return None
    if kind.startswith("*"):
        return _view(value, kind[1:], keep_ext=keep_ext, for_yaml=for_yaml)
    if kind.startswith("list<") and isinstance(value, list):
        return [_view(v, kind[5:-1], keep_ext=keep_ext, for_yaml=for_yaml) for v in value]
    if kind.startswith("map<") and isinstance(value, dict):
        items = _yaml_order(value) if for_yaml else value
        return {k: _view(v, kind[4:-1], keep_ext=keep_ext, for_yaml=for_yaml) for k, v in items.items()}
    if kind in STRUCTS and isinstance(value, dict):
        return _view_struct(value, kind, keep_ext=keep_ext, for_yaml=for_yaml)
    if kind == "EnvFile":
        return _env_file_view(value, for_yaml=for_yaml)
    if for_yaml and kind in _GO_MAPS and isinstance(value, dict):
        return _yaml_order(value)
    return value


_GO_MAPS = {"Mapping", "Labels", "Options", "MultiOptions", "MappingWithEquals"}


def _yaml_order(value: dict[str, Any]) -> dict[str, Any]:
    """A Go map's keys in the order go-yaml v3 writes them (:func:`go_yaml_less`)."""
    return {k: value[k] for k in sorted(value, key=_GO_YAML_KEY)}


def yaml_sorted(value: Any) -> Any:
    """``value`` with every mapping's keys in go-yaml's order (a ``map[string]any`` all the way down)."""
    if isinstance(value, dict):
        return {k: yaml_sorted(v) for k, v in _yaml_order(value).items()}
    if isinstance(value, list):
        return [yaml_sorted(v) for v in value]
    return value


def go_yaml_less(a: str, b: str) -> bool:
    """go-yaml v3's ``keyList.Less`` for two string keys: letters compare by code point, and runs of digits
    by their value, so ``web2 < web9 < web10`` (the numbers wrap at 64 bits as Go's int64 does)."""
    digits = False
    for i in range(min(len(a), len(b))):
        if a[i] == b[i]:
            digits = a[i].isdecimal()
            continue
        al, bl = a[i].isalpha(), b[i].isalpha()
        if al and bl:
            return a[i] < b[i]
        if al or bl:
            return al if digits else bl
        an, ai = _go_number(a, i)
        bn, bi = _go_number(b, i)
        if (a[i] == "0" or b[i] == "0") and _nonzero_before(a, i):
            an, bn = _wrap64(an + _power(ai - i)), _wrap64(bn + _power(bi - i))
        if an != bn:
            return an < bn
        if ai != bi:
            return ai < bi
        return a[i] < b[i]
    return len(a) < len(b)


def _go_number(text: str, start: int) -> tuple[int, int]:
    """The int64 value of the digits from ``start`` (Go's overflow wrap) and the index after them."""
    end, number = start, 0
    while end < len(text) and text[end].isdecimal():  # Go's unicode.IsDigit; int64(r - '0') for any digit
        number = _wrap64(number * 10 + ord(text[end]) - 48)
        end += 1
    return number, end


def _nonzero_before(text: str, index: int) -> bool:
    """Go starts both numbers at 1 when a digit before ``index`` in the same run is not ``0``."""
    j = index - 1
    while j >= 0 and text[j].isdecimal():
        if text[j] != "0":
            return True
        j -= 1
    return False


def _power(count: int) -> int:
    return _wrap64(pow(10, count, 1 << 64))


def _wrap64(number: int) -> int:
    return (number + (1 << 63)) % (1 << 64) - (1 << 63)


_GO_YAML_KEY = cmp_to_key(lambda a, b: -1 if go_yaml_less(str(a), str(b)) else 1 if go_yaml_less(str(b), str(a)) else 0)


def _view_struct(value: dict[str, Any], name: str, *, keep_ext: bool, for_yaml: bool) -> dict[str, Any]:
    kinds = _KINDS[name]
    out: dict[str, Any] = {}
    extensions: dict[str, Any] = {}
    for key, item in value.items():
        if key == "content" and (name == "SecretConfig" or name == "ConfigObjConfig" and value.get("environment")):
            continue  # compose-go never prints a secret's content, nor a config's read from the environment
        if key not in kinds:
            if keep_ext:
                extensions[key] = item
            continue
        kind, omitempty = kinds[key]
        shown = _view(item, kind, keep_ext=keep_ext, for_yaml=for_yaml)
        if for_yaml and _yaml_omits(shown, kind, omitempty):
            continue
        out[key.lower() if for_yaml else key] = shown  # untagged Go fields: go-yaml lower-cases their names
    out.update(yaml_sorted(extensions) if for_yaml else extensions)  # go-yaml writes an inline map sorted
    return out


_KINDS = {name: {key: (kind, omitempty) for key, kind, omitempty in fields} for name, fields in FIELDS.items()}


def _yaml_omits(value: Any, kind: str, omitempty: bool) -> bool:
    if kind == "ShellCommand":
        return value is None
    if omitempty and kind in STRUCTS:
        return not value
    return False


def _env_file_view(value: Any, *, for_yaml: bool) -> Any:
    if not isinstance(value, dict):
        return value
    if value.get("required", True):
        return value.get("path", "")
    return {"path": value.get("path", ""), "required": False} if for_yaml else value


def _escape(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {_escape(k): _escape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_escape(v) for v in value]
    return value


# --- YAML the way go-yaml v3 writes it ----------------------------------------------------------------

_OLD_BOOLS = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "on", "On", "ON", "off", "Off", "OFF",
              "true", "True", "TRUE", "false", "False", "FALSE"}
_NULLS = {"", "~", "null", "Null", "NULL"}
_BASE60 = re.compile(r"^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$")
_GO_INT = re.compile(r"^[-+]?(0[bB][01_]+|0[oO][0-7_]+|0[xX][0-9a-fA-F_]+|[0-9][0-9_]*)$")
_FLOAT = re.compile(r"^[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?$")
_SPECIAL_FLOATS = {".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF", ".nan", ".NaN",
                   ".NAN"}
_TIMESTAMP = re.compile(r"^\d{4}-\d\d?-\d\d?([Tt ]|$)")


def needs_double_quotes(text: str) -> bool:
    """True when go-yaml v3 would read ``text`` unquoted as something else than a string."""
    return (text in _OLD_BOOLS or text in _NULLS or text in _SPECIAL_FLOATS
            or bool(_GO_INT.match(text) or _FLOAT.match(text) or _BASE60.match(text) or _TIMESTAMP.match(text)))


class _GoYamlDumper(yaml.SafeDumper):
    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def check_simple_key(self) -> bool:
        """go-yaml writes an empty key as ``"":``; PyYAML would make it a complex ``? ""`` key."""
        event = self.event
        if isinstance(event, yaml.ScalarEvent) and event.value == "" and event.anchor is None:
            return True
        return bool(super().check_simple_key())


# go-yaml writes "<<" and "=" plain: drop PyYAML's YAML 1.1 merge/value resolvers so it does too
_GoYamlDumper.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:merge", "tag:yaml.org,2002:value")]
    for first, resolvers in yaml.SafeDumper.yaml_implicit_resolvers.items()}


def _represent_str(dumper: yaml.SafeDumper, text: str) -> yaml.ScalarNode:
    if "\n" in text:
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|")
    if needs_double_quotes(text):
        return dumper.represent_scalar("tag:yaml.org,2002:str", text, style='"')
    return dumper.represent_scalar("tag:yaml.org,2002:str", text)


_GoYamlDumper.add_representer(str, _represent_str)
