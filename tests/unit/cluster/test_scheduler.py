"""The scheduler: which node each task goes to, and why a task no node accepts stays pending."""

from __future__ import annotations

import itertools
from collections import Counter
from typing import Any

import pytest

from stackctl.cluster.scheduler import Placement, Unplaced, check_document, requirements, schedule, specs_of
from stackctl.cluster.state import NodeRecord, StackRecord, TaskRecord
from stackctl.errors import SchedulingError

GiB = 1 << 30
_ids = itertools.count(1)


def node(name: str, *, role: str = "worker", labels: dict[str, str] | None = None, cpus: float = 4.0,
         memory: int = 8 * GiB, state: str = "ready", availability: str = "active") -> NodeRecord:
    return NodeRecord(name=name, address="10.0.0.1", role=role, labels=labels or {},  # type: ignore[arg-type]
                      cpus=cpus, memory=memory, state=state, availability=availability)  # type: ignore[arg-type]


def task(service: str = "web", slot: int = 1, *, node_name: str | None = None, stack: str = "shop",
         state: str = "pending") -> TaskRecord:
    return TaskRecord(id=f"{next(_ids):012x}", stack=stack, service=service, slot=slot, node=node_name,
                      state=state)  # type: ignore[arg-type]


def tasks(n: int, service: str = "web") -> list[TaskRecord]:
    return [task(service, slot) for slot in range(1, n + 1)]


def spec(**deploy: Any) -> dict[str, Any]:
    return {"image": "nginx", "deploy": deploy}


def placed(decisions: list[Placement | Unplaced]) -> Counter[str]:
    return Counter(d.node for d in decisions if isinstance(d, Placement))


def reasons(decisions: list[Placement | Unplaced]) -> list[str]:
    return [d.message for d in decisions if isinstance(d, Unplaced)]


def test_replicas_spread_evenly_and_prefer_nodes_with_fewer_tasks_overall() -> None:
    nodes = [node("n1"), node("n2"), node("n3")]
    running = [task("db", 1, node_name="n1", state="running"), task("db", 2, node_name="n1", state="running")]
    out = schedule(tasks(4), nodes, running, {("shop", "web"): spec(), ("shop", "db"): spec()})
    # fewest of this service first: 2 rounds over 3 nodes; the busy n1 is chosen last in each round
    assert placed(out) == {"n2": 2, "n3": 1, "n1": 1}
    assert [d.node for d in out if isinstance(d, Placement)][:2] == ["n2", "n3"]


def test_existing_tasks_of_the_service_count_for_spread() -> None:
    nodes = [node("n1"), node("n2")]
    running = [task("web", 9, node_name="n1", state="running")]
    out = schedule(tasks(3), nodes, running, {("shop", "web"): spec()})
    assert placed(out) == {"n2": 2, "n1": 1}


def test_finished_or_shut_down_tasks_hold_no_place() -> None:
    nodes = [node("n1", memory=2 * GiB)]
    dead = task("web", 1, node_name="n1", state="failed")
    out = schedule(tasks(1), nodes, [dead], {("shop", "web"): spec(resources={"reservations": {"memory": str(2 * GiB)}})})
    assert placed(out) == {"n1": 1}


def test_nodes_not_ready_or_not_active_take_nothing_and_say_so() -> None:
    nodes = [node("n1", state="down"), node("n2", availability="drain"), node("n3", availability="pause"),
             node("n4", state="unknown")]
    out = schedule(tasks(1), nodes, [], {("shop", "web"): spec()})
    assert reasons(out) == ["2 nodes are not ready; 1 node is paused; 1 node is drained"]


def test_no_nodes_at_all() -> None:
    assert reasons(schedule(tasks(1), [], [], {})) == ["no nodes in the cluster"]


@pytest.mark.parametrize(("constraint", "expected"), [
    ("node.role==manager", {"m1"}),
    ("node.role != manager", {"w1", "w2"}),
    ("node.hostname==w2", {"w2"}),
    ("node.id==W2", {"w2"}),  # values compare without regard to case, as swarm's
    ("node.labels.disk==ssd", {"w1"}),
    ("node.labels.disk!=ssd", {"m1", "w2"}),  # a node without the label passes !=
    ("node.platform.os==linux", {"m1", "w1", "w2"}),
])
def test_constraints(constraint: str, expected: set[str]) -> None:
    nodes = [node("m1", role="manager"), node("w1", labels={"disk": "ssd"}), node("w2", labels={"disk": "hdd"})]
    out = schedule(tasks(6), nodes, [], {("shop", "web"): spec(placement={"constraints": [constraint]})})
    assert set(placed(out)) == expected


