"""A network whose settings changed in the file is recreated like docker compose v2.40 does it:
attached containers stopped (dependents first), disconnected, network removed and created again,
the same containers reconnected and started; services on other networks are left alone."""

from __future__ import annotations

import asyncio

import pytest

from stackctl import labels as L
from stackctl.compose.project import from_document
from stackctl.drivers.fake import FakeDriver
from stackctl.engine.apply import Applier
from stackctl.engine.bind import bind
from stackctl.errors import DriverError, ExecutionError
from stackctl.execute import execute, raise_for
from stackctl.plan.actions import LOCAL
from stackctl.plan.diff import UpOptions, plan_up
from stackctl.plan.hashing import network_hash
from stackctl.plan.observed import Observed
from tests.unit.plan._docs import BUSYBOX, doc, service

IMAGE_ID = "sha256:" + "3" * 64


def stack(*, icc: str = "true", external: bool = False):  # type: ignore[no-untyped-def]
    front = {"name": "p_front", "driver_opts": {"com.docker.network.bridge.enable_icc": icc}}
    if external:
        front["external"] = True
    return doc({
        "db": service(networks={"front": None}),
        "web": service(networks={"front": {"aliases": ["www"]}}, depends_on={"db": {"condition": "service_started"}}),
        "other": service(networks={"back": None}),
    }, networks={"front": front, "back": {"name": "p_back"}})


def plan(document, driver, **options):  # type: ignore[no-untyped-def]
    return plan_up(document, driver.observe("p"), project="p", image_ids={s: IMAGE_ID for s in document["services"]},
                   options=UpOptions(**options))


def up(document, driver, **options):  # type: ignore[no-untyped-def]
    the_plan = plan(document, driver, **options)
    applier = Applier({LOCAL: driver})
    the_plan = bind(the_plan, from_document(document), image_ids={s: IMAGE_ID for s in document["services"]})
    raise_for(asyncio.run(execute(the_plan.actions, applier.run)), the_plan.by_id())
    return the_plan


def deployed() -> FakeDriver:
    driver = FakeDriver(images={BUSYBOX: IMAGE_ID})
    up(stack(), driver)
    driver.calls.clear()
    return driver


def test_changed_network_settings_plan_a_recreate_with_the_reason_and_restart_only_its_containers() -> None:
    driver = deployed()
    lines = plan(stack(icc="false"), driver).lines()
    old, new = network_hash(stack()["networks"]["front"]), network_hash(stack(icc="false")["networks"]["front"])
    assert lines == [f"recreate network p_front: config changed (hash {old[:12]} -> {new[:12]})",
                     "start container p-db-1: network recreated (p_front)",
                     "start container p-web-1: network recreated (p_front)"]


def test_recreate_stops_dependents_first_keeps_the_containers_and_reconnects_them() -> None:
    driver = deployed()
    before = {c.name: c.id for c in driver.containers.values()}
    up(stack(icc="false"), driver)
    assert driver.calls == [("stop", "p-web-1"), ("stop", "p-db-1"),
                            ("disconnect", f"{before['p-db-1']}@p_front"), ("disconnect", f"{before['p-web-1']}@p_front"),
                            ("remove_network", "p_front"), ("create_network", "p_front"),
                            ("connect", f"{before['p-db-1']}@p_front"), ("connect", f"{before['p-web-1']}@p_front"),
                            ("start", "p-db-1"), ("start", "p-web-1")]
    after = {c.name: c for c in driver.containers.values()}
    assert {n: c.id for n, c in after.items()} == before
    assert all(c.running and "p_front" in c.networks for n, c in after.items() if n != "p-other-1")
    assert driver.networks["p_front"][L.CONFIG_HASH] == network_hash(stack(icc="false")["networks"]["front"])
    assert plan(stack(icc="false"), driver).lines() == ["nothing to do: every container is up to date"]


def test_containers_of_services_outside_this_up_are_started_again_by_the_recreate_itself() -> None:
    driver = deployed()
    the_plan = up(stack(icc="false"), driver, services=("db",), no_deps=True)
    assert [a.describe().split(":")[0] for a in the_plan.actions] == ["recreate network p_front",
                                                                      "start container p-db-1"]
    assert all(c.running for c in driver.containers.values())


def test_a_network_without_compose_hash_label_or_external_is_never_recreated() -> None:
    driver = deployed()
    driver.networks["p_front"].pop(L.CONFIG_HASH)
    assert plan(stack(icc="false"), driver).lines() == ["nothing to do: every container is up to date"]
    assert plan(stack(icc="false", external=True), driver).lines() == ["nothing to do: every container is up to date"]


def test_a_stopped_container_on_the_network_is_reconnected_and_stays_stopped_with_create() -> None:
    driver = deployed()
    driver.stop_container("p-web-1")
    up(stack(icc="false"), driver, start=False)
    web = next(c for c in driver.containers.values() if c.name == "p-web-1")
    db = next(c for c in driver.containers.values() if c.name == "p-db-1")
    assert not web.running and not db.running and "p_front" in web.networks


def test_containers_the_plan_did_not_see_are_also_moved_to_the_new_network_and_kept_running() -> None:
    """`up -d db` leaves web out of the loaded project: its container must not block the removal."""
    driver = deployed()
    web_id = next(c.id for c in driver.containers.values() if c.name == "p-web-1")
    seen = driver.observe("p")
    hidden = Observed(seen.project, tuple(c for c in seen.containers if c.service != "web"), seen.networks,
                      seen.volumes, seen.engine_networks, seen.engine_volumes)
    document = stack(icc="false")
    the_plan = plan_up(document, hidden, project="p", image_ids={s: IMAGE_ID for s in document["services"]},
                       options=UpOptions(services=("db",)))
    applier = Applier({LOCAL: driver})
    the_plan = bind(the_plan, from_document(document), image_ids={s: IMAGE_ID for s in document["services"]})
    raise_for(asyncio.run(execute(the_plan.actions, applier.run)), the_plan.by_id())
    assert ("disconnect", f"{web_id}@p_front") in driver.calls and ("connect", f"{web_id}@p_front") in driver.calls
    assert driver.calls.index(("stop", "p-web-1")) < driver.calls.index(("remove_network", "p_front"))
    assert all(c.running for c in driver.containers.values())


def test_a_network_that_cannot_be_removed_is_kept_and_its_containers_put_back_running() -> None:
    driver = deployed()

    def busy(name: str) -> None:
        raise DriverError(f"network {name} has active endpoints")

    driver.remove_network = busy  # type: ignore[method-assign]  # e.g. another project's container on it
    with pytest.raises(ExecutionError, match='network "p_front" must be recreated .* has active endpoints; '
                                             "it keeps its old settings"):
        up(stack(icc="false"), driver)
    assert all(c.running for c in driver.containers.values())
    assert all("p_front" in c.networks for c in driver.containers.values() if c.service != "other")
