"""Pattern tables of the tree walkers (canonical syntax, merge rules, paths): the trie lookups answer as
the plain definitions (`first_match`, a longer pattern whose prefix matches) do, on the real tables."""

from __future__ import annotations

import random

import pytest

from stackctl.composefile import canonical, merge, paths
from stackctl.composefile._tree import Patterns, first_match, matches, pattern

TABLES = {"canonical": canonical._PATTERNS, "merge specials": merge._SPECIAL_PATTERNS,
          "merge unique": merge._UNIQUE_PATTERNS, "paths": paths._PATTERNS}


@pytest.mark.parametrize("name", sorted(TABLES))
def test_lookups_agree_with_the_definitions(name: str) -> None:
    table = TABLES[name]
    parts = sorted({part for pat in table.patterns for part in pat}) + ["web", "[]", "*", "other"]
    rng = random.Random(7)
    for _ in range(5000):
        if rng.random() < 0.5:
            base = rng.choice(table.patterns)
            path = tuple(rng.choice(["web", "*", "[]"]) if p == "*" else p for p in base)[:rng.randint(0, len(base))]
        else:
            path = tuple(rng.choice(parts) for _ in range(rng.randint(0, 6)))
        assert table.match(path) == first_match(path, table.patterns), path
        longer = any(len(p) > len(path) and matches(path, p[:len(path)]) for p in table.patterns)
        assert table.below(path) == longer, path


def test_the_first_pattern_given_wins() -> None:
    table = Patterns([pattern("services.*.ports"), pattern("services.web.*"), pattern("services.web")])
    assert table.match(("services", "web", "ports")) == ("services", "*", "ports")
    assert table.match(("services", "web", "image")) == ("services", "web", "*")
    assert table.match(("services", "db", "image")) is None
    assert table.below(("services", "web")) and table.below(("services",))
    assert not table.below(("services", "db", "ports"))
