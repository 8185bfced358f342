"""Applying plans on the in-memory driver: recreate safety, conditions, skipped dependents."""

from __future__ import annotations

import asyncio

import pytest

from stackctl.compose.project import from_document
from stackctl.drivers.fake import FakeDriver
from stackctl.engine.apply import Applier, condition_state
from stackctl.engine.bind import bind
from stackctl.errors import ExecutionError
from stackctl.execute import execute, raise_for
from stackctl.plan.actions import LOCAL
from stackctl.plan.diff import UpOptions, plan_up
from stackctl.plan.observed import ObservedContainer
from tests.unit.plan._docs import BUSYBOX, doc, service, web_db

IMAGE_ID = "sha256:" + "2" * 64


def up(document, driver, **options):
    plan = plan_up(document, driver.observe(document["name"]), project=document["name"],
                   image_ids={s: IMAGE_ID for s in document["services"]}, options=UpOptions(**options))
    applier = Applier({LOCAL: driver}, wait_timeout=2)
    plan = bind(plan, from_document(document), image_ids={s: IMAGE_ID for s in document["services"]})
    outcome = asyncio.run(execute(plan.actions, applier.run))
    raise_for(outcome, plan.by_id())
    return plan


def test_recreate_that_cannot_create_the_new_container_leaves_the_old_one_running() -> None:
    driver = FakeDriver(images={BUSYBOX: IMAGE_ID}, health={"db": "healthy"})
    up(web_db(), driver)
    old = {c.name: c.id for c in driver.containers.values()}
    driver.fail_create = {"web"}
    with pytest.raises(ExecutionError, match="service web: cannot create"):
        up(web_db(environment={"A": "new"}), driver)
    web = [c for c in driver.containers.values() if c.service == "web"]
    assert [(c.id, c.state) for c in web] == [(old["p-web-1"], "running")]


def test_successful_recreate_replaces_the_container_under_the_same_name_with_replace_label() -> None:
    driver = FakeDriver(images={BUSYBOX: IMAGE_ID}, health={"db": "healthy"})
    up(web_db(), driver)
    old_id = next(c.id for c in driver.containers.values() if c.name == "p-web-1")
    up(web_db(environment={"A": "new"}), driver)
    web = [c for c in driver.containers.values() if c.service == "web"]
    assert len(web) == 1 and web[0].name == "p-web-1" and web[0].id != old_id
    assert web[0].labels["com.docker.compose.replace"] == "web-1"


def test_dependency_that_exits_fails_the_wait_and_skips_the_dependent() -> None:
    driver = FakeDriver(images={BUSYBOX: IMAGE_ID}, exit_codes={"db": 3})
    with pytest.raises(ExecutionError) as err:
        up(web_db(), driver)
    assert "container p-db-1 exited (3)" in str(err.value)
    assert "web" in err.value.lines()[0]
    assert not any(c.service == "web" and c.running for c in driver.containers.values())


def test_completed_successfully_condition_lets_the_dependent_start() -> None:
    document = doc({"init": service(), "app": service(depends_on={
        "init": {"condition": "service_completed_successfully", "required": True}})})
    driver = FakeDriver(images={BUSYBOX: IMAGE_ID}, exit_codes={"init": 0})
    up(document, driver)
    assert any(c.service == "app" and c.running for c in driver.containers.values())


def _c(state: str, health: str | None = None, code: int | None = None) -> ObservedContainer:
    return ObservedContainer(id="x", name="p-db-1", service="db", number=1, state=state, health=health,
                             exit_code=code)


@pytest.mark.parametrize("containers, condition, expected", [
    ([_c("running", "healthy")], "service_healthy", True),
    ([_c("running", "starting")], "service_healthy", False),
    ([_c("running", "unhealthy")], "service_healthy", "container p-db-1 is unhealthy"),
    ([_c("running")], "service_healthy", "container p-db-1 has no healthcheck configured"),
    ([_c("running")], "service_started", True),
    ([_c("exited", code=0)], "service_completed_successfully", True),
    ([_c("exited", code=2)], "service_completed_successfully", 'service "db" didn\'t complete successfully: exit 2'),
    ([], "service_started", "service db has no container"),
])
def test_condition_state(containers, condition, expected) -> None:
    assert condition_state(containers, "db", condition) == expected


def test_optional_dependency_that_fails_only_warns_and_the_dependent_starts() -> None:
    document = doc({"cache": service(), "app": service(depends_on={
        "cache": {"condition": "service_healthy", "required": False}})})
    driver = FakeDriver(images={BUSYBOX: IMAGE_ID}, exit_codes={"cache": 1})
    plan = plan_up(document, driver.observe("p"), project="p", image_ids={}, options=UpOptions())
    applier = Applier({LOCAL: driver}, wait_timeout=2)
    plan = bind(plan, from_document(document), image_ids={})
    outcome = asyncio.run(execute(plan.actions, applier.run))
    assert outcome.ok
    expected = ('optional dependency "cache" failed: dependency failed to start: '
                "container p-cache-1 exited (1)")
    assert applier.warnings == [expected]
    assert any(c.service == "app" and c.running for c in driver.containers.values())


def test_restart_of_a_dependency_restarts_dependents_that_asked_for_it() -> None:
    from stackctl.compose.control import Target, stop_like_plan
    from tests.support.compose_sync import stop_like

    document = doc({"db": service(), "web": service(depends_on={"db": {"condition": "service_started",
                                                                      "restart": True, "required": True}}),
                    "cron": service(depends_on={"db": {"condition": "service_started", "required": True}})})
    driver = FakeDriver(images={BUSYBOX: IMAGE_ID})
    up(document, driver)
    driver.calls.clear()
    stop_like(driver, Target("p", from_document(document)), "restart_container", services=("db",))
    # as docker compose: the dependency first, then the dependent that asked for it
    assert [name for call, name in driver.calls if call == "restart"] == ["p-db-1", "p-web-1"]
    plan = stop_like_plan(driver, Target("p", from_document(document)), "restart_container")
    assert {a.target: a.needs for a in plan.actions} == {"p-db-1": (), "p-cron-1": (),
                                                         "p-web-1": ("restart_container:p-db-1",)}
