"""`up`/`scale` with replicas behind one fixed published port: the plan, wired to the balancer.

The CLI picks the balancer control (here, on an ssh:// engine's host, or none for tcp://) and hands
it in; this module decides which services the balancer fronts, prepares the balancer (installing it
on a remote host after asking, or refusing) before anything changes, drains replicas the plan
removes, and points the balancer at the replicas once they run.

    fronted = prepare(engine, project, request, lb=lb)     # blocking reads; may ask / refuse
    result = finished(fronted) or await apply(fronted, reporter=reporter)
    settle(fronted)                                        # balancer follows the replicas
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from stackctl.compose import frontdoor
from stackctl.compose.project import Project
from stackctl.compose.up import Prepared, UpRequest, UpResult
from stackctl.drivers.base import Driver

if TYPE_CHECKING:
    from stackctl.execute import Reporter
    from stackctl.lb.balancers import BalancerControl


@dataclass
class Fronted:
    engine: Driver
    project: Project
    request: UpRequest
    lb: BalancerControl
    prepared: Prepared


def prepare(engine: Driver, project: Project, request: UpRequest, *, lb: BalancerControl) -> Fronted:
    """The request with the balanced services' ports withheld from their containers, the balancer
    ready for them (raises before any change when it cannot be), and the plan."""
    from stackctl.compose import up

    balanced = frontdoor.balanced(project, request.options.scale, lb=lb)
    request = replace(request, options=replace(request.options, ports_elsewhere=balanced))
    if balanced:
        lb.prepare(dry_run=request.dry_run)  # install (asking) or refuse, before anything changes
    return Fronted(engine, project, request, lb, up.prepare(engine, project, request))


def finished(fronted: Fronted) -> UpResult | None:
    from stackctl.compose import up

    return up.finished(fronted.prepared, fronted.request)


async def apply(fronted: Fronted, *, reporter: Reporter | None) -> UpResult:
    from stackctl.compose import up

    f = fronted
    return await up.apply(f.engine, f.project, f.request, f.prepared, reporter=reporter,
                          before_apply=lambda plan: frontdoor.drain_removed(f.engine, f.project, f.request.options,
                                                                            plan, lb=f.lb))


def settle(fronted: Fronted) -> None:
    """Point the balancer at the running replicas (starting it if needed); nothing with --dry-run."""
    if not fronted.request.dry_run:
        frontdoor.sync(fronted.engine, fronted.project, fronted.request.options, lb=fronted.lb)