def test_the_reasons_name_the_constraint_and_the_memory_short_nodes() -> None:
    nodes = [node("n1", memory=1 * GiB), node("n2", memory=1 * GiB), node("n3", memory=4 * GiB)]
    svc = spec(placement={"constraints": ["node.labels.disk==ssd"]},
               resources={"reservations": {"memory": str(2 * GiB)}})
    out = schedule(tasks(2), nodes, [], {("shop", "web"): svc})
    assert reasons(out) == ["no node with node.labels.disk==ssd; 2 nodes lack 2 GiB of free memory"] * 2


def test_some_nodes_fail_a_constraint_others_are_full() -> None:
    nodes = [node("n1"), node("n2", labels={"disk": "ssd"}, cpus=1)]
    svc = spec(placement={"constraints": ["node.labels.disk==ssd"]}, resources={"reservations": {"cpus": 2}})
    assert reasons(schedule(tasks(1), nodes, [], {("shop", "web"): svc})) == [
        "1 node without node.labels.disk==ssd; 1 node lacks 2 free CPUs"]


def test_reservations_count_what_tasks_already_there_reserve() -> None:
    nodes = [node("n1", memory=4 * GiB, cpus=2), node("n2", memory=4 * GiB, cpus=2)]
    svc = {("shop", "web"): spec(resources={"reservations": {"memory": "1.5g", "cpus": 0.5}}),
           ("shop", "db"): spec(resources={"reservations": {"memory": str(3 * GiB)}})}
    running = [task("db", 1, node_name="n1", state="running")]
    out = schedule(tasks(4), nodes, running, svc)
    assert placed(out) == {"n2": 2}  # n1 has 1 GiB left; n2 takes two of 1.5 GiB, then is full
    assert reasons(out) == ["no node has 1.5 GiB of free memory"] * 2


def test_cpu_reservation_fills_a_node() -> None:
    out = schedule(tasks(5), [node("n1", cpus=2)], [], {("shop", "web"): spec(resources={"reservations": {"cpus": 0.5}})})
    assert placed(out) == {"n1": 4}
    assert reasons(out) == ["no node has 0.5 free CPUs"]


def test_host_mode_ports_conflict_across_services_and_replicas() -> None:
    ports = [{"mode": "host", "target": 80, "published": "8080", "protocol": "tcp"}]
    svc = {("shop", "web"): {"image": "nginx", "ports": ports}, ("shop", "api"): {"image": "api", "ports": ports}}
    running = [task("api", 1, node_name="n1", state="running")]
    out = schedule(tasks(3), [node("n1"), node("n2"), node("n3")], running, svc)
    assert placed(out) == {"n2": 1, "n3": 1}
    assert reasons(out) == ["port 8080/tcp is taken on every node"]


def test_ingress_ports_do_not_conflict_unless_asked() -> None:
    ports = [{"mode": "ingress", "target": 80, "published": "8080", "protocol": "tcp"}]
    svc = {("shop", "web"): {"image": "nginx", "ports": ports}}
    assert placed(schedule(tasks(3), [node("n1")], [], svc)) == {"n1": 3}
    out = schedule(tasks(3), [node("n1"), node("n2")], [], svc, ingress_binds_host=True)
    assert placed(out) == {"n1": 1, "n2": 1}


def test_max_replicas_per_node() -> None:
    out = schedule(tasks(5), [node("n1"), node("n2")], [],
                   {("shop", "web"): spec(placement={"max_replicas_per_node": 2})})
    assert placed(out) == {"n1": 2, "n2": 2}
    assert reasons(out) == ["every node already runs 2 tasks of web (max_replicas_per_node)"]


def test_spread_preference_splits_across_label_values_not_nodes() -> None:
    nodes = [node("a1", labels={"zone": "a"}), node("a2", labels={"zone": "a"}), node("a3", labels={"zone": "a"}),
             node("b1", labels={"zone": "b"}), node("x1")]
    svc = {("shop", "web"): spec(placement={"preferences": [{"spread": "node.labels.zone"}]})}
    out = schedule(tasks(6), nodes, [], svc)
    zone = {n.name: n.labels.get("zone", "-") for n in nodes}
    per_zone = Counter(zone[d.node] for d in out if isinstance(d, Placement))
    assert per_zone == {"a": 2, "b": 2, "-": 2}  # the nodes without the label are one more group
    assert placed(out)["b1"] == 2 and placed(out)["x1"] == 2


