"""`up` (and `create`, `scale`): images, then plan, then execute along the DAG, then optionally wait.

:func:`prepare` observes and plans (blocking reads, no change); :func:`apply` changes the engine on
the caller's event loop (engine calls in worker threads); :func:`up` is both. The CLI calls
``asyncio.run`` only when :func:`finished` says there is something to apply.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from stackctl.compose.project import Project
from stackctl.drivers.base import Driver
from stackctl.engine.images import plan_images
from stackctl.errors import ExecutionError
from stackctl.model.reading import awaited_to_complete, has_healthcheck, replicas_of
from stackctl.plan.actions import Plan
from stackctl.plan.diff import UpOptions, desired_services, plan_up, selected_services
from stackctl.plan.observed import Observed

if TYPE_CHECKING:
    from stackctl.engine.apply import Applier
    from stackctl.execute import Reporter
# asyncio, the executor and the applier are imported only when there is something to do: an `up`
# that finds everything up to date stays fast.


@dataclass(frozen=True)
class UpRequest:
    options: UpOptions = field(default_factory=UpOptions)
    pull: str = "policy"
    build: bool | None = None
    dry_run: bool = False
    wait: bool = False
    wait_timeout: float | None = None
    limit: int = 16
    timeout: int | None = None


@dataclass
class UpResult:
    plan: Plan
    images: Plan
    warnings: list[str] = field(default_factory=list)


def chosen_services(project: Project, options: UpOptions) -> list[str]:
    desired = desired_services(project.doc, project.name, image_ids={}, scale=options.scale)
    return selected_services(desired, options.services, no_deps=options.no_deps)


def inspect_images(driver: Driver, refs: set[str]) -> dict[str, str | None]:
    """Image ID per reference (None: not on the engine), looked up in parallel."""
    if len(refs) <= 1:
        return {ref: driver.image_id(ref) for ref in refs}
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=min(8, len(refs))) as pool:
        return dict(zip(refs, pool.map(driver.image_id, refs)))


def _observe_meanwhile(driver: Driver, project: str) -> Callable[[], Observed]:
    """Start ``driver.observe`` in a thread; the returned function waits for its result (or error).
    A plain thread: concurrent.futures would import logging (about 9 ms of a no-change `up`)."""
    box: dict[str, Any] = {}

    def work() -> None:
        try:
            box["value"] = driver.observe(project)
        except Exception as exc:  # noqa: BLE001 - re-raised in the caller's thread by result()
            box["error"] = exc

    thread = threading.Thread(target=work, daemon=True)
    thread.start()

    def result() -> Observed:
        thread.join()
        if "error" in box:
            raise box["error"]
        return box["value"]  # type: ignore[no-any-return]
    return result


@dataclass
class Prepared:
    """What `up` found and decided before changing anything: the services it covers, the image IDs
    present, the image plan (builds, pulls) and the container plan for the images present now."""

    services: list[str]
    present: dict[str, str | None]
    observed: Observed
    images: Plan
    plan: Plan


def prepare(driver: Driver, project: Project, request: UpRequest) -> Prepared:
    """Observe the engine and plan, changing nothing (blocking engine reads: run it in a thread when
    an event loop must stay free). A `--dry-run` prints this."""
    services = chosen_services(project, request.options)
    refs = {project.image_of(s) for s in services}
    observed_result = _observe_meanwhile(driver, project.name)
    present = inspect_images(driver, refs)
    observed = _without_disabled(observed_result(), project)
    images = plan_images(project, services, present, pull=request.pull, build=request.build)
    return Prepared(services, present, observed, images, _plan(project, request, observed, present))


def _plan(project: Project, request: UpRequest, observed: Observed, present: Mapping[str, str | None]) -> Plan:
    image_ids = {s: present.get(project.image_of(s)) for s in project.services}
    return plan_up(project.doc, observed, project=project.name, image_ids=image_ids, options=request.options)


def finished(prepared: Prepared, request: UpRequest) -> UpResult | None:
    """The result when nothing is left to apply (or with --dry-run); None when :func:`apply` must run.
    Lets the CLI answer a no-change `up` without starting an event loop."""
    if request.dry_run or not (prepared.images.actions or prepared.plan.actions or request.wait):
        return UpResult(prepared.plan, prepared.images, list(prepared.plan.warnings))
    return None


async def apply(driver: Driver, project: Project, request: UpRequest, prepared: Prepared, *,
                reporter: Reporter | None = None, publish: Callable[[str], bool] | None = None,
                before_apply: Callable[[Plan], None] | None = None) -> UpResult:
    """Make the engine match the project, on the caller's event loop (engine calls run in threads);
    raises ExecutionError naming failed and skipped services. ``before_apply`` (blocking) sees the
    container plan before anything changes (the load balancer drains replicas the plan removes)."""
    import asyncio

    from stackctl.engine.apply import Applier
    from stackctl.plan.actions import LOCAL

    applier = Applier({LOCAL: driver}, timeout=request.timeout, wait_timeout=request.wait_timeout)
    plan, present = prepared.plan, dict(prepared.present)
    if prepared.images.actions:
        await run_plan(_bind(prepared.images, project, {}), applier, limit=request.limit, reporter=reporter)
        present.update(await asyncio.to_thread(inspect_images, driver, {a.target for a in prepared.images.actions}))
        plan = _plan(project, request, prepared.observed, present)
    result = UpResult(plan, prepared.images, list(plan.warnings))
    if plan.actions:
        if before_apply is not None:
            await asyncio.to_thread(before_apply, plan)
        elsewhere = request.options.ports_elsewhere
        image_ids = {s: present.get(project.image_of(s)) for s in project.services}
        bound = _bind(plan, project, image_ids, publish or (lambda s: s not in elsewhere))
        try:
            await run_plan(bound, applier, limit=request.limit, reporter=reporter)
        finally:
            result.warnings += applier.warnings
        if not request.wait:  # --wait looks at every container itself, after they had time to die
            await asyncio.to_thread(check_started, driver, project, plan)
    if request.wait:
        await wait_services(driver, project, prepared.services, timeout=request.wait_timeout)
    return result


async def up(driver: Driver, project: Project, request: UpRequest, *, reporter: Reporter | None = None,
             publish: Callable[[str], bool] | None = None,
             before_apply: Callable[[Plan], None] | None = None) -> UpResult:
    """:func:`prepare` then :func:`apply`, on the caller's event loop."""
    import asyncio

    prepared = await asyncio.to_thread(prepare, driver, project, request)
    done = finished(prepared, request)
    if done is not None:
        return done
    return await apply(driver, project, request, prepared, reporter=reporter, publish=publish,
                       before_apply=before_apply)


