"""One deployed compose project driven through the CLI, as a user types it (shared by engine tests)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

from tests.integration.compose.conftest import by_name

REPO = pathlib.Path(__file__).resolve().parents[3]


class Stack:
    """`stackctl compose -p NAME …` run in ``directory`` with its own state dir; never a traceback."""

    def __init__(self, directory: pathlib.Path, name: str) -> None:
        self.dir, self.name = directory, name
        self.env = {**os.environ, "XDG_STATE_HOME": str(directory / "state"), "PYTHONPATH": str(REPO)}
        self.env.pop("DOCKER_HOST", None)

    def argv(self, *args: str, files: tuple[str, ...] = ()) -> list[str]:
        flags = [x for f in ("compose.yaml", *files) for x in ("-f", f)] if files else []
        return [sys.executable, "-m", "stackctl", "compose", *flags, "-p", self.name, *args]

    def run(self, *args: str, files: tuple[str, ...] = (), env: dict[str, str] | None = None, answer: str = "",
            prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
        out = subprocess.run([*prefix, *self.argv(*args, files=files)], check=False, cwd=self.dir,
                             env={**self.env, **(env or {})}, capture_output=True, text=True, timeout=120,
                             input=answer)
        assert "Traceback" not in out.stderr, out.stderr
        return out

    def ok(self, *args: str, env: dict[str, str] | None = None) -> str:
        out = self.run(*args, env=env)
        assert out.returncode == 0, out.stderr
        return out.stdout

    def ids(self) -> dict[str, str]:
        return {n: c["Id"] for n, c in by_name(self.name).items()}

    def c(self, service: str, number: int = 1) -> dict:
        return by_name(self.name)[f"{self.name}-{service}-{number}"]
