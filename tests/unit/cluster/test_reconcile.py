"""The reconciler's decisions, from records and observed containers (no engine, no etcd)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from stackctl import labels as L
from stackctl.cluster.naming import container_name, task_labels
from stackctl.cluster.reconcile import RESTART_DELAY, Decision, NodeView, reconcile, task_spec
from stackctl.cluster.state import NodeRecord, ServiceRecord, StackRecord, TaskRecord
from stackctl.plan.observed import ObservedContainer

IMAGE_ID = "sha256:" + "a" * 64
DOC: dict[str, Any] = {
    "name": "shop",
    "services": {"web": {"image": "nginx:alpine", "networks": {"default": None}, "ports": []},
                 "agent": {"image": "nginx:alpine", "networks": {"default": None}},
                 "db": {"image": "nginx:alpine", "volumes": [{"type": "volume", "source": "data", "target": "/d"}]}},
    "networks": {"default": {"name": "shop_default"}},
    "volumes": {"data": {"name": "shop_data"}},
}
STACK = StackRecord(name="shop", document=DOC, version=1, images={"nginx:alpine": IMAGE_ID})
NOW = 1000.0


def svc(name: str = "web", replicas: int = 3, *, mode: str = "replicated", hash_: str = "h1") -> ServiceRecord:
    return ServiceRecord(stack="shop", service=name, version=1, spec_hash=hash_, mode=mode,  # type: ignore[arg-type]
                         replicas=replicas)


def node(name: str, *, state: str = "ready", availability: str = "active") -> NodeRecord:
    return NodeRecord(name=name, address="10.0.0.1", state=state, availability=availability)  # type: ignore[arg-type]


NODES = [node("n1"), node("n2"), node("n3")]


def ids() -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"f{next(counter):011x}"


def task(tid: int, slot: int, node_: str | None, *, state: str = "running", desired: str = "running",
         service: str = "web", updated: float = 900.0) -> TaskRecord:
    return TaskRecord(id=f"{tid:012x}", stack="shop", service=service, slot=slot, node=node_,
                      desired=desired, state=state, spec_hash="h1", service_version=1,  # type: ignore[arg-type]
                      leader_rev=7, created=800.0 + tid, updated=updated,
                      container_id=f"c{tid:012x}" if state == "running" else None)


def container(t: TaskRecord, *, state: str = "running", exit_code: int | None = None, rev: int = 7) -> ObservedContainer:
    return ObservedContainer(id=f"c{t.id}", name=container_name(t), service=t.service, number=t.slot,
                             state=state, exit_code=exit_code, labels=task_labels(t, leader_rev=rev))


def view(*containers: ObservedContainer) -> NodeView:
    return NodeView(containers=containers, networks=frozenset({"shop_default"}), volumes=frozenset({"shop_data"}),
                    images=frozenset({IMAGE_ID}))


def run(services: Sequence[ServiceRecord], tasks: Sequence[TaskRecord], observed: Mapping[str, NodeView] | None = None,
        nodes: Sequence[NodeRecord] = NODES, now: float = NOW) -> Decision:
    seen = observed if observed is not None else {n.name: view() for n in nodes if n.state == "ready"}
    return reconcile([STACK], services, tasks, nodes, seen, now=now, leader_rev=9, new_id=ids())


def kinds(d: Decision, node_: str) -> list[str]:
    return [a.id for a in d.actions.get(node_, ())]


def test_a_new_service_gets_one_task_per_slot_spread_over_the_nodes_and_started() -> None:
    d = run([svc(replicas=3)], [])
    assert sorted((t.slot, t.node, t.state) for t in d.put) == [(1, "n1", "starting"), (2, "n2", "starting"),
                                                                 (3, "n3", "starting")]
    t1 = next(t for t in d.put if t.slot == 1)
    name = container_name(t1)
    assert name == f"shop_web.1.{t1.id}"
    assert kinds(d, "n1") == [f"create_container:{name}", f"start_container:{name}"]
    create = d.actions["n1"][0]
    assert create.spec is not None
    labels = create.spec.config["Labels"]
    assert labels[L.TASK] == t1.id and labels[L.LEADER_REVISION] == "9" and labels[L.SLOT] == "1"
    assert labels[L.STACK_NAMESPACE] == "shop" and L.PROJECT not in labels  # not a compose project's
    assert create.spec.config["HostConfig"]["RestartPolicy"]["Name"] == "no"
    assert create.spec.networks["shop_default"]["Aliases"][:2] == [name, "web"]


def test_converged_state_is_idle() -> None:
    ts = [task(1, 1, "n1"), task(2, 2, "n2")]
    d = run([svc(replicas=2)], ts, {"n1": view(container(ts[0])), "n2": view(container(ts[1])), "n3": view()})
    assert d.idle


def test_a_new_leader_adopts_running_containers_of_an_old_leader_instead_of_starting_them_again() -> None:
    t = task(1, 1, "n1", state="starting")
    d = run([svc(replicas=1)], [t], {"n1": view(container(t, rev=3)), "n2": view(), "n3": view()})
    assert [(x.id, x.state, x.container_id) for x in d.put] == [(t.id, "running", f"c{t.id}")]
    assert not any(d.actions.values())


def test_scale_down_removes_the_highest_slots() -> None:
    ts = [task(i, i, f"n{(i - 1) % 3 + 1}") for i in range(1, 6)]
    obs = {n: view(*(container(t) for t in ts if t.node == n)) for n in ("n1", "n2", "n3")}
    d = run([svc(replicas=2)], ts, obs)
    assert sorted(t.slot for t in d.put if t.desired == "shutdown") == [3, 4, 5]
    removed = [a.target for acts in d.actions.values() for a in acts if a.kind == "remove_container"]
    assert sorted(removed) == sorted(container_name(t) for t in ts[2:])


def test_an_exited_container_fails_its_task_and_the_slot_is_refilled_after_the_restart_delay() -> None:
    t = task(1, 1, "n1")
    d = run([svc(replicas=1)], [t], {"n1": view(container(t, state="exited", exit_code=137)), "n2": view(),
                                     "n3": view()})
    failed = next(x for x in d.put if x.id == t.id)
    assert (failed.desired, failed.state) == ("shutdown", "failed") and "137" in failed.message
    assert [x.id for x in d.put] == [t.id]  # no replacement yet: swarm's 5 s delay
    assert d.wake == NOW + RESTART_DELAY
    assert kinds(d, "n1") == [f"remove_container:{container_name(t)}"]
    later = run([svc(replicas=1)], [failed], now=NOW + RESTART_DELAY)
    new = [x for x in later.put if x.desired == "running"]
    assert len(new) == 1 and new[0].slot == 1 and new[0].state == "starting"


def test_a_removed_running_container_fails_the_task() -> None:
    t = task(1, 1, "n1")
    d = run([svc(replicas=1)], [t])
    assert [(x.state, x.message) for x in d.put if x.id == t.id] == [("failed", "the task's container was removed")]


def test_a_down_node_orphans_its_tasks_and_they_are_placed_at_once_elsewhere() -> None:
    ts = [task(1, 1, "n1"), task(2, 2, "n2")]
    nodes = [node("n1", state="down"), node("n2"), node("n3")]
    d = run([svc(replicas=2)], ts, {"n2": view(container(ts[1])), "n3": view()}, nodes=nodes)
    orphan = next(x for x in d.put if x.id == ts[0].id)
    assert (orphan.state, orphan.desired) == ("orphaned", "shutdown")
    new = [x for x in d.put if x.desired == "running"]
    assert [(x.slot, x.node) for x in new] == [(1, "n3")]
    assert kinds(d, "n3")[-1].startswith("start_container:")


def test_a_returning_node_has_its_stale_containers_removed_never_two_for_one_slot() -> None:
    old = task(1, 1, "n1", state="orphaned", desired="shutdown")
    new = task(2, 1, "n3")
    d = run([svc(replicas=1)], [old, new], {"n1": view(container(old)), "n2": view(), "n3": view(container(new))})
    assert kinds(d, "n1") == [f"remove_container:{container_name(old)}"]
    assert not d.actions.get("n3")


def test_containers_of_unknown_tasks_are_removed() -> None:
    ghost = task(9, 1, "n2")  # made by a deposed leader whose write failed: no record
    d = run([svc(replicas=0)], [], {"n1": view(), "n2": view(container(ghost, rev=2)), "n3": view()})
    assert kinds(d, "n2") == [f"remove_container:{container_name(ghost)}"]


def test_an_unobserved_node_is_left_alone_until_declared_down() -> None:
    t = task(1, 1, "n1")
    d = run([svc(replicas=1)], [t], {"n2": view(), "n3": view()})
    assert d.idle


def test_drain_moves_tasks_away_and_pause_takes_no_new_ones() -> None:
    t = task(1, 1, "n1")
    nodes = [node("n1", availability="drain"), node("n2", availability="pause"), node("n3")]
    d = run([svc(replicas=2)], [t], {"n1": view(container(t)), "n2": view(), "n3": view()}, nodes=nodes)
    assert next(x for x in d.put if x.id == t.id).desired == "shutdown"
    assert sorted((x.slot, x.node) for x in d.put if x.desired == "running") == [(1, "n3"), (2, "n3")]
    assert kinds(d, "n1") == [f"remove_container:{container_name(t)}"]


def test_no_node_leaves_the_task_pending_with_the_reason() -> None:
    nodes = [node("n1", state="down"), node("n2", availability="pause")]
    d = run([svc(replicas=1)], [], {"n2": view()}, nodes=nodes)
    assert [(x.state, x.node) for x in d.put] == [("pending", None)]
    assert d.put[0].message == "1 node is not ready; 1 node is paused"


def test_global_service_runs_one_task_per_ready_active_node() -> None:
    nodes = [node("n1"), node("n2", availability="pause"), node("n3")]
    d = run([svc("agent", mode="global")], [], nodes=nodes)
    assert sorted((x.slot, x.node) for x in d.put) == [(0, "n1"), (0, "n3")]
    t = next(x for x in d.put if x.node == "n1")
    assert container_name(t) == f"shop_agent.n1.{t.id}"


def test_missing_image_network_and_volume_are_made_on_the_node_first() -> None:
    bare = NodeView(images=frozenset())
    d = run([svc("db", replicas=1)], [], {"n1": bare, "n2": view(), "n3": view()},
            nodes=[node("n1")])
    acts = {a.id: a for a in d.actions["n1"]}
    assert acts["pull_image:nginx:alpine"].params == {"image_id": IMAGE_ID, "from": ["n2", "n3"]}
    assert "create_volume:shop_data" in acts and "create_network:shop_default" in acts
    create = next(a for a in acts.values() if a.kind == "create_container")
    assert set(create.needs) == {"pull_image:nginx:alpine", "create_volume:shop_data", "create_network:shop_default"}
    assert acts["create_network:shop_default"].params["labels"][L.STACK] == "shop"


def test_a_changed_service_replaces_its_tasks() -> None:
    t = task(1, 1, "n1")
    d = run([svc(replicas=1, hash_="h2")], [t], {"n1": view(container(t)), "n2": view(), "n3": view()})
    assert next(x for x in d.put if x.id == t.id).desired == "shutdown"
    assert [x.spec_hash for x in d.put if x.desired == "running"] == ["h2"]


def test_a_removed_stack_s_tasks_are_shut_down_and_their_records_deleted() -> None:
    t = task(1, 1, "n1")
    d = reconcile([], [], [t], NODES, {"n1": view(container(t)), "n2": view(), "n3": view()}, now=NOW,
                  leader_rev=9, new_id=ids())
    assert [x.id for x in d.delete] == [t.id]
    assert kinds(d, "n1") == [f"remove_container:{container_name(t)}"]


def test_history_keeps_three_finished_tasks_per_slot() -> None:
    ended = [task(i, 1, "n1", state="failed", desired="shutdown", updated=100.0 + i) for i in range(1, 6)]
    live = task(9, 1, "n1")
    d = run([svc(replicas=1)], [*ended, live], {"n1": view(container(live)), "n2": view(), "n3": view()})
    assert sorted(x.id for x in d.delete) == [ended[0].id, ended[1].id]


def test_a_created_but_not_started_container_is_started_not_created_again() -> None:
    t = task(1, 1, "n1", state="starting")
    d = run([svc(replicas=1)], [t], {"n1": view(container(t, state="created")), "n2": view(), "n3": view()})
    assert kinds(d, "n1") == [f"start_container:{container_name(t)}"]


def test_task_spec_is_the_laptop_spec_renamed() -> None:
    t = replace(task(1, 2, "n1"), id="abcdefabcdef")
    spec = task_spec(STACK, t, leader_rev=4)
    assert spec.name == "shop_web.2.abcdefabcdef"
    assert spec.config["Image"] == "nginx:alpine"
    assert spec.config["Labels"][L.SLOT] == "2"


def test_a_replacement_does_not_go_where_a_stopping_container_still_holds_the_published_port() -> None:
    stack = StackRecord(name="shop", version=1, images={"nginx:alpine": IMAGE_ID}, document={
        **DOC, "services": {**DOC["services"], "web": {**DOC["services"]["web"], "ports": [
            {"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp"}]}}})
    leaving = task(1, 3, "n1", state="shutdown", desired="shutdown")  # scaled down; its container still stopping
    lost = task(2, 1, "n3")  # its node went down
    seen = {"n1": view(container(leaving)), "n2": view()}
    d = reconcile([stack], [svc(replicas=1)], [leaving, lost], [node("n1"), node("n2"), node("n3", state="down")],
                  seen, now=NOW, leader_rev=9, new_id=ids())
    placed = [t for t in d.put if t.desired == "running" and t.slot == 1]
    assert [t.node for t in placed] == ["n2"]


def test_a_pending_task_whose_image_is_held_stays_pending_with_its_reason() -> None:
    """An image on no node whose pull failed: its tasks wait, pending with the reason, until the agent
    tries the image again (then they are placed as usual)."""
    waiting = replace(task(1, 1, None, state="pending"), message="image nginx:alpine is on no node")
    held = reconcile([STACK], [svc(replicas=1)], [waiting], NODES, {n.name: view() for n in NODES}, now=NOW,
                     leader_rev=9, new_id=ids(), held_images={"nginx:alpine"})
    assert held.put == () and not any(held.actions.values())
    again = run([svc(replicas=1)], [waiting])
    assert [(t.id, t.state) for t in again.put] == [(waiting.id, "starting")]
