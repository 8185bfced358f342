"""Check a compose document against our JSON Schema (``schemas/compose.schema.json``).

:func:`validate_schema` reports every problem at once, sorted by key path, one clear line each. For
``oneOf`` failures it picks the most specific sub-error (or says which types are accepted) instead of a
wall of text. The validator is compiled once; ``jsonschema`` is imported only when first needed, so
importing this module stays cheap. A valid document never needs jsonschema: a fast check compiled from the
same schema (:mod:`stackctl.composefile._schemacheck`, same verdicts) says so first.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import Any

from stackctl import schema_files
from stackctl.errors import Problem

Path = tuple[str | int, ...]
SCHEMA_FILE = "compose.schema.json"

_TYPE_NAMES = {"object": "mapping", "array": "list", "null": "null", "string": "string",
               "integer": "integer", "number": "number", "boolean": "boolean"}


def validate_schema(doc: Any, *, file: str, lines: Mapping[Path, int] | None = None) -> list[Problem]:
    """Every schema violation in ``doc``, sorted by key path (an empty list when the document is valid)."""
    found = list(_non_string_keys(doc, ()))
    if not found and _surely_valid(doc):
        return []
    if not found:
        for error in _validator().iter_errors(doc):
            found.extend(_explain(error))
    unique = {(path, message) for path, message in found}
    ordered = sorted(unique, key=lambda item: (_sort_key(item[0]), item[1]))
    return [Problem(file, format_path(path), message, _line(lines, path)) for path, message in ordered]


def format_path(path: Sequence[str | int]) -> str:
    """``("services", "web", "ports", 0)`` -> ``services.web.ports[0]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def load_schema() -> dict[str, Any]:
    """The compose schema as a dict, from the installed package or from the checkout."""
    schema: dict[str, Any] = json.loads(schema_files.schema_text(SCHEMA_FILE))
    return schema


# --------------------------------------------------------------------------------------------------
# Loading and compiling


@functools.cache
def _compiled() -> tuple[Any, Any]:
    """(validator, resolver), built once; ``$ref``s go through a ``referencing`` registry."""
    from jsonschema import Draft202012Validator
    from referencing import Registry, Resource

    schema = load_schema()
    registry: Registry[Any] = Registry().with_resource(schema["$id"], Resource.from_contents(schema))
    validator = Draft202012Validator(schema, registry=registry)
    return validator, registry.resolver(base_uri=schema["$id"])


def _validator() -> Any:
    return _compiled()[0]


@functools.cache
def _fast_check() -> Callable[[Any], bool] | None:
    """The schema compiled by :mod:`stackctl.composefile._schemacheck` (None if it uses a keyword it lacks)."""
    from stackctl.composefile._schemacheck import Unsupported, compile_check

    try:
        return compile_check(load_schema())
    except Unsupported:
        return None


def _surely_valid(doc: Any) -> bool:
    """True when jsonschema would find nothing wrong with ``doc``: then no message is needed."""
    from stackctl.composefile._schemacheck import Undecided

    check = _fast_check()
    try:
        return check is not None and check(doc)
    except Undecided:
        return False


# --------------------------------------------------------------------------------------------------
# Turning jsonschema errors into (path, message) pairs


def _explain(error: Any) -> Iterator[tuple[Path, str]]:
    path: Path = tuple(error.absolute_path)
    kind = error.validator
    if kind in ("oneOf", "anyOf"):
        yield from _explain_alternatives(error, path)
    elif kind == "additionalProperties":
        yield from _explain_unknown_keys(error, path)
    else:
        yield path, _message(error)


def _message(error: Any) -> str:
    kind, expected, value = error.validator, error.validator_value, error.instance
    if kind == "type":
        return "must be " + _types_phrase([expected] if isinstance(expected, str) else list(expected))
    if kind == "required":
        missing = [key for key in expected if isinstance(value, dict) and key not in value]
        return f"missing required key {missing[0]!r}" if missing else error.message
    if kind == "enum":
        return "must be one of " + ", ".join(repr(v) for v in expected) + f" (got {value!r})"
    if kind == "const":
        return f"must be {expected!r} (got {value!r})"
    if kind == "minimum":
        return f"must be greater than or equal to {expected}"
    if kind == "maximum":
        return f"must be less than or equal to {expected}"
    if kind == "pattern":
        return f"{value!r} is not valid (must match {expected})"
    if kind == "uniqueItems":
        return f"must not contain duplicates ({_first_duplicate(value)!r} repeated)"
    return str(error.message)


