"""The generic applier: a bound plan is plain data, and each action runs on its own engine's driver."""

from __future__ import annotations

import asyncio
import dataclasses
import json
from typing import Any

import pytest

from stackctl.compose.project import from_document
from stackctl.drivers.fake import FakeDriver
from stackctl.engine.apply import HANDLERS, Applier
from stackctl.engine.bind import bind
from stackctl.errors import PlanError
from stackctl.execute import execute
from stackctl.plan.actions import KINDS, LOCAL, Action, Reason
from stackctl.plan.diff import UpOptions, plan_up
from tests.unit.plan._docs import BUSYBOX, doc, service

IMAGE_ID = "sha256:" + "1" * 64


def _bound(engine: str) -> Any:
    document = doc({"web": service(ports=[{"target": 80, "published": "8080", "protocol": "tcp",
                                            "mode": "ingress"}])})
    plan = plan_up(document, FakeDriver().observe("p"), project="p", image_ids={}, options=UpOptions())
    return bind(plan, from_document(document), image_ids={"web": IMAGE_ID}, engine=engine)


def test_every_kind_has_a_handler() -> None:
    assert set(HANDLERS) == set(KINDS)


def test_a_bound_plan_carries_full_specs_and_is_plain_data() -> None:
    plan = _bound("node-2")
    create = plan.by_id()["create_container:p-web-1"]
    assert create.engine == "node-2"
    assert create.spec is not None and create.spec.config["Image"] == BUSYBOX
    assert plan.by_id()["start_container:p-web-1"].params["ports"] is True
    assert plan.by_id()["create_network:p_default"].params["body"]
    json.dumps([dataclasses.asdict(a) for a in plan.actions])  # could be sent to another node


def test_actions_go_to_the_driver_of_their_engine() -> None:
    here, there = FakeDriver(images={BUSYBOX: IMAGE_ID}), FakeDriver(images={BUSYBOX: IMAGE_ID})
    plan = _bound("node-2")
    outcome = asyncio.run(execute(plan.actions, Applier({LOCAL: here, "node-2": there}).run))
    assert outcome.ok, outcome.failed
    assert [c.name for c in there.observe("p").containers] == ["p-web-1"]
    assert here.observe("p").containers == ()


def test_an_unbound_container_action_or_unknown_engine_is_refused() -> None:
    applier = Applier({LOCAL: FakeDriver()})
    with pytest.raises(PlanError, match="carries no container spec"):
        asyncio.run(applier.run(Action("create_container", "p-web-1", Reason("missing"), "web", 1)))
    with pytest.raises(PlanError, match='no driver for engine "elsewhere"'):
        asyncio.run(applier.run(Action("pull_image", "x", Reason("missing"), engine="elsewhere")))
