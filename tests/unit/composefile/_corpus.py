"""Reading the shared conformance corpus for the spec tests (cases, raw YAML documents)."""

from __future__ import annotations

import json
import pathlib
from typing import Any

from stackctl.composefile import yaml12


def manifest(shared: pathlib.Path) -> list[dict[str, Any]]:
    data = json.loads((shared / "conformance" / "expected" / "MANIFEST.json").read_text())
    return list(data["cases"])


def raw_documents(path: pathlib.Path) -> list[Any]:
    """The YAML documents of one compose file as the loader reads them (before interpolation), with
    ``!reset`` values removed and ``!override`` ones unwrapped: what a single file means on its own."""
    docs = yaml12.load_yaml(path.read_text(encoding="utf-8"), file=str(path))
    return [_resolve_markers(d.data) for d in docs if d.data is not None]


def _resolve_markers(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _resolve_markers(v) for k, v in value.items() if v is not yaml12.Reset}
    if isinstance(value, list):
        return [_resolve_markers(v) for v in value if v is not yaml12.Reset]
    if isinstance(value, yaml12.Override):
        return _resolve_markers(value.value)
    return value


def key_paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every key path in a document (the document itself first), for tests that mutate one."""
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += key_paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += key_paths(item, (*path, index))
    return found
