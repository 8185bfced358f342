"""A fast yes/no check of a document against our compose schema, with jsonschema's exact verdict.

:mod:`stackctl.composefile.validate` reports problems through ``jsonschema`` (Draft 2020-12), which costs about
0.3 ms per service and 50 ms of imports. Most documents are valid, and for those no message is needed:
:func:`compile_check` turns the schema into Python closures that answer "valid" or "not valid" the way
``Draft202012Validator(schema).iter_errors(doc)`` yielding nothing or something would, and
``validate_schema`` asks jsonschema for the messages only when the answer is "not valid".

Exactness, keyword by keyword, as jsonschema 4 implements Draft 2020-12 without a format checker: types
(``integer`` takes 1.0, booleans are neither integers nor numbers), ``enum``/``const`` compare as its
``equal`` does (``True`` is not ``1``, ``1`` is ``1.0``), ``uniqueItems`` as its ``uniq`` does,
``properties``, ``patternProperties`` (``re.search``), ``additionalProperties`` (its extras: keys neither in
``properties`` nor found by the ``|``-joined patterns), ``required``, ``items`` (no ``prefixItems``),
``oneOf`` (exactly one branch), ``minimum``/``maximum``, ``pattern`` and local ``$ref``s next to other
keywords. A schema using any other keyword is not compiled (:class:`Unsupported`), and a value the check
cannot judge exactly (a type YAML does not produce, ``uniqueItems`` over lists of lists or NaNs) raises
:class:`Undecided`: the caller then asks jsonschema.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

Check = Callable[[Any], bool]

# keywords that never fail a document (no format checker: ``format`` is an annotation too, but unused here)
_ANNOTATIONS = {"$schema", "$id", "$comment", "$defs", "title", "description", "deprecated", "default", "examples"}
_OBJECT_KEYWORDS = {"properties", "patternProperties", "additionalProperties"}
_PLAIN = (dict, list, str, int, float, bool, type(None))
_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "null": lambda v: v is None,
    "boolean": lambda v: isinstance(v, bool),
    "integer": lambda v: (isinstance(v, int) and not isinstance(v, bool))
    or (isinstance(v, float) and v.is_integer()),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
}


class Unsupported(Exception):
    """The schema uses something :func:`compile_check` does not compile."""


class Undecided(Exception):
    """The check cannot give jsonschema's verdict on this value: ask jsonschema."""


def compile_check(schema: Mapping[str, Any]) -> Check:
    """A function telling whether a document is valid against ``schema`` (raises :class:`Undecided`)."""
    return _Compiler(schema).compile(schema)


