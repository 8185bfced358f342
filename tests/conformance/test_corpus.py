"""Differential test over the shared corpus: every MANIFEST case (and each stored retry variant) run
in-process through `stackctl compose config`, compared with what docker compose v2.40.3 printed."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from tests.conformance import _harness
from tests.conformance.known_differences import KNOWN_DIFFERENCES, OTHER_WORDING
from tests.support import env


def _corpus() -> pathlib.Path | None:
    shared = env.shared_or_none()
    return None if shared is None else shared / "conformance"


def _cases() -> list[Any]:
    corpus = _corpus()
    if corpus is None:
        return [pytest.param(None, id="corpus-missing")]
    manifest = json.loads((corpus / "expected" / "MANIFEST.json").read_text())
    params = []
    for case in manifest["cases"]:
        params.append(pytest.param((case, None), id=case["name"]))
        if case.get("output_no_path_resolution"):
            variant = {"variant": "no-path-resolution", "extra_args": ["--no-path-resolution"], "rc": 0,
                       "output": case["output_no_path_resolution"], "stderr": case.get("stderr", "")}
            params.append(pytest.param((case, variant), id=f"{case['name']}@no-path-resolution"))
        for retry in case.get("retries", []):
            params.append(pytest.param((case, retry), id=f"{case['name']}@{retry['variant']}"))
    return params


def _expected(corpus: pathlib.Path, case: dict[str, Any], retry: dict[str, Any] | None) -> _harness.Outcome:
    record = retry or case
    if record["rc"] != 0 or "output_omitted" in record:
        return _harness.Outcome(False, errors=(str(record.get("stderr", "")),))
    text = (corpus / record["output"]).read_text().replace("@CORPUS@", str(corpus))
    fmt = "yaml" if record["output"].endswith(".yaml") else "json"
    return _harness.Outcome(True, _harness.parse_output(text, fmt))


def _argv(corpus: pathlib.Path, case: dict[str, Any], retry: dict[str, Any] | None) -> list[str]:
    argv: list[str] = []
    for f in case["files"]:
        argv += ["-f", str(corpus / f)]
    extra = [a.replace("@CORPUS@", str(corpus)) for a in (retry or {}).get("extra_args", [])]
    if "--project-directory" in extra:
        i = extra.index("--project-directory")
        argv += extra[i:i + 2]
        del extra[i:i + 2]
    return [*argv, "config", "--format", "json", *extra]


@pytest.mark.parametrize("item", _cases())
def test_config_matches_oracle(item: Any, request: pytest.FixtureRequest) -> None:
    corpus = _corpus()
    if item is None or corpus is None:
        env.shared_dir()  # skips with the corpus' skip line (fails in CI)
        return
    case, retry = item
    case_id = request.node.callspec.id
    argv = _argv(corpus, case, retry)
    environ = {**_harness.BASE_ENV, **case["env"]}
    ours = _harness.run_ours(argv, cwd=corpus / case["cwd"], env=environ)
    theirs = _expected(corpus, case, retry)
    if not ours.ok:
        _harness.check_error_lines(ours)
    # a case whose (huge) output was not stored only says the oracle accepted it
    equal = ours.ok if "output_omitted" in case else _harness.same(ours, theirs)
    if case_id in KNOWN_DIFFERENCES:
        assert not equal, f"{case_id} now matches the oracle: remove it from KNOWN_DIFFERENCES"
        pytest.xfail(KNOWN_DIFFERENCES[case_id])
    assert equal, _harness.describe(ours, theirs)
    if ours.ok:
        stderr = str((retry or case).get("stderr", "")).replace("@CORPUS@", str(corpus))
        assert set(ours.warnings) == _harness.oracle_warnings(stderr), "warnings differ"
    else:
        _check_reason(case_id, ours, theirs)


def _check_reason(case_id: str, ours: _harness.Outcome, theirs: _harness.Outcome) -> None:
    """Both rejected: for the same reason, unless the case is listed as worded otherwise."""
    same = _harness.same_reason(ours.errors, theirs.errors[0])
    if case_id in OTHER_WORDING:
        assert not same, f"{case_id} now gives the oracle's reason: remove it from OTHER_WORDING"
        return
    assert same, f"rejected for another reason\nours: {ours.errors}\ntheirs: {theirs.errors[0]}"
