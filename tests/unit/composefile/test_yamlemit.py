"""The fast YAML writer of `config` prints exactly what PyYAML's emitter prints with serialize's dumper.

Differential: seeded random documents full of strings YAML treats specially (booleans of YAML 1.1, numbers,
timestamps, indicators, quotes, line breaks, unicode, leading/trailing spaces) go through both writers.
"""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from stackctl.composefile._yamlemit import emit
from stackctl.composefile.serialize import _go_yaml, _GoYamlDumper, _pyyaml, needs_double_quotes, to_yaml

CHARS = list("abXY019 _-.:/#'\"!&*?|>%@`,[]{}~=<+$\\\t\r\n") + ["\xa0", "é", "\ufeff", "\U0001F600", "\x00",
                                                                    "\x1b", "\x85", "\u2028"]
WORDS = ["yes", "no", "on", "Off", "null", "~", "", "true", "1", "0x1F", "1_000", "1.2_3", "22:22", "190:20:30",
         "2001-12-14", ".inf", "-.inf", ".nan", "---", "...", "- a", "a: b", "a:", "a #b", "a#b", "1e3", "=", "<<",
         "!", "&", "*", "0o7", "+1", "-", ":", "?", "y" * 122, "z" * 123, "\n", "a\n", "a\n\n", " a\nb", "a \nb",
         "a\n b", "\na", "a\n\n\nb\n", "it's", 'say "hi"', "sleep 3600", "stackctl/busybox:latest", "a\x85b"]


def _fast(doc: Any) -> str | None:
    return emit(doc, quote=needs_double_quotes, resolvers=_GoYamlDumper.yaml_implicit_resolvers)


def _text(rng: random.Random) -> str:
    if rng.random() < 0.4:
        return rng.choice(WORDS)
    return "".join(rng.choice(CHARS) for _ in range(rng.randint(0, 8)))


def _key(rng: random.Random) -> str:
    key = _text(rng)
    return key if key and "\n" not in key and len(key) < 120 and rng.random() < 0.9 else f"k{rng.randint(0, 99)}"


def _scalar(rng: random.Random) -> Any:
    pick = rng.random()
    if pick < 0.6:
        return _text(rng)
    if pick < 0.7:
        return rng.randint(-10**20, 10**20) if rng.random() < 0.2 else rng.randint(-100, 100000)
    if pick < 0.8:
        return rng.choice([1.5, 1e17, 1e-5, -0.0, 123456789.125, 1e16, 3.0, math.inf, -math.inf, math.nan])
    return rng.choice([True, False, None])


def _node(rng: random.Random, depth: int) -> Any:
    pick = rng.random()
    if depth > 4 or pick < 0.5:
        return _scalar(rng)
    if pick < 0.75:
        return {_key(rng): _node(rng, depth + 1) for _ in range(rng.randint(0, 4))}
    return [_node(rng, depth + 1) for _ in range(rng.randint(0, 4))]


@pytest.mark.parametrize("block", range(4))
def test_random_documents_print_as_pyyaml_prints_them(block: int) -> None:
    written = 0
    for seed in range(block * 500, (block + 1) * 500):
        rng = random.Random(seed)
        doc = {_key(rng): _node(rng, 0) for _ in range(rng.randint(0, 5))}
        fast = _fast(doc)
        if fast is not None:
            written += 1
            assert fast == _pyyaml(doc), f"seed {seed}: {doc!r}"
    assert written > 250  # most of them (it leaves to PyYAML U+0085 and U+2028 outside blocks, aliases, odd keys)


@pytest.mark.parametrize("doc", [
    {"a": ["x", ["y", "z"], {"k": "v", "l": ["m"]}, [], {}], "b": {}},
    {"keep": "two trailing breaks\n\n"},  # a `|+` block last in the document ends it with `...`
    {"keep": "two trailing breaks\n\n", "then": 1},
    {"s": [" leading space\nsecond line", "trailing space \nx", "\u2028in a block\n"]},
    {"'quoted'": 1, "#x": 2, "N": 3, "on": 4, "a b": 5, "é": 6},
    {"": 1, "a": {"": ""}},  # an empty key is a simple `"":` key (go-yaml), in both writers
])
def test_tricky_shapes_print_as_pyyaml_prints_them(doc: dict[str, Any]) -> None:
    assert _fast(doc) == _pyyaml(doc)


@pytest.mark.parametrize("doc", [
    {"a": (shared := ["x"]), "b": shared},  # an alias: PyYAML writes &id001 / *id001
    {"k" * 123: 1},  # a complex `? ` key
    {1: "int key"},
    {"a": "next\x85line"},  # PyYAML folds it over two lines
    {"a": ("tuple",)},
])
def test_what_the_fast_writer_leaves_to_pyyaml_still_prints(doc: dict[str, Any]) -> None:
    assert _fast(doc) is None
    assert _go_yaml(doc) == _pyyaml(doc)


def test_config_text_of_a_service() -> None:
    doc = {"services": {"web": {"command": ["sh", "-c", "echo $HOME\nexit 0\n"], "image": "busybox",
                                "ports": [{"mode": "ingress", "published": "8080", "target": 80}],
                                "restart": "no"}}}
    assert to_yaml(doc) == (
        "services:\n  web:\n    command:\n      - sh\n      - -c\n      - |\n        echo $$HOME\n        exit 0\n"
        "    image: busybox\n    ports:\n      - mode: ingress\n        published: \"8080\"\n        target: 80\n"
        "    restart: \"no\"\n")