class _Compiler:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise Unsupported(f"schema {schema!r}")
        checks = [self._object(schema)] if _OBJECT_KEYWORDS.intersection(schema) else []
        for name, value in schema.items():
            if name not in _ANNOTATIONS and name not in _OBJECT_KEYWORDS:
                check = self._keyword(name, value, schema)
                if check is not None:
                    checks.append(check)
        if not checks:
            return _always
        return checks[0] if len(checks) == 1 else _all_of(checks)

    def _keyword(self, name: str, value: Any, schema: dict[str, Any]) -> Check | None:
        if name == "type":
            return _type_check([value] if isinstance(value, str) else list(value))
        if name == "$ref":
            return self._ref(value)
        if name == "items":
            return self._items(value, schema)
        if name == "required":
            keys = list(value)
            return lambda v: not isinstance(v, dict) or all(k in v for k in keys)
        if name == "oneOf":
            return _one_of([self.compile(branch) for branch in value])
        if name in ("enum", "const"):
            allowed = list(value) if name == "enum" else [value]
            return lambda v: any(_equal(choice, v) for choice in allowed)
        if name == "uniqueItems":
            return (lambda v: not isinstance(v, list) or _unique(v)) if value else None
        if name in ("minimum", "maximum"):
            return _bound(name, value)
        if name == "pattern":
            rx = re.compile(value)
            return lambda v: not isinstance(v, str) or rx.search(v) is not None
        raise Unsupported(f"keyword {name!r}")

    def _ref(self, ref: str) -> Check:
        if not ref.startswith("#/"):
            raise Unsupported(f"$ref {ref!r}")
        if ref not in self.refs:
            holder: list[Check] = []
            self.refs[ref] = lambda v: holder[0](v)  # what a recursive schema gets while it is compiled
            target: Any = self.root
            for part in ref[2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            holder.append(self.compile(target))
            self.refs[ref] = holder[0]
        return self.refs[ref]

    def _items(self, items: Any, schema: dict[str, Any]) -> Check:
        if "prefixItems" in schema:
            raise Unsupported("prefixItems")
        check = self.compile(items)
        return lambda v: not isinstance(v, list) or all(check(item) for item in v)

    def _object(self, schema: dict[str, Any]) -> Check:
        """``properties``, ``patternProperties`` and ``additionalProperties`` of one schema, in one pass."""
        properties = {key: self.compile(sub) for key, sub in schema.get("properties", {}).items()}
        patterns = [(re.compile(p), self.compile(sub)) for p, sub in schema.get("patternProperties", {}).items()]
        joined = "|".join(schema.get("patternProperties", {}))
        extra_rx = re.compile(joined) if joined else None
        additional = schema.get("additionalProperties", True)
        extra = None if additional is True else self.compile(additional)
        plans: dict[str, list[Check]] = {}

        def plan(key: str) -> list[Check]:
            checks = [sub for rx, sub in patterns if rx.search(key)]
            if key in properties:
                checks.insert(0, properties[key])
            elif extra is not None and not (extra_rx is not None and extra_rx.search(key)):
                checks.append(extra)
            if len(plans) < 4096:
                plans[key] = checks
            return checks

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            for key, item in value.items():
                if type(key) is not str:
                    raise Undecided
                checks = plans.get(key)
                if checks is None:
                    checks = plan(key)
                for sub in checks:
                    if not sub(item):
                        return False
            return True

        return check


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


def _all_of(checks: list[Check]) -> Check:
    def check(value: Any) -> bool:
        for sub in checks:
            if not sub(value):
                return False
        return True

    return check


def _type_check(names: list[str]) -> Check:
    for name in names:
        if name not in _TYPES:
            raise Unsupported(f"type {name!r}")
    tests = [_TYPES[name] for name in names]
    if len(tests) == 1:
        test = tests[0]

        def single(value: Any) -> bool:
            if not isinstance(value, _PLAIN):
                raise Undecided
            return test(value)

        return single

    def check(value: Any) -> bool:
        if not isinstance(value, _PLAIN):
            raise Undecided
        return any(t(value) for t in tests)

    return check


def _one_of(branches: list[Check]) -> Check:
    def check(value: Any) -> bool:
        valid = 0
        for branch in branches:
            if branch(value):
                valid += 1
                if valid > 1:
                    return False
        return valid == 1

    return check


def _bound(name: str, limit: Any) -> Check:
    def check(value: Any) -> bool:
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            return True
        return not (value < limit) if name == "minimum" else not (value > limit)

    return check


def _unbool(value: Any) -> Any:
    return ("\0bool", value) if isinstance(value, bool) else value


def _equal(one: Any, two: Any) -> bool:
    """jsonschema's ``equal``: booleans apart from numbers, lists and mappings compared item by item."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two, strict=True))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return len(one) == len(two) and all(key in two and _equal(item, two[key]) for key, item in one.items())
    if not isinstance(one, _PLAIN) or not isinstance(two, _PLAIN):
        raise Undecided
    return bool(_unbool(one) == _unbool(two))


def _unique(items: list[Any]) -> bool:
    """jsonschema's ``uniq``: a sort then neighbours compared, or every pair when the items do not sort."""
    if len(items) < 2:
        return True
    kinds = {_kind(item) for item in items}
    if kinds == {"str"}:
        return len(set(items)) == len(items)
    if kinds == {"number"}:
        if any(isinstance(item, float) and math.isnan(item) for item in items):  # NaN: where it lands in the sort decides
            raise Undecided
        return len(set(items)) == len(items)
    if "other" in kinds or kinds == {"list"}:  # lists sort item by item: not mirrored
        raise Undecided
    # the items do not sort (a mapping, None or a boolean, or several kinds): every pair is compared
    seen: list[Any] = []
    for item in items:
        if any(_equal(earlier, item) for earlier in seen):
            return False
        seen.append(item)
    return True


def _kind(item: Any) -> str:
    if isinstance(item, str):
        return "str"
    if isinstance(item, bool):
        return "bool"
    if isinstance(item, (int, float)):
        return "number"
    if isinstance(item, list):
        return "list"
    if isinstance(item, dict):
        return "dict"
    if item is None:
        return "none"
    return "other"
