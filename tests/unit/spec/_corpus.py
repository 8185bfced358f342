"""Reading the shared conformance corpus for the spec tests (cases, raw YAML documents)."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import yaml

CORPUS_TAGS = ("!reset", "!override")


def manifest(shared: pathlib.Path) -> list[dict[str, Any]]:
    data = json.loads((shared / "conformance" / "expected" / "MANIFEST.json").read_text())
    return list(data["cases"])


def raw_documents(path: pathlib.Path) -> list[Any]:
    """The YAML documents of one compose file, as the real loader reads them (before interpolation).

    Uses engineer B's ``stackctl.spec.yaml12`` when it is present; until then a YAML 1.2 approximation
    (bool only true/false, no sexagesimal ints, no timestamps) that drops ``!reset`` keys.
    """
    text = path.read_text(encoding="utf-8")
    try:
        from stackctl.spec import yaml12
    except ImportError:
        docs = list(yaml.load_all(text, Loader=_Yaml12Approx))
        return [_drop_resets(d) for d in docs if d is not None]
    return [_drop_resets(d.data) for d in yaml12.load_yaml(text, file=str(path)) if d.data is not None]


_RESET = object()


def _real_reset() -> Any:
    try:
        from stackctl.spec.yaml12 import Reset
    except ImportError:
        return _RESET
    return Reset


def _drop_resets(value: Any, real_reset: Any = None) -> Any:
    """Remove ``!reset`` values and unwrap ``!override`` ones (what a single file means on its own)."""
    if real_reset is None:
        real_reset = _real_reset()
    if isinstance(value, dict):
        return {k: _drop_resets(v, real_reset) for k, v in value.items() if not _is(v, real_reset)}
    if isinstance(value, list):
        return [_drop_resets(v, real_reset) for v in value if not _is(v, real_reset)]
    if type(value).__name__ == "Override":
        return _drop_resets(value.value, real_reset)
    return value


def _is(value: Any, reset: Any) -> bool:
    return value is _RESET or value is reset or type(value) is reset


class _Yaml12Approx(yaml.SafeLoader):
    pass


_DROPPED = {"tag:yaml.org,2002:bool", "tag:yaml.org,2002:int", "tag:yaml.org,2002:float",
            "tag:yaml.org,2002:timestamp"}
_Yaml12Approx.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Yaml12Approx.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
_Yaml12Approx.add_implicit_resolver(
    "tag:yaml.org,2002:int", re.compile(r"^[-+]?(?:[0-9]+|0x[0-9a-fA-F]+|0o[0-7]+)$"), list("-+0123456789"))
_Yaml12Approx.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$|^[-+]?\.(?:inf|Inf|INF)$"),
    list("-+0123456789."))


def _int(loader: yaml.SafeLoader, node: yaml.Node) -> int:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    if re.match(r"^[-+]?0[0-9]", text):
        return int(text, 8)
    return int(text, 0)


def _override(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


_Yaml12Approx.add_constructor("tag:yaml.org,2002:int", _int)
_Yaml12Approx.add_constructor("!reset", lambda loader, node: _RESET)
_Yaml12Approx.add_constructor("!override", _override)
