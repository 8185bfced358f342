"""down, stop, start, restart, kill, rm: plans from lifecycle, executed along the DAG."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from stackctl.compose.apply import Applier
from stackctl.compose.project import Project
from stackctl.drivers.base import Driver
from stackctl.execute import Reporter, raise_for, run_actions
from stackctl.plan.actions import Plan
from stackctl.plan.lifecycle import plan_down, plan_start, plan_stop_like
from stackctl.plan.observed import Observed


@dataclass(frozen=True)
class Target:
    """A project to act on: the loaded one, or only a name (then containers are found by label)."""

    name: str
    project: Project | None = None

    @property
    def doc(self) -> Mapping[str, Any] | None:
        return self.project.doc if self.project else None


def _applier(driver: Driver, target: Target, timeout: int | None) -> Applier:
    from stackctl.compose.project import from_document

    project = target.project or from_document({"name": target.name, "services": {}})
    return Applier(driver, project, timeout=timeout)


def run_plan(driver: Driver, target: Target, plan: Plan, *, limit: int = 16, timeout: int | None = None,
             reporter: Reporter | None = None) -> Plan:
    applier = _applier(driver, target, timeout)
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
    if kind == "restart_container" and services and target.doc is not None:
        services = with_restart_dependents(target.doc, services)
    if kind == "start_container":
        plan = plan_start(target.doc, observed, services=services)
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
        if kind == "restart_container":
            plan = restart_order(plan, target.doc)
    if dry_run:
        return plan
    return run_plan(driver, target, plan, limit=limit, timeout=timeout, reporter=reporter)


def with_restart_dependents(doc: Mapping[str, Any], services: tuple[str, ...]) -> tuple[str, ...]:
    """`restart db` also restarts the services that declare `depends_on: {db: {restart: true}}`."""
    from stackctl.plan.diff import dependencies

    out = list(services)
    for name, svc in (doc.get("services") or {}).items():
        if name not in out and any(d.restart and d.service in services for d in dependencies(svc)):
            out.append(name)
    return tuple(out)


def restart_order(plan: Plan, doc: Mapping[str, Any] | None) -> Plan:
    """As docker compose: a service restarts once the services it depends on with `restart: true`
    have restarted (dependencies first, unlike stop); other services restart side by side."""
    from stackctl.plan.diff import dependencies

    services = (doc or {}).get("services") or {}
    ids: dict[str | None, list[str]] = {}
    for a in plan.actions:
        ids.setdefault(a.service, []).append(a.id)
    out = []
    for a in plan.actions:
        deps = [d.service for d in dependencies(services.get(a.service) or {}) if d.restart]
        out.append(replace(a, needs=tuple(i for d in deps for i in ids.get(d, ()))))
    return Plan(tuple(out), plan.warnings)


def _running(observed: Observed, cid: Any) -> bool:
    return any(c.id == cid and c.running for c in observed.containers)
