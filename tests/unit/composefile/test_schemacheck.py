"""The fast schema check gives jsonschema's verdict: a document it calls valid has no schema problem, and
one it calls invalid has at least one (then validate_schema reports jsonschema's messages, unchanged).

Differential: every document of the shared corpus, and seeded mutations of them that aim at the corners of
JSON Schema (1.0 as an integer, True vs 1 in enums and uniqueItems, NaN, unknown keys, wrong types, x-*
keys, mappings in unique lists), go through both; the check may only abstain (Undecided), never disagree.
"""

from __future__ import annotations

import contextlib
import copy
import math
import pathlib
import random
from typing import Any

import pytest

from stackctl.composefile import validate
from stackctl.composefile._schemacheck import Undecided, Unsupported, compile_check
from stackctl.errors import StackctlError
from tests.unit.composefile import _corpus

JUNK: list[Any] = [None, True, False, 0, 1, 1.0, 1.5, -1, 70000, 2**70, math.nan, math.inf, "", "x", "1", "yes",
                   "80:80", "${X}", "always", "service_healthy", "on-failure", "host", "rw", [], {}, ["a", "a"],
                   ["a", "b"], [1, 1.0], [True, 1], [1, "1"], [None, None], [{"a": 1}, {"a": 1}],
                   [{"a": True}, {"a": 1}], [[1], [1]], [math.nan, 1.0], {"x-extra": 1}, {"unknown": 1},
                   {"target": 80}, {"target": 80.0, "published": "8080"}, {"condition": "service_started"},
                   {"soft": 1, "hard": 2}, {"source": "s"}, {"type": "bind", "source": "/a", "target": "/b"}]


def _documents(shared: pathlib.Path) -> list[Any]:
    docs: list[Any] = []
    for case in _corpus.manifest(shared):
        for name in case["files"]:
            path = shared / "conformance" / name
            with contextlib.suppress(StackctlError, OSError):  # invalid YAML: no document to check
                docs += [d for d in _corpus.raw_documents(path) if isinstance(d, dict)]
    return docs


def _mutate(doc: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    out = copy.deepcopy(doc)
    for _ in range(rng.randint(1, 3)):
        path = rng.choice(_corpus.key_paths(out))
        if not path:
            continue
        parent = out
        for part in path[:-1]:
            parent = parent[part]
        action = rng.random()
        if action < 0.6:
            parent[path[-1]] = copy.deepcopy(rng.choice(JUNK))
        elif action < 0.75 and isinstance(parent, dict):
            del parent[path[-1]]
        elif isinstance(parent, dict):
            parent[rng.choice(["x-new", "extra", "image", "ports", "driver", "1bad name"])] = copy.deepcopy(
                rng.choice(JUNK))
        else:
            parent.append(copy.deepcopy(parent[path[-1]]))  # a duplicate item
    return out


def _verdicts(doc: Any) -> tuple[bool | None, bool]:
    check = validate._fast_check()
    assert check is not None, "the compose schema compiles"
    try:
        fast: bool | None = check(doc)
    except Undecided:
        fast = None
    return fast, not any(True for _ in validate._validator().iter_errors(doc))


def test_corpus_documents_and_their_mutations_get_jsonschemas_verdict(shared: pathlib.Path) -> None:
    docs = _documents(shared)
    assert len(docs) > 300
    rng = random.Random(20261127)
    judged = {True: 0, False: 0}
    for index, doc in enumerate(docs):
        for candidate in [doc] + [_mutate(doc, rng) for _ in range(3 if index % 2 else 2)]:
            if list(validate._non_string_keys(candidate, ())):
                continue  # validate_schema reports these itself, before any schema check
            fast, full = _verdicts(candidate)
            assert fast is None or fast == full, f"fast {fast}, jsonschema {full}: {candidate!r}"
            if fast is not None:
                judged[fast] += 1
    assert judged[True] > 300 and judged[False] > 300, judged


@pytest.mark.parametrize(("schema", "valid", "invalid"), [
    ({"type": "integer"}, [1, 1.0, -2**70], [True, 1.5, "1", None]),
    ({"type": "number"}, [1, 1.5, math.inf], [False, "1"]),
    ({"enum": [1, "a", None]}, [1, 1.0, "a", None], [True, "1", 2]),
    ({"const": False}, [False], [0, None]),
    ({"uniqueItems": True}, [[1, True], ["a", "b"], [{"a": 1}, {"a": True}], [None], "x"],
     [[1, 1.0], ["a", "a"], [{"a": 1}, {"a": 1}], [None, None], [False, False]]),
    ({"minimum": 0, "maximum": 10}, [0, 10, "-5", True], [-1, 10.5]),
    ({"pattern": "^a"}, ["ab", 5], ["ba"]),
    ({"properties": {"a": {"type": "string"}}, "patternProperties": {"^x-": {"type": "integer"}},
      "additionalProperties": False, "required": ["a"]},
     [{"a": "s"}, {"a": "s", "x-1": 2}, 7], [{}, {"a": 1}, {"a": "s", "b": 1}, {"a": "s", "x-1": "2"}]),
    ({"oneOf": [{"type": "string"}, {"type": "integer"}, {"type": "number"}]}, ["a"], [1, None]),
    ({"$ref": "#/$defs/t", "$defs": {"t": {"type": "array", "items": {"$ref": "#/$defs/t"}}}},
     [[], [[[]]]], [[1], [[], "x"]]),
])
def test_keywords_judge_as_jsonschema_does(schema: dict[str, Any], valid: list[Any], invalid: list[Any]) -> None:
    from jsonschema import Draft202012Validator

    check, full = compile_check(schema), Draft202012Validator(schema)
    for value in valid:
        assert check(value) and full.is_valid(value), value
    for value in invalid:
        assert not check(value) and not full.is_valid(value), value


def test_what_it_cannot_judge_is_left_to_jsonschema() -> None:
    with pytest.raises(Unsupported):
        compile_check({"minItems": 1})
    with pytest.raises(Undecided):
        compile_check({"uniqueItems": True})([[1], [1]])
    with pytest.raises(Undecided):
        compile_check({"type": "string"})(b"bytes")