def test_spread_counts_existing_tasks_per_group_and_nests() -> None:
    nodes = [node(f"{z}{r}", labels={"zone": z, "rack": str(r)}) for z in "ab" for r in (1, 2)]
    running = [task("web", s, node_name="a1", state="running") for s in (11, 12)]
    svc = {("shop", "web"): spec(placement={"preferences": [{"spread": "node.labels.zone"},
                                                            {"spread": "node.labels.rack"}]})}
    out = schedule(tasks(4), nodes, running, svc)
    counts = placed(out)  # zone b catches up with a's two, then a's empty rack 2 and b share the rest
    assert counts["b1"] + counts["b2"] == 3 and counts["a2"] == 1 and counts["a1"] == 0


def test_a_full_group_gives_way_to_the_others() -> None:
    nodes = [node("a1", labels={"zone": "a"}, cpus=1), node("b1", labels={"zone": "b"}, cpus=8)]
    svc = {("shop", "web"): spec(placement={"preferences": [{"spread": "node.labels.zone"}]},
                                 resources={"reservations": {"cpus": 1}})}
    assert placed(schedule(tasks(5), nodes, [], svc)) == {"a1": 1, "b1": 4}


def test_pinned_global_tasks_are_checked_on_their_node_only() -> None:
    nodes = [node("n1", memory=1 * GiB), node("n2")]
    svc = {("shop", "agent"): spec(mode="global", resources={"reservations": {"memory": str(2 * GiB)}})}
    out = schedule([task("agent", 0, node_name="n1"), task("agent", 0, node_name="n2"),
                    task("agent", 0, node_name="gone")], nodes, [], svc)
    assert isinstance(out[1], Placement) and out[1].node == "n2"
    assert [d.message for d in out if isinstance(d, Unplaced)] == [
        "node n1 lacks 2 GiB of free memory", "node gone is not in the cluster"]


def test_decisions_keep_the_order_of_the_tasks_across_services() -> None:
    mixed = [task("web", 1), task("db", 1), task("web", 2)]
    out = schedule(mixed, [node("n1")], [], {})
    assert [d.task for d in out] == mixed


@pytest.mark.parametrize(("constraint", "message"), [
    ("node.role=manager", ("services.web.deploy.placement.constraints[1]: 'node.role=manager' is not "
                          "<key>==<value> or <key>!=<value>")),
    ("node.colour==red", "services.web.deploy.placement.constraints[1]: unknown key 'node.colour'"),
    ("engine.labels.x==1", "services.web.deploy.placement.constraints[1]: unknown key 'engine.labels.x'"),
])
def test_a_malformed_constraint_is_one_line_naming_its_path(constraint: str, message: str) -> None:
    doc = {"services": {"web": spec(placement={"constraints": ["node.role==worker", constraint]})}}
    with pytest.raises(SchedulingError) as info:
        check_document(doc)
    assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_a_bad_spread_preference_is_refused() -> None:
    with pytest.raises(SchedulingError, match=r"^services\.web\.deploy\.placement\.preferences\[0\]\.spread: "):
        requirements(spec(placement={"preferences": [{"spread": "node.role"}]}), path="services.web")


def test_requirements_read_the_typed_model_too() -> None:
    from stackctl.model import Service
    svc = spec(placement={"constraints": ["node.role==manager"], "max_replicas_per_node": 3},
               resources={"reservations": {"cpus": 1.5, "memory": "1073741824"}})
    assert requirements(Service.from_dict(svc)) == requirements(svc)


def test_reasons_follow_the_order_the_constraints_are_written() -> None:
    svc = spec(placement={"constraints": ["node.labels.zone==z9", "node.role==manager"]})
    assert reasons(schedule(tasks(1), [node("n1"), node("m1", role="manager")], [], {("shop", "web"): svc})) == [
        "no node with node.labels.zone==z9; 1 node without node.role==manager"]


def test_a_task_given_as_running_too_is_not_counted_twice() -> None:
    pinned = task("agent", 0, node_name="n1")
    svc = {("shop", "agent"): spec(mode="global", resources={"reservations": {"memory": str(2 * GiB)}})}
    out = schedule([pinned], [node("n1", memory=2 * GiB)], [pinned], svc)
    assert isinstance(out[0], Placement)


def test_specs_of_stacks_feed_the_scheduler() -> None:
    shop = StackRecord(name="shop", document={"services": {"web": spec(placement={"max_replicas_per_node": 1})}},
                       version=1)
    out = schedule(tasks(2), [node("n1")], [], specs_of([shop]))
    assert placed(out) == {"n1": 1}