def _without_disabled(observed: Observed, project: Project) -> Observed:
    """Containers of profile-disabled services are neither planned nor orphans."""
    if not project.disabled:
        return observed
    kept = tuple(c for c in observed.containers if c.service not in project.disabled)
    return Observed(observed.project, kept, observed.networks, observed.volumes,
                    observed.engine_networks, observed.engine_volumes)


def check_started(driver: Driver, project: Project, plan: Plan) -> None:
    """A container this run started that has already exited with an error is a failure of its
    service (one-shot services that exit 0 are fine); nothing else is stopped. No waiting here, so a
    container that dies later is only seen by `--wait`, which waits for every service."""
    started = {a.target for a in plan.actions if a.kind in ("start_container", "restart_container")}
    if not started:
        return
    dead = [c for c in driver.observe(project.name).containers
            if c.name in started and c.state in ("exited", "dead") and c.exit_code]
    if dead:
        failed = {c.service: f"container {c.name} exited at once with code {c.exit_code} "
                             f"(see `stackctl compose logs {c.service}`)" for c in dead}
        message = "; ".join(f"service {s}: {m}" for s, m in sorted(failed.items()))
        raise ExecutionError(message, failed=failed)


def _bind(plan: Plan, project: Project, image_ids: Mapping[str, str | None],
          publish: Callable[[str], bool] = lambda s: True) -> Plan:
    """The plan with each action's full request bound in, for the one local engine."""
    from stackctl.engine.bind import bind

    return bind(plan, project, image_ids=image_ids, publish=publish)


async def run_plan(plan: Plan, applier: Applier, *, limit: int, reporter: Reporter | None) -> None:
    """Execute a bound plan along its DAG on the caller's event loop; ExecutionError on a failure."""
    from stackctl.execute import execute, raise_for

    outcome = await execute(plan.actions, applier.run, limit=limit, reporter=reporter)
    raise_for(outcome, plan.by_id())


async def wait_services(driver: Driver, project: Project, services: list[str], *,
                        timeout: float | None, settle: float = 1.0) -> None:
    """--wait: every service running (or healthy when it has a healthcheck); one-shot ones exited 0."""
    import asyncio

    from stackctl.engine.apply import wait_condition

    one_shot = awaited_to_complete(project.services)

    def condition(name: str) -> str:
        if name in one_shot:
            return "service_completed_successfully"
        return "service_healthy" if has_healthcheck(project.services[name]) else "service_started"

    async def one(name: str) -> None:
        try:
            await wait_condition(driver, project.name, name, condition(name), timeout=timeout, what=None)
        except ExecutionError as exc:
            raise ExecutionError(f"application not healthy: service {name}: {exc}",
                                 failed={name: str(exc)}) from exc

    async def all_of() -> None:
        await asyncio.gather(*(one(s) for s in services if replicas_of(project.services[s]) > 0))
        await asyncio.sleep(settle)  # a container that is "running" for an instant and then dies fails too
        seen = await asyncio.to_thread(driver.observe, project.name)
        dead = sorted((c for c in seen.containers if c.service in services and not c.oneoff
                       and c.state in ("exited", "dead") and c.exit_code), key=lambda c: c.name)
        if dead:
            failed = {c.service: f"container {c.name} exited ({c.exit_code})" for c in dead}
            raise ExecutionError("application not healthy: " + "; ".join(
                f"service {s}: {m}" for s, m in failed.items()), failed=failed)

    await all_of()


async def prepare_resources(driver: Driver, project: Project, service: str, *, request: UpRequest | None = None,
                            reporter: Reporter | None = None) -> str | None:
    """What a one-off container of ``service`` needs (image, networks, volumes), leaving the service's
    own containers alone. Returns the image ID."""
    import asyncio

    from stackctl.engine.apply import Applier
    from stackctl.plan.actions import LOCAL

    request = request or UpRequest()
    ref = project.image_of(service)
    present = {ref: await asyncio.to_thread(driver.image_id, ref)}
    images = plan_images(project, [service], present, pull=request.pull, build=request.build)
    applier = Applier({LOCAL: driver}, timeout=request.timeout)
    if images.actions:
        await run_plan(_bind(images, project, {}), applier, limit=request.limit, reporter=reporter)
        present[ref] = await asyncio.to_thread(driver.image_id, ref)
    options = UpOptions(services=(service,), no_deps=True, recreate="never", start=False, ignore_orphans=True)
    observed = await asyncio.to_thread(driver.observe, project.name)
    plan = plan_up(project.doc, observed, project=project.name, image_ids={service: present[ref]}, options=options)
    infra = Plan(tuple(a for a in plan.actions if a.kind in ("create_network", "create_volume")))
    if infra.actions:
        await run_plan(_bind(infra, project, {}), applier, limit=request.limit, reporter=reporter)
    return present[ref]
