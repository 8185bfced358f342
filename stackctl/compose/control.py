"""down, stop, start, restart, kill, rm: plans from lifecycle, executed along the DAG."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stackctl.engine.apply import Applier
from stackctl.compose.project import Project
from stackctl.drivers.base import Driver
from stackctl.execute import Reporter, raise_for, run_actions
from stackctl.plan.actions import LOCAL, Plan
from stackctl.plan.lifecycle import plan_down, plan_restart, plan_start, plan_stop_like
from stackctl.plan.observed import Observed


@dataclass(frozen=True)
class Target:
    """A project to act on: the loaded one, or only a name (then containers are found by label)."""

    name: str
    project: Project | None = None

    @property
    def doc(self) -> Mapping[str, Any] | None:
        return self.project.doc if self.project else None


def _applier(driver: Driver, timeout: int | None) -> Applier:
    return Applier({LOCAL: driver}, timeout=timeout)


def run_plan(driver: Driver, target: Target, plan: Plan, *, limit: int = 16, timeout: int | None = None,
             reporter: Reporter | None = None) -> Plan:
    applier = _applier(driver, timeout)
    outcome = run_actions(plan.actions, applier.run, limit=limit, reporter=reporter)
    raise_for(outcome, plan.by_id())
    return plan


def _observe(driver: Driver, target: Target) -> Observed:
    observed = driver.observe(target.name)
    disabled = target.project.disabled if target.project else frozenset()
    kept = tuple(c for c in observed.containers if c.service not in disabled)
    return Observed(observed.project, kept, observed.networks, observed.volumes,
                    observed.engine_networks, observed.engine_volumes)


def down(driver: Driver, target: Target, *, volumes: bool = False, remove_orphans: bool = False,
         timeout: int | None = None, dry_run: bool = False, limit: int = 16,
         reporter: Reporter | None = None) -> Plan:
    plan = plan_down(target.doc, _observe(driver, target), project=target.name, volumes=volumes,
                     remove_orphans=remove_orphans, timeout=timeout)
    if dry_run:
        return plan
    return run_plan(driver, target, plan, limit=limit, timeout=timeout, reporter=reporter)


def stop_like(driver: Driver, target: Target, kind: str, *, services: tuple[str, ...] = (),
              timeout: int | None = None, signal: str | None = None, volumes: bool = False,
              dry_run: bool = False, limit: int = 16, reporter: Reporter | None = None) -> Plan:
    """kind: stop_container | kill_container | restart_container | remove_container (rm: stopped only)."""
    observed = _observe(driver, target)
    if kind == "start_container":
        plan = plan_start(target.doc, observed, services=services)
    elif kind == "restart_container":
        plan = plan_restart(target.doc, observed, services=services, params={"timeout": timeout})
    else:
        params: dict[str, Any] = {"timeout": timeout}
        if signal:
            params["signal"] = signal
        if kind == "remove_container":
            params.update({"stop": False, "volumes": volumes})
        only_running = kind in ("stop_container", "kill_container")
        plan = plan_stop_like(kind, target.doc, observed, services=services, params=params,
                              only_running=only_running)
        if kind == "remove_container":
            plan = Plan(tuple(a for a in plan.actions
                              if not _running(observed, a.params.get("id"))), plan.warnings)
    if dry_run:
        return plan
    return run_plan(driver, target, plan, limit=limit, timeout=timeout, reporter=reporter)




def _running(observed: Observed, cid: Any) -> bool:
    return any(c.id == cid and c.running for c in observed.containers)
