"""down, stop, start, restart, kill, rm: plans from lifecycle, executed along the DAG.

``*_plan`` functions observe and decide (blocking reads, no change); :func:`run_plan` applies a plan
on the caller's event loop; :func:`down` and :func:`stop_like` are both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stackctl.compose.project import Project
from stackctl.drivers.base import Driver
from stackctl.execute import Reporter
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


async def run_plan(driver: Driver, plan: Plan, *, limit: int = 16, timeout: int | None = None,
                   reporter: Reporter | None = None) -> Plan:
    """Apply ``plan`` (unbound: every action here carries what it needs) on the caller's event loop."""
    from stackctl.compose.up import run_plan as execute_plan
    from stackctl.engine.apply import Applier

    await execute_plan(plan, Applier({LOCAL: driver}, timeout=timeout), limit=limit, reporter=reporter)
    return plan


def _observe(driver: Driver, target: Target) -> Observed:
    observed = driver.observe(target.name)
    disabled = target.project.disabled if target.project else frozenset()
    kept = tuple(c for c in observed.containers if c.service not in disabled)
    return Observed(observed.project, kept, observed.networks, observed.volumes,
                    observed.engine_networks, observed.engine_volumes)


def down_plan(driver: Driver, target: Target, *, volumes: bool = False, remove_orphans: bool = False,
              timeout: int | None = None) -> Plan:
    return plan_down(target.doc, _observe(driver, target), project=target.name, volumes=volumes,
                     remove_orphans=remove_orphans, timeout=timeout)


async def down(driver: Driver, target: Target, *, volumes: bool = False, remove_orphans: bool = False,
               timeout: int | None = None, limit: int = 16, reporter: Reporter | None = None) -> Plan:
    import asyncio

    plan = await asyncio.to_thread(down_plan, driver, target, volumes=volumes, remove_orphans=remove_orphans,
                                   timeout=timeout)
    return await run_plan(driver, plan, limit=limit, timeout=timeout, reporter=reporter)


def stop_like_plan(driver: Driver, target: Target, kind: str, *, services: tuple[str, ...] = (),
                   timeout: int | None = None, signal: str | None = None, volumes: bool = False) -> Plan:
    """kind: stop_container | kill_container | restart_container | remove_container (rm: stopped only)."""
    observed = _observe(driver, target)
    if kind == "start_container":
        return plan_start(target.doc, observed, services=services)
    if kind == "restart_container":
        return plan_restart(target.doc, observed, services=services, params={"timeout": timeout})
    params: dict[str, Any] = {"timeout": timeout}
    if signal:
        params["signal"] = signal
    if kind == "remove_container":
        params.update({"stop": False, "volumes": volumes})
    only_running = kind in ("stop_container", "kill_container")
    plan = plan_stop_like(kind, target.doc, observed, services=services, params=params, only_running=only_running)
    if kind == "remove_container":
        plan = Plan(tuple(a for a in plan.actions if not _running(observed, a.params.get("id"))), plan.warnings)
    return plan


async def stop_like(driver: Driver, target: Target, kind: str, *, services: tuple[str, ...] = (),
                    timeout: int | None = None, signal: str | None = None, volumes: bool = False,
                    limit: int = 16, reporter: Reporter | None = None) -> Plan:
    import asyncio

    plan = await asyncio.to_thread(stop_like_plan, driver, target, kind, services=services, timeout=timeout,
                                   signal=signal, volumes=volumes)
    return await run_plan(driver, plan, limit=limit, timeout=timeout, reporter=reporter)


def _running(observed: Observed, cid: Any) -> bool:
    return any(c.id == cid and c.running for c in observed.containers)
