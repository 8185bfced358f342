"""Container names and labels of cluster tasks."""

from __future__ import annotations

from stackctl import labels as L
from stackctl.cluster.naming import (
    TaskRef,
    container_labels,
    container_name,
    network_name,
    task_of,
    volume_name,
)
from stackctl.cluster.state import TaskRecord


def _task(slot: int = 2, node: str | None = "n1") -> TaskRecord:
    return TaskRecord(id="0a1b2c3d4e5f", stack="shop", service="web", slot=slot, node=node, spec_hash="abc",
                      leader_rev=41)


def test_names_are_deterministic_per_task() -> None:
    assert container_name(_task()) == "shop_web.2.0a1b2c3d4e5f"
    assert container_name(_task(slot=0, node="node3")) == "shop_web.node3.0a1b2c3d4e5f"
    assert network_name("shop", "default") == "shop_default" and volume_name("shop", "data") == "shop_data"


def test_labels_carry_the_task_and_round_trip() -> None:
    base = {L.PROJECT: "shop", L.SERVICE: "web", L.CONFIG_HASH: "x", "team": "a", L.MANAGED_BY: "stackctl"}
    out = container_labels(base, _task(), leader_rev=42)
    assert out == {"team": "a", L.MANAGED_BY: "stackctl", "io.stackctl.stack": "shop",
                   "io.stackctl.service": "web", "io.stackctl.slot": "2", "io.stackctl.task": "0a1b2c3d4e5f",
                   "io.stackctl.leader-rev": "42", "io.stackctl.spec-hash": "abc",
                   "com.docker.stack.namespace": "shop"}
    assert task_of(out) == TaskRef(stack="shop", service="web", slot=2, task="0a1b2c3d4e5f", leader_rev=42,
                                   spec_hash="abc")


def test_a_container_without_task_labels_is_not_a_task() -> None:
    assert task_of({L.PROJECT: "shop"}) is None
    assert task_of({**container_labels({}, _task()), "io.stackctl.slot": "two"}) is None
