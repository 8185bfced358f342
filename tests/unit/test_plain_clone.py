"""A clone of the project alone (no ../shared) passes its tests: the shared-corpus cases skip in one
summary line that says where the corpus would be read from; under CI=true they fail instead of skipping."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

from tests.support import env

# two files that read the shared corpus: one parametrized at collection time, one through the fixture
FILES = ["tests/unit/model/test_model.py", "tests/unit/composefile/test_merge.py"]


def _pytest(tmp_path: pathlib.Path, **extra: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if k not in {"CI", "STACKCTL_SHARED"}}
    environ.update(STACKCTL_SHARED=str(tmp_path / "no-corpus"), **extra)
    return subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *FILES],
                          cwd=env.REPO, env=environ, capture_output=True, text=True, timeout=120, check=False)


def test_without_the_corpus_its_cases_skip_in_one_line(tmp_path: pathlib.Path) -> None:
    out = _pytest(tmp_path)
    assert out.returncode == 0, out.stdout[-2000:]
    skipped = [line for line in out.stdout.splitlines() if line.startswith("SKIPPED")]
    assert len(skipped) == 1, skipped
    assert f"{tmp_path / 'no-corpus'}/conformance" in skipped[0] and "STACKCTL_SHARED=" in skipped[0]


def test_under_ci_a_missing_corpus_fails(tmp_path: pathlib.Path) -> None:
    out = _pytest(tmp_path, CI="true")
    assert out.returncode == 1 and "SKIPPED" not in out.stdout
    assert "required in CI: shared corpus cases" in out.stdout