def _types_phrase(types: Iterable[str]) -> str:
    """``["string", "object"]`` -> ``a mapping or string``; quoted constants come last."""
    names = sorted({_TYPE_NAMES.get(t, t) for t in types}, key=lambda n: (n.startswith("'"), n))
    phrase = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    if phrase.startswith("'"):
        return phrase
    return ("an " if phrase[0] in "aeiou" else "a ") + phrase


def _first_duplicate(items: Any) -> Any:
    seen: list[Any] = []
    for item in items if isinstance(items, list) else []:
        if item in seen:
            return item
        seen.append(item)
    return None


def _explain_unknown_keys(error: Any, path: Path) -> Iterator[tuple[Path, str]]:
    import difflib

    schema, instance = error.schema, error.instance
    known = schema.get("properties", {})
    patterns = [p for p in schema.get("patternProperties", {}) if p != "^x-"]
    for key in instance:
        if key in known or any(re.search(p, key) for p in schema.get("patternProperties", {})):
            continue
        if patterns and not known:
            yield path + (key,), f"invalid name {key!r}: must match {patterns[0]}"
            continue
        hint = difflib.get_close_matches(key, list(known), n=1)
        suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
        yield path + (key,), f"unknown key {key!r}{suffix}"


def _explain_alternatives(error: Any, path: Path) -> Iterator[tuple[Path, str]]:
    """A oneOf/anyOf failed: name the accepted types, or explain the branch that came closest."""
    branches: dict[int, list[Any]] = {}
    for sub in error.context or ():
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    if not branches:  # oneOf matched more than one branch
        yield path, "is ambiguous: it matches more than one accepted form"
        return
    wrong_type = {i for i, subs in branches.items() if _rejects_type(subs, path)}
    if len(wrong_type) == len(branches):
        yield path, "must be " + _types_phrase(_accepted_types(error.validator_value))
        return
    closest = max((i for i in branches if i not in wrong_type),
                  key=lambda i: max(_depth(sub) for sub in branches[i]))
    for sub in branches[closest]:
        yield from _explain(sub)


def _rejects_type(errors: list[Any], path: Path) -> bool:
    """True when a branch fails only because the value at ``path`` has the wrong type."""
    return any(tuple(e.absolute_path) == path and e.validator in ("type", "const", "enum") for e in errors)


def _depth(error: Any) -> int:
    deepest = len(error.absolute_path)
    for sub in error.context or ():
        deepest = max(deepest, _depth(sub))
    return deepest + (1 if error.validator == "additionalProperties" else 0)


def _accepted_types(branches: list[dict[str, Any]]) -> list[str]:
    resolver = _compiled()[1]
    out: list[str] = []
    for branch in branches:
        if "$ref" in branch:
            branch = resolver.lookup(branch["$ref"]).contents
        if "oneOf" in branch:
            out.extend(_accepted_types(branch["oneOf"]))
        elif "type" in branch:
            out.extend([branch["type"]] if isinstance(branch["type"], str) else branch["type"])
        elif "const" in branch:
            out.append(repr(branch["const"]))
    return out


# --------------------------------------------------------------------------------------------------
# Helpers


def _non_string_keys(value: Any, path: Path) -> Iterator[tuple[Path, str]]:
    """jsonschema cannot match patterns against non-string keys: report them first."""
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                yield path, f"non-string key: {key!r}"
            else:
                yield from _non_string_keys(item, path + (key,))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _non_string_keys(item, path + (index,))


def _sort_key(path: Path) -> tuple[tuple[int, Any], ...]:
    return tuple((1, part) if isinstance(part, int) else (0, part) for part in path)


def _line(lines: Mapping[Path, int] | None, path: Path) -> int | None:
    if not lines:
        return None
    for end in range(len(path), -1, -1):
        line = lines.get(path[:end])
        if line is not None:
            return line
    return None
