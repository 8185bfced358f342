"""Hostile input, run as a user would run it: the CLI in a subprocess under a memory limit and a timeout.

Every failing case must exit 1 with one ``stackctl:`` line per problem on stderr, no traceback and no raw
control character (a terminal escape) anywhere in stderr.
"""

from __future__ import annotations

import os
import re
import resource
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

MEMORY_LIMIT = 1536 * 1024 * 1024  # address space: the interpreter with its libraries needs ~400 MiB
TIMEOUT = 20.0
ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def lines(self) -> list[str]:
        return self.err.splitlines()


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))


def run(*args: str, cwd: Path, stdin: int | str | None = subprocess.DEVNULL,
        env: dict[str, str] | None = None, timeout: float = TIMEOUT) -> Result:
    """``stackctl ARGS`` in ``cwd`` with the memory limit; a timeout fails the test (a hang)."""
    environ = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    environ.update(env or {})
    environ["PYTHONPATH"] = str(ROOT)
    source = open(stdin, "rb") if isinstance(stdin, str) else stdin  # noqa: SIM115 - closed below
    try:
        proc = subprocess.run([sys.executable, "-m", "stackctl", *args], cwd=cwd, stdin=source,
                              capture_output=True, timeout=timeout, env=environ, preexec_fn=_limit_memory,
                              check=False)
    finally:
        if isinstance(stdin, str):
            source.close()
    return Result(proc.returncode, proc.stdout.decode("utf-8", "replace"), proc.stderr.decode("utf-8", "replace"))


def assert_refused(result: Result, *needles: str, lines: int = 1) -> None:
    """Exit 1, ``lines`` lines on stderr (each a ``stackctl:`` message), no traceback, each needle said."""
    __tracebackhide__ = True
    assert result.code == 1, f"exit {result.code}, stderr: {result.err[-2000:]}"
    assert "Traceback" not in result.err, result.err[-2000:]
    assert not re.search(r"^[A-Za-z.]*(Error|Exception)\b", result.err, re.MULTILINE), result.err[-2000:]
    assert len(result.lines) == lines, result.err[-2000:]
    assert all(line.startswith("stackctl") for line in result.lines), result.err[-2000:]
    assert_no_control(result.err)
    for needle in needles:
        assert needle in result.err, f"{needle!r} not in {result.err[-2000:]!r}"


def assert_no_control(text: str) -> None:
    __tracebackhide__ = True
    bad = sorted({ch for ch in text if (ord(ch) < 32 and ch != "\n") or 0x7f <= ord(ch) <= 0x9f})
    assert not bad, f"raw control characters {bad!r} in {text[-500:]!r}"


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "fifo"
    os.mkfifo(path)
    return path
