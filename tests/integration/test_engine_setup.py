"""The test setup itself: a real engine answers and a registry-free image runs on it."""

from __future__ import annotations

import subprocess


def test_busybox_image_runs_without_a_registry(busybox_image: str) -> None:
    out = subprocess.run(["docker", "run", "--rm", "--network", "none", busybox_image, "cat", "/www/index.html"], check=False,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "hello from stackctl"
