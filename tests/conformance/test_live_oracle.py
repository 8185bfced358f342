"""Differential test over our own edge-case corpus (tests/fixtures/compose/<case>/), run LIVE: the
oracle binary (docker compose v2.40.3) once per case variant, stackctl in-process, same input."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from tests.conformance import _harness
from tests.conformance.known_differences import KNOWN_DIFFERENCES, OTHER_WORDING

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures" / "compose"
DEFAULT_ARGV = ["config", "--format", "json"]


def variants() -> list[Any]:
    """One param per (fixture, variant) of every ``case.json``."""
    params = []
    for meta in sorted(FIXTURES.glob("*/case.json")):
        spec = json.loads(meta.read_text())
        for name, variant in spec["variants"].items():
            params.append(pytest.param(meta.parent, variant, id=f"{meta.parent.name}:{name}"))
    return params


def run_both(oracle: pathlib.Path, case: pathlib.Path,
             variant: dict[str, Any]) -> tuple[_harness.Outcome, _harness.Outcome]:
    argv = list(variant.get("args", DEFAULT_ARGV))
    environ = {**_harness.BASE_ENV, **{k: v.replace("@FIXTURES@", str(FIXTURES))
                                        for k, v in variant.get("env", {}).items()}}
    cwd = case / variant.get("cwd", ".")
    stdin = (case / variant["stdin"]).read_text() if "stdin" in variant else None
    theirs = _harness.run_oracle(oracle, argv, cwd=cwd, env=environ, stdin=stdin)
    ours = _harness.run_ours(argv, cwd=cwd, env=environ, stdin=stdin)
    return ours, theirs


@pytest.mark.parametrize(("case", "variant"), variants())
def test_config_matches_live_oracle(case: pathlib.Path, variant: dict[str, Any], oracle: pathlib.Path,
                                    request: pytest.FixtureRequest) -> None:
    ours, theirs = run_both(oracle, case, variant)
    if not ours.ok:
        _harness.check_error_lines(ours)
    case_id = f"live:{request.node.callspec.id}"
    assert set(ours.warnings) == _harness.oracle_warnings("\n".join(theirs.warnings + theirs.errors)), \
        "warnings differ"
    equal = _harness.same(ours, theirs)
    if case_id in KNOWN_DIFFERENCES:
        assert not equal, f"{case_id} now matches the oracle: remove it from KNOWN_DIFFERENCES"
        pytest.xfail(KNOWN_DIFFERENCES[case_id])
    assert equal, _harness.describe(ours, theirs)
    if not ours.ok:
        same = _harness.same_reason(ours.errors, "\n".join(theirs.errors))
        if case_id in OTHER_WORDING:
            assert not same, f"{case_id} now gives the oracle's reason: remove it from OTHER_WORDING"
        else:
            assert same, f"rejected for another reason\nours: {ours.errors}\ntheirs: {theirs.errors}"
