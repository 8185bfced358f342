"""Rolling updates, restart policies and depends_on ordering: the pure decisions (no engine, no etcd)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from stackctl.cluster.ordering import waiting_for
from stackctl.cluster.restarts import restart_policy, verdict
from stackctl.cluster.state import ServiceRecord, StackRecord, TaskRecord, UpdateStatus
from stackctl.cluster.updates import plan_update, rolled_back, update_config

NOW = 1000.0


def svc(*, hash_: str = "new", replicas: int = 4, update: UpdateStatus | None = None,
        previous: dict[str, Any] | None = None) -> ServiceRecord:
    return ServiceRecord(stack="s", service="web", version=2, spec_hash=hash_, replicas=replicas, update=update,
                         previous=previous)


def task(slot: int, hash_: str, *, state: str = "running", desired: str = "running", created: float = 500.0,
         health: str = "", started: float = 0.0, updated: float = 500.0, tid: int | None = None,
         service: str = "web") -> TaskRecord:
    return TaskRecord(id=f"{tid if tid is not None else slot:012x}", stack="s", service=service, slot=slot,
                      node="n1", desired=desired, state=state, spec_hash=hash_,  # type: ignore[arg-type]
                      created=created, updated=updated, health=health, started=started or created)


DOC = {"deploy": {"update_config": {"parallelism": 2, "monitor": "5s", "failure_action": "rollback"}}}


def test_an_update_starts_and_replaces_parallelism_slots_at_a_time_stop_first() -> None:
    old = [task(i, "old") for i in range(1, 5)]
    step = plan_update(svc(), DOC, old, now=NOW)
    assert step.status is not None and step.status.state == "updating" and step.status.target == "new"
    assert [t.slot for t in step.stop] == [1, 2] and not step.start_beside


def test_the_next_batch_waits_for_the_new_tasks_to_be_ready_then_the_delay() -> None:
    status = UpdateStatus(state="updating", target="new", started=900.0,
                          config=update_config({"deploy": {"update_config": {"parallelism": 2, "delay": "10s",
                                                                              "monitor": "1s"}}}).to_dict())
    tasks = [task(1, "new", created=950, state="starting"), task(2, "new", created=950, health="starting"),
             task(3, "old"), task(4, "old")]
    assert plan_update(svc(update=status), DOC, tasks, now=NOW).stop == ()
    ready = [task(1, "new", created=950, started=995), task(2, "new", created=950, started=996),
             task(3, "old"), task(4, "old")]
    step = plan_update(svc(update=status), DOC, ready, now=NOW)
    assert step.stop == () and step.wake == 1007.0  # ready, lived through monitor (1 s), then the delay
    assert [t.slot for t in plan_update(svc(update=status), DOC, ready, now=1007.0).stop] == [3, 4]
    young = [task(1, "new", created=950, started=999.5), task(2, "new", created=950, started=999.6),
             task(3, "old"), task(4, "old")]
    step = plan_update(svc(update=status), DOC, young, now=NOW)
    assert step.stop == () and step.wake == 1000.5  # a task may still crash within monitor


def test_start_first_starts_beside_and_stops_the_old_one_once_the_new_one_is_healthy() -> None:
    doc = {"deploy": {"update_config": {"order": "start-first"}}}
    step = plan_update(svc(replicas=2), doc, [task(1, "old"), task(2, "old")], now=NOW)
    assert [t.slot for t in step.start_beside] == [1] and not step.stop and step.hidden == {f"{1:012x}"}
    status = step.status
    beside = [task(1, "old"), task(1, "new", created=NOW, tid=9, health="starting"), task(2, "old")]
    assert plan_update(svc(replicas=2, update=status), doc, beside, now=NOW + 1).stop == ()
    healthy = [task(1, "old"), task(1, "new", created=NOW, tid=9, health="healthy"), task(2, "old")]
    step = plan_update(svc(replicas=2, update=status), doc, healthy, now=NOW + 2)
    assert [t.id for t in step.stop] == [f"{1:012x}"]


def test_a_new_task_failing_within_monitor_rolls_back_or_pauses_with_the_reason() -> None:
    status = UpdateStatus(state="updating", target="new", started=900.0, config=update_config(DOC).to_dict())
    tasks = [task(1, "new", created=950, started=951, updated=953, state="failed", desired="shutdown", tid=7),
             task(2, "old"), task(3, "old"), task(4, "old")]
    tasks[0] = replace(tasks[0], message="the container exited with code 3")
    prev = {"spec_hash": "old", "service": {"image": "x:1"}, "images": {}}
    step = plan_update(svc(update=status, previous=prev), DOC, tasks, now=NOW)
    assert step.rollback and step.status is not None
    assert step.status.message == ("rolling back: 1 of 4 new tasks exited within 5s "
                                   "(last: the container exited with code 3)")
    paused = replace(status, config={**status.config, "failure_action": "pause"})
    step = plan_update(svc(update=paused), DOC, tasks, now=NOW)
    assert step.status is not None and step.status.state == "paused" and not step.stop
    assert step.status.message.startswith("paused: 1 of 4 new tasks exited within 5s")
    later = [replace(tasks[0], updated=960.0)] + tasks[1:]  # failed after the monitor window: not counted
    assert plan_update(svc(update=status, previous=prev), DOC, later, now=NOW).rollback is False


def test_rolled_back_swaps_the_current_and_previous_specs() -> None:
    stack = StackRecord(name="s", document={"services": {"web": {"image": "x:2"}}}, version=3,
                        images={"x:2": "sha256:2"})
    prev = {"spec_hash": "old", "service": {"image": "x:1"}, "images": {"x:1": "sha256:1"}}
    new_stack, new_svc = rolled_back(stack, svc(previous=prev), now=NOW, status=None)
    assert new_stack.document["services"]["web"] == {"image": "x:1"} and new_stack.images["x:1"] == "sha256:1"
    assert new_svc.spec_hash == "old" and new_svc.previous is not None and new_svc.previous["spec_hash"] == "new"
    assert new_svc.update is not None and new_svc.update.state == "rollback_started"


def test_restart_policy_on_failure_with_max_attempts_and_window() -> None:
    policy = restart_policy({"deploy": {"restart_policy": {"condition": "on-failure", "delay": "1s",
                                                           "max_attempts": 2, "window": "30s"}}})
    failed = replace(task(1, "h", state="failed", desired="shutdown", updated=990.0, started=989.0), attempt=0)
    assert verdict(policy, [failed], spec_hash="h", now=NOW).attempt == 1
    assert verdict(policy, [failed], spec_hash="h", now=990.5).due == 991.0
    second = replace(failed, attempt=2)
    v = verdict(policy, [second], spec_hash="h", now=NOW)
    assert not v.start and v.gave_up == "gave up after 2 restarts (max_attempts 2)"
    long_run = replace(second, started=900.0)  # ran 90 s > window: a success, the count starts again
    assert verdict(policy, [long_run], spec_hash="h", now=NOW).attempt == 1
    done = replace(failed, state="complete")
    assert not verdict(policy, [done], spec_hash="h", now=NOW).start
    assert verdict(policy, [done], spec_hash="older", now=NOW).start  # a new spec: a first run


def test_depends_on_waits_for_each_condition() -> None:
    doc = {"api": {"depends_on": {"migrate": {"condition": "service_completed_successfully"},
                                  "db": {"condition": "service_healthy"}}}}
    services = {"migrate": ServiceRecord("s", "migrate", 1, "m", replicas=1),
                "db": ServiceRecord("s", "db", 1, "d", replicas=1)}
    running_migrate = task(1, "m", service="migrate", tid=1)
    assert "waiting for migrate" in str(waiting_for("api", doc, services, [running_migrate]))
    done = replace(running_migrate, desired="shutdown", state="complete")
    db_starting = task(1, "d", service="db", tid=2, health="starting")
    assert waiting_for("api", doc, services, [done, db_starting]) == \
        "waiting for db (service_healthy): 0/1 healthy"
    assert waiting_for("api", doc, services, [done, replace(db_starting, health="healthy")]) is None
    failed = replace(done, state="failed", message="exit 1")
    assert "a task failed: exit 1" in str(waiting_for("api", doc, services, [failed]))
