"""The lab finds a node's cgroups deepest first, and a cgroup that vanishes mid-walk is no error."""

from __future__ import annotations

import os
import pathlib
from typing import Any

import pytest

from stackctl.lab import system


def test_cgroup_dirs_deepest_first(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system, "CGROUP_ROOT", tmp_path)
    (tmp_path / "cpu" / "stackctl-x-node1" / "a" / "b").mkdir(parents=True)
    (tmp_path / "cpu" / "other").mkdir()
    found = [p.relative_to(tmp_path).as_posix() for p in system.cgroup_dirs("stackctl-x-")]
    assert found == ["cpu/stackctl-x-node1/a/b", "cpu/stackctl-x-node1/a", "cpu/stackctl-x-node1"]


def test_cgroup_removed_while_walking(tmp_path: pathlib.Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(system, "CGROUP_ROOT", tmp_path)
    top = tmp_path / "devices" / "stackctl-x-node1"
    (top / "gone").mkdir(parents=True)
    real_scandir = os.scandir

    def racing_scandir(path: str) -> Any:  # the container's cgroup is removed as we reach it
        if str(path).endswith("gone"):
            (top / "gone").rmdir()
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", racing_scandir)
    found = [p.name for p in system.cgroup_dirs("stackctl-x-")]
    assert found[-1] == "stackctl-x-node1"
