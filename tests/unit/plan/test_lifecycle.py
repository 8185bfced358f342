"""down/stop/start plans: order along the dependency graph, what is removed and what is kept."""

from __future__ import annotations

from stackctl import labels as L
from stackctl.plan.lifecycle import plan_down, plan_restart, plan_start, plan_stop_like
from stackctl.plan.observed import Observed, ObservedContainer, ObservedNetwork, ObservedVolume
from tests.unit.plan._docs import doc, service

DOC = doc({"db": service(), "web": service(depends_on={"db": {"condition": "service_started"}})},
          volumes={"data": {"name": "p_data"}})


def c(service_name: str, number: int = 1, state: str = "running", **kw) -> ObservedContainer:
    return ObservedContainer(id=f"id-{service_name}-{number}", name=f"p-{service_name}-{number}",
                             service=service_name, number=number, state=state,
                             labels={L.PROJECT: "p", L.SERVICE: service_name}, networks=frozenset({"p_default"}),
                             **kw)


def observed(*containers: ObservedContainer) -> Observed:
    return Observed("p", containers, (ObservedNetwork("p_default", "default"),), (ObservedVolume("p_data", "data"),))


def test_down_removes_dependents_first_then_the_network_and_keeps_volumes_without_v() -> None:
    plan = plan_down(DOC, observed(c("db"), c("web")), project="p")
    by_id = plan.by_id()
    assert by_id["remove_container:p-db-1"].needs == ("remove_container:p-web-1",)
    assert set(by_id["remove_network:p_default"].needs) == {"remove_container:p-db-1", "remove_container:p-web-1"}
    assert plan.of_kind("remove_volume") == []
    with_v = plan_down(DOC, observed(c("db"), c("web")), project="p", volumes=True)
    assert [a.target for a in with_v.of_kind("remove_volume")] == ["p_data"]


def test_down_with_no_grace_period_removes_every_container_at_once_and_the_network_after_them() -> None:
    plan = plan_down(DOC, observed(c("db"), c("web")), project="p", timeout=0)
    by_id = plan.by_id()
    assert by_id["remove_container:p-db-1"].needs == () and by_id["remove_container:p-web-1"].needs == ()
    assert set(by_id["remove_network:p_default"].needs) == {"remove_container:p-db-1", "remove_container:p-web-1"}
    graceful = plan_down(DOC, observed(c("db"), c("web")), project="p", timeout=1)
    assert graceful.by_id()["remove_container:p-db-1"].needs == ("remove_container:p-web-1",)


def test_down_keeps_orphans_and_their_network_unless_asked() -> None:
    plan = plan_down(DOC, observed(c("db"), c("gone")), project="p")
    assert [a.target for a in plan.of_kind("remove_container")] == ["p-db-1"]
    assert plan.of_kind("remove_network") == []  # the orphan still uses it
    assert "p-gone-1" in plan.warnings[0]
    both = plan_down(DOC, observed(c("db"), c("gone")), project="p", remove_orphans=True)
    assert {a.target for a in both.of_kind("remove_container")} == {"p-db-1", "p-gone-1"}


def test_down_by_project_name_alone_removes_what_the_labels_say() -> None:
    plan = plan_down(None, observed(c("db"), c("web")), project="p", volumes=True)
    assert {a.kind for a in plan.actions} == {"remove_container", "remove_network", "remove_volume"}


def test_nothing_to_remove_says_so() -> None:
    plan = plan_down(DOC, Observed("p"), project="p")
    assert plan.actions == () and plan.warnings == ('No resource found to remove for project "p".',)


def test_stop_goes_dependents_first_and_start_dependencies_first() -> None:
    stop = plan_stop_like("stop_container", DOC, observed(c("db"), c("web")))
    assert stop.by_id()["stop_container:p-db-1"].needs == ("stop_container:p-web-1",)
    start = plan_start(DOC, observed(c("db", state="exited"), c("web", state="exited")))
    assert start.by_id()["start_container:p-web-1"].needs == ("start_container:p-db-1",)
    assert plan_start(DOC, observed(c("db"), c("web"))).actions == ()  # already running


def test_restart_takes_the_restart_true_dependents_along_and_restarts_dependencies_first() -> None:
    linked = doc({"db": service(), "web": service(depends_on={"db": {"condition": "service_started", "restart": True}}),
                  "cache": service(depends_on={"db": {"condition": "service_started"}})})
    seen = observed(c("db"), c("web"), c("cache"))
    plan = plan_restart(linked, seen, services=("db",), params={"timeout": 3})
    by_id = plan.by_id()
    assert set(by_id) == {"restart_container:p-db-1", "restart_container:p-web-1"}  # not cache: no restart: true
    assert by_id["restart_container:p-web-1"].needs == ("restart_container:p-db-1",)
    assert by_id["restart_container:p-db-1"].needs == ()
    assert by_id["restart_container:p-db-1"].params == {"timeout": 3, "id": "id-db-1"}
    everything = plan_restart(DOC, seen)  # plain depends_on: side by side
    assert all(a.needs == () for a in everything.actions) and len(everything.actions) == 3
