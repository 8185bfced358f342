"""`mypy --strict` over stackctl/ and ruff over the code (configured in pyproject.toml) are part of `make test`."""

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


def test_the_code_passes_ruff() -> None:
    """The lint rules of pyproject.toml's [tool.ruff], over the package, its tests and benchmarks."""
    out = subprocess.run([sys.executable, "-m", "ruff", "check", "--no-fix", "--quiet", "stackctl", "tests", "bench"],
                         cwd=env.REPO, check=False, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
