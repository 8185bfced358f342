"""The deliberate limits listed in known_differences.HOSTILE_LIMITS are each held by a hostile test."""

from __future__ import annotations

from tests.conformance.known_differences import HOSTILE_LIMITS
from tests.hostile import test_compose, test_properties


def test_every_listed_limit_names_a_hostile_test() -> None:
    names = set(dir(test_compose)) | set(dir(test_properties))
    assert sorted(set(HOSTILE_LIMITS) - names) == []
