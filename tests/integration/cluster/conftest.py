"""Real etcd for the cluster's integration tests: `etcd1` (one member for the module, each test under its
own key prefix) and `etcd3` (three members, fresh for each test, which may stop some)."""

from __future__ import annotations

import pathlib
import uuid
from collections.abc import Iterator

import pytest

from tests.support.etcd import EtcdCluster


@pytest.fixture(scope="module")
def etcd1(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EtcdCluster]:
    with EtcdCluster(tmp_path_factory.mktemp("etcd1"), size=1) as cluster:
        yield cluster


@pytest.fixture
def etcd3(tmp_path: pathlib.Path) -> Iterator[EtcdCluster]:
    with EtcdCluster(tmp_path / "etcd3", size=3) as cluster:
        yield cluster


@pytest.fixture
def prefix() -> str:
    """A key prefix of this test alone (tests share the module's etcd)."""
    return f"/t/{uuid.uuid4().hex[:8]}/"
