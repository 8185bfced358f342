"""`mypy --strict` over stackctl/ (configured in pyproject.toml's [tool.mypy]) is part of `make test`."""

from __future__ import annotations

import subprocess
import sys

from tests.support import env


def test_the_package_passes_mypy_strict() -> None:
    out = subprocess.run([sys.executable, "-m", "mypy", "--no-error-summary"], cwd=env.REPO, check=False,
                         capture_output=True, text=True, timeout=600)
    errors = [line for line in out.stdout.splitlines() if ": error: " in line]
    assert out.returncode == 0 and not errors, (
        f"mypy --strict: {len(errors)} errors in {len({e.split(':')[0] for e in errors})} files\n"
        + "\n".join(errors or [out.stdout, out.stderr]))
