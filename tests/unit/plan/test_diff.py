"""plan_up / needs_recreate: what `up` does to a project, decided without an engine."""

from __future__ import annotations

import asyncio

import pytest

from stackctl import labels as L
from stackctl.compose.project import from_document
from stackctl.drivers.fake import FakeDriver
from stackctl.engine.apply import Applier
from stackctl.engine.bind import bind
from stackctl.errors import PlanError
from stackctl.execute import execute
from stackctl.plan.actions import LOCAL
from stackctl.plan.diff import DesiredService, UpOptions, needs_recreate, plan_up
from stackctl.plan.observed import ObservedContainer
from tests.unit.plan._docs import BUSYBOX, doc, service, web_db

IMAGE_ID = "sha256:" + "1" * 64


def _plan(document, driver, **options):
    return plan_up(document, driver.observe(document["name"]), project=document["name"],
                   image_ids={s: IMAGE_ID for s in document["services"]}, options=UpOptions(**options))


def _apply(document, driver, **options):
    plan = _plan(document, driver, **options)
    applier = Applier({LOCAL: driver})
    plan = bind(plan, from_document(document), image_ids={s: IMAGE_ID for s in document["services"]})
    outcome = asyncio.run(execute(plan.actions, applier.run))
    assert outcome.ok, outcome.failed
    return plan


def _healthy_driver() -> FakeDriver:
    return FakeDriver(images={BUSYBOX: IMAGE_ID}, health={"db": "healthy"})


def test_fresh_project_creates_network_then_containers_and_waits_for_health() -> None:
    plan = _plan(web_db(), FakeDriver())
    by_id = plan.by_id()
    assert by_id["create_network:p_default"].reason.code == "missing"
    assert "create_network:p_default" in by_id["create_container:p-web-1"].needs
    wait = by_id["wait:db:service_healthy"]
    assert wait.needs == ("start_container:p-db-1",)
    assert "wait:db:service_healthy" in by_id["start_container:p-web-1"].needs
    assert "start_container:p-db-1" not in by_id["create_container:p-web-1"].needs  # creates are eager


def test_create_waits_for_the_containers_a_service_names() -> None:
    """`create` (nothing started): ipc/pid `service:x`, volumes_from and links name x's container,
    which the engine looks up at create time, so x is created first (as docker compose does)."""
    implicit = {"base": {"condition": "service_started", "required": True}}
    document = doc({"base": service(), "ipc": service(ipc="service:base", depends_on=implicit),
                    "pid": service(pid="service:base", depends_on=implicit),
                    "from": service(volumes_from=["base:ro"], depends_on=implicit),
                    "link": service(links=["base:db"], depends_on=implicit), "alone": service()})
    by_id = _plan(document, FakeDriver(), start=False).by_id()
    for name in ("ipc", "pid", "from", "link"):
        assert "create_container:p-base-1" in by_id[f"create_container:p-{name}-1"].needs, name
    assert "create_container:p-base-1" not in by_id["create_container:p-alone-1"].needs


def test_second_up_with_nothing_changed_plans_nothing() -> None:
    driver = _healthy_driver()
    _apply(web_db(), driver)
    again = _plan(web_db(), driver)
    assert again.actions == ()
    assert again.lines() == ["nothing to do: every container is up to date"]


def test_changed_service_is_recreated_with_reason_and_others_untouched() -> None:
    driver = _healthy_driver()
    _apply(web_db(), driver)
    changed = web_db(environment={"A": "1"})
    plan = _plan(changed, driver)
    kinds = {(a.kind, a.target) for a in plan.actions}
    assert ("recreate_container", "p-web-1") in kinds
    assert not any(a.target == "p-db-1" for a in plan.actions)
    assert plan.by_id()["recreate_container:p-web-1"].reason.code == "config changed"


def test_scaling_never_recreates_and_new_replicas_get_next_numbers() -> None:
    driver = _healthy_driver()
    _apply(web_db(), driver)
    plan = _plan(web_db(), driver, scale={"web": 3})
    assert sorted(a.target for a in plan.of_kind("create_container")) == ["p-web-2", "p-web-3"]
    assert plan.of_kind("recreate_container") == []


def test_scale_down_removes_highest_numbers_first() -> None:
    driver = _healthy_driver()
    _apply(web_db(), driver, scale={"web": 4})
    plan = _apply(web_db(), driver, scale={"web": 2})
    assert [a.target for a in plan.of_kind("remove_container")] == ["p-web-4", "p-web-3"]
    names = sorted(c.name for c in driver.containers.values())
    assert names == ["p-db-1", "p-web-1", "p-web-2"]


def test_force_recreate_only_for_named_services_and_no_recreate_keeps_changed() -> None:
    driver = _healthy_driver()
    _apply(web_db(), driver)
    forced = _plan(web_db(), driver, services=("web",), recreate="force")
    assert [a.target for a in forced.of_kind("recreate_container")] == ["p-web-1"]
    kept = _plan(web_db(environment={"A": "2"}), driver, recreate="never")
    assert kept.of_kind("recreate_container") == []


