from __future__ import annotations

import inspect
import pathlib
import subprocess
import sys
from collections.abc import Generator

import pytest

from tests.support import env


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, pytest.TestReport,
                                                                                           pytest.TestReport]:
    """Every shared-corpus skip is reported at one place, so `-ra` folds them into ONE summary line
    (where the corpus would be read from, how to point at it) instead of one line per test."""
    report = yield
    longrepr = report.longrepr
    if report.skipped and isinstance(longrepr, tuple) and env.shared_missing_reason() in str(longrepr[2]):
        where = pathlib.Path(inspect.getsourcefile(env.shared_location) or env.__file__).relative_to(env.REPO)
        report.longrepr = (str(where), inspect.getsourcelines(env.shared_location)[1], longrepr[2])
    return report


@pytest.fixture(scope="session")
def shared() -> pathlib.Path:
    return env.shared_dir()


@pytest.fixture(scope="session")
def oracle() -> pathlib.Path:
    return env.oracle_binary()


@pytest.fixture(scope="session")
def engine() -> None:
    """A Docker engine answering on the default socket (scripts/start-dockerd.sh starts one)."""
    if not env.engine_answers():
        env.missing("no Docker engine answers (run scripts/start-dockerd.sh)")


@pytest.fixture(scope="session")
def busybox_image(engine: None) -> str:
    return env.ensure_busybox_image()


def run_cli(*args: str, cwd: pathlib.Path | str | None = None, env_vars: dict[str, str] | None = None,
            input: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the real `stackctl` command as a user would (a new process)."""
    return subprocess.run([sys.executable, "-m", "stackctl", *args], check=False, cwd=cwd, env=env_vars, input=input,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def cli():
    return run_cli