def test_stopped_container_is_started_not_recreated() -> None:
    driver = _healthy_driver()
    _apply(web_db(), driver)
    driver.stop_container("p-web-1")
    plan = _plan(web_db(), driver)
    assert [(a.kind, a.target) for a in plan.actions if a.kind != "wait"] == [("start_container", "p-web-1")]
    assert plan.actions[-1].reason.code == "not running"


def test_dependent_with_restart_true_is_restarted_after_its_dependency_is_recreated() -> None:
    document = doc({"db": service(), "web": service(depends_on={"db": {"condition": "service_started",
                                                                      "restart": True, "required": True}})})
    driver = _healthy_driver()
    _apply(document, driver)
    document["services"]["db"]["environment"] = {"X": "1"}
    plan = _plan(document, driver)
    restart = plan.by_id()["restart_container:p-web-1"]
    assert restart.needs == ("start_container:p-db-1",)
    assert restart.reason.code == "dependency recreated"


def test_orphans_are_reported_and_removed_only_when_asked() -> None:
    driver = _healthy_driver()
    _apply(web_db(), driver)
    only_db = doc({"db": service(healthcheck={"test": ["CMD", "true"]})})
    plan = _plan(only_db, driver)
    assert plan.of_kind("remove_container") == []
    assert "p-web-1" in plan.warnings[0] and "--remove-orphans" in plan.warnings[0]
    removing = _plan(only_db, driver, remove_orphans=True)
    assert [a.target for a in removing.of_kind("remove_container")] == ["p-web-1"]


def test_up_one_service_brings_its_dependencies_unless_no_deps() -> None:
    plan = _plan(web_db(), FakeDriver(), services=("web",))
    assert {a.target for a in plan.of_kind("create_container")} == {"p-web-1", "p-db-1"}
    alone = _plan(web_db(), FakeDriver(), services=("web",), no_deps=True)
    assert {a.target for a in alone.of_kind("create_container")} == {"p-web-1"}
    assert alone.of_kind("wait") == []


@pytest.mark.parametrize("document, options, message", [
    (web_db(), {"services": ("nope",)}, "no such service: nope"),
    (doc({"a": service(container_name="fixed")}), {"scale": {"a": 2}}, 'custom container name "fixed"'),
    (doc({"a": service(networks={"ext": None})}, networks={"ext": {"name": "outside", "external": True}}), {},
     'network "outside" declared as external, but could not be found'),
])
def test_impossible_plans_are_refused_with_a_message(document, options, message) -> None:
    with pytest.raises(PlanError, match=message):
        _plan(document, FakeDriver(), **options)


def _seen(**labels_and_state) -> ObservedContainer:
    state = labels_and_state.pop("state", "running")
    networks = labels_and_state.pop("networks", frozenset({"p_default"}))
    labels = {L.CONFIG_HASH: "h1", L.IMAGE: "sha256:a", **labels_and_state}
    return ObservedContainer(id="c1", name="p-web-1", service="web", number=1, state=state,
                             labels=labels, networks=networks)


DESIRED = DesiredService(name="web", replicas=1, config_hash="h1", image_id="sha256:a",
                         networks=frozenset({"p_default"}))


@pytest.mark.parametrize("seen, policy, expected", [
    (_seen(), "diverged", None),
    (_seen(**{L.CONFIG_HASH: "h0"}), "diverged", "config changed"),
    (_seen(**{L.IMAGE: "sha256:b"}), "diverged", "image changed"),
    (_seen(networks=frozenset()), "diverged", "network not attached"),
    (_seen(networks=frozenset(), state="exited"), "diverged", None),
    (_seen(), "force", "forced"),
    (_seen(**{L.CONFIG_HASH: "h0"}), "never", None),
])
def test_needs_recreate(seen, policy, expected) -> None:
    reason = needs_recreate(DESIRED, seen, policy=policy)
    assert (reason.code if reason else None) == expected


def test_network_changed_in_the_file_is_recreated_not_silently_reused() -> None:
    driver = _healthy_driver()
    _apply(web_db(), driver)
    assert _plan(web_db(), driver).warnings == ()
    changed = web_db()
    changed["networks"]["default"]["driver_opts"] = {"com.docker.network.bridge.enable_icc": "false"}
    plan = _plan(changed, driver)
    assert plan.warnings == ()
    assert [(a.kind, a.target, a.reason.code) for a in plan.of_kind("recreate_network")] == [
        ("recreate_network", "p_default", "config changed")]


def test_replica_slots_come_in_as_an_input() -> None:
    from stackctl.plan.slots import next_slots

    document = web_db()
    driver = FakeDriver()
    plan = plan_up(document, driver.observe("p"), project="p", image_ids={}, options=UpOptions(scale={"web": 2}),
                   slots={"web": (4, 7), "db": (1,)})
    assert {a.target for a in plan.of_kind("create_container")} == {"p-web-4", "p-web-7", "p-db-1"}
    assert next_slots([1, 3], 2) == (4, 5)  # docker compose's rule on one engine: after the highest
    with pytest.raises(PlanError, match="needs 2 new replica slots, 1 given"):
        plan_up(document, driver.observe("p"), project="p", image_ids={}, options=UpOptions(scale={"web": 2}),
                slots={"web": (4,), "db": (1,)})
