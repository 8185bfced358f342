"""Applies the actions of a bound Plan: the ``run`` coroutine the executor calls for each action.

One generic piece for every engine: each action goes to the driver of its ``engine`` (one entry for
the laptop, one per node for a cluster), and its kind picks the handler from an explicit table.
Everything an action needs travels in it (see :mod:`stackctl.engine.bind`); no compose document is
read here. Driver calls are synchronous; each runs in a worker thread, so the caller's event loop
stays free. Container starts that publish host ports are serialized per engine (as docker compose
does) to avoid the engine's port-allocation race.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from stackctl.drivers.base import Driver
from stackctl.errors import DriverError, ExecutionError, PlanError
from stackctl.plan.actions import Action, ContainerSpec

POLL_SECONDS = 0.2


async def _call(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    return await asyncio.to_thread(fn, *args, **kwargs)


@dataclass
class Applier:
    """``drivers``: engine name -> its driver. ``timeout``: stop timeout; ``wait_timeout``: how long a
    ``wait`` action waits for its condition."""

    drivers: Mapping[str, Driver]
    timeout: int | None = None
    wait_timeout: float | None = None
    warnings: list[str] = field(default_factory=list)
    _port_locks: dict[str, threading.Lock] = field(default_factory=dict)

    async def run(self, action: Action) -> None:
        try:
            driver = self.drivers[action.engine]
        except KeyError:
            raise PlanError(f'{action.describe()}: no driver for engine "{action.engine}"') from None
        await HANDLERS[action.kind](self, driver, action)

    def port_lock(self, engine: str) -> threading.Lock:
        return self._port_locks.setdefault(engine, threading.Lock())


Handler = Callable[[Applier, Driver, Action], Awaitable[None]]


def _bound(action: Action, value: Any, what: str) -> Any:
    if value is None:
        raise PlanError(f"{action.describe()}: the plan carries no {what} (bind it first)")
    return value


async def _pull_image(ap: Applier, driver: Driver, action: Action) -> None:
    await _call(driver.pull_image, action.target)


async def _build_image(ap: Applier, driver: Driver, action: Action) -> None:
    await _call(driver.build_image, _bound(action, action.build, "build request"))


async def _create_network(ap: Applier, driver: Driver, action: Action) -> None:
    await _call(driver.create_network, action.target, action.params["body"], action.params["labels"])


async def _recreate_network(ap: Applier, driver: Driver, action: Action) -> None:
    """As docker compose: stop the attached containers (dependents first), disconnect them, remove
    the network, create it with the file's settings, reconnect them (with their service's aliases
    and addresses); the plan starts them again, except those of services outside this `up`."""
    others = await _call(_unplanned_on, driver, action)  # e.g. of services left out of this `up`
    running = [c["id"] for c in others if c["running"] and not c["oneoff"]]
    for group in [*action.params["stop"], running]:
        await asyncio.gather(*(_call(driver.stop_container, cid, timeout=ap.timeout) for cid in group))
    attached = [*action.params["attached"], *others]
    await asyncio.gather(*(_call(driver.disconnect_network, action.target, c["id"]) for c in attached))
    try:
        await _call(driver.remove_network, action.target)
    except DriverError as exc:  # still used, e.g. by another project's container: put everything back
        await _reconnect(driver, action, attached)
        stopped = [cid for group in action.params["stop"] for cid in group]
        await asyncio.gather(*(_call(driver.start_container, cid) for cid in [*stopped, *running]))
        raise DriverError(f'network "{action.target}" must be recreated (its settings changed) but cannot be '
                          f"removed: {exc}; it keeps its old settings") from exc
    await _create_network(ap, driver, action)
    await _reconnect(driver, action, attached)
    await asyncio.gather(*(_call(driver.start_container, cid) for cid in [*action.params["restart"], *running]))


async def _reconnect(driver: Driver, action: Action, attached: list[Mapping[str, Any]]) -> None:
    for c in attached:
        await _call(driver.connect_network, action.target, c["id"], _endpoint(action, c))


def _unplanned_on(driver: Driver, action: Action) -> list[dict[str, Any]]:
    """The project's containers on the network that the plan did not see (filtered out, or new)."""
    known = {c["id"] for c in action.params["attached"]}
    return [{"id": c.id, "name": c.name, "service": c.service, "number": c.number, "oneoff": c.oneoff,
             "running": c.running}
            for c in driver.observe(action.params["project"]).containers
            if action.target in c.networks and c.id not in known]


def _endpoint(action: Action, container: Mapping[str, Any]) -> Mapping[str, Any] | None:
    """The endpoint a service's container gets on the network when it is created; None for one-off
    containers and services no longer in the file."""
    ep = (action.params.get("endpoints") or {}).get(container["service"])
    if ep is None or container["oneoff"]:
        return None
    return {**ep, "Aliases": [container["name"], *ep.get("Aliases", [])]}


async def _create_volume(ap: Applier, driver: Driver, action: Action) -> None:
    await _call(driver.create_volume, action.target, action.params["body"], action.params["labels"])


def _spec(driver: Driver, action: Action) -> ContainerSpec:
    """The action's container spec, finished with the containers its service names (when it names
    any: they are looked up now, since the same plan may have created them)."""
    spec: ContainerSpec = _bound(action, action.spec, "container spec")
    late = action.params.get("peers")
    if not late:
        return spec
    from stackctl.engine.container_config import with_peers

    wanted = tuple(late["services"])
    seen = driver.observe(late["project"], services=wanted).containers
    peers = {s: sorted((c.name, c.id) for c in seen if c.service == s and not c.oneoff) for s in wanted}
    return with_peers(spec, late["service"], project=late["project"], number=int(late["number"]), peers=peers)


async def _create_container(ap: Applier, driver: Driver, action: Action) -> None:
    await _call(lambda: driver.create_container(_spec(driver, action)))


async def _recreate_container(ap: Applier, driver: Driver, action: Action) -> None:
    """Create the new container first: if that fails, the old one keeps running untouched."""
    old_id = action.params["old_id"]
    spec = inherit_volumes(await _call(_spec, driver, action), action.params.get("inherit") or {})
    new_id = await _call(driver.create_container, spec)
    await _call(driver.stop_container, old_id, timeout=ap.timeout)
    await _call(driver.remove_container, old_id, force=True)
    await _call(driver.rename_container, new_id, action.target)


async def _start_container(ap: Applier, driver: Driver, action: Action) -> None:
    ref = action.params.get("id") or action.target
    if action.params.get("ports"):
        lock = ap.port_lock(action.engine)

        def locked() -> None:
            with lock:
                driver.start_container(ref)
        await _call(locked)
    else:
        await _call(driver.start_container, ref)


async def _stop_container(ap: Applier, driver: Driver, action: Action) -> None:
    await _call(driver.stop_container, action.params["id"], timeout=ap.timeout)


async def _kill_container(ap: Applier, driver: Driver, action: Action) -> None:
    await _call(driver.kill_container, action.params["id"], signal=action.params.get("signal") or "SIGKILL")


async def _restart_container(ap: Applier, driver: Driver, action: Action) -> None:
    await _call(driver.restart_container, action.params["id"], timeout=ap.timeout)


async def _remove_container(ap: Applier, driver: Driver, action: Action) -> None:
    cid = action.params["id"]
    timeout = action.params.get("timeout", ap.timeout)
    if action.params.get("stop", True) and timeout != 0:  # -t 0: the forced removal kills at once
        try:
            await _call(driver.stop_container, cid, timeout=timeout)
        except DriverError:
            pass  # already stopped or gone; the removal below reports real problems
    await _call(driver.remove_container, cid, force=True, volumes=bool(action.params.get("volumes")))


async def _remove_network(ap: Applier, driver: Driver, action: Action) -> None:
    await _call(driver.remove_network, action.target)


async def _remove_volume(ap: Applier, driver: Driver, action: Action) -> None:
    try:
        await _call(driver.remove_volume, action.target)
    except DriverError:
        if not action.params.get("best_effort"):
            raise  # an anonymous volume already gone with its container, or shared: not an error


async def _wait(ap: Applier, driver: Driver, action: Action) -> None:
    try:
        await wait_condition(driver, action.params["project"], str(action.service), action.params["condition"],
                             timeout=ap.wait_timeout)
    except ExecutionError as exc:
        if action.params.get("required", True):
            raise
        ap.warnings.append(f'optional dependency "{action.service}" failed: {exc}')


HANDLERS: Mapping[str, Handler] = {
    "pull_image": _pull_image, "build_image": _build_image,
    "create_network": _create_network, "recreate_network": _recreate_network, "create_volume": _create_volume,
    "create_container": _create_container, "recreate_container": _recreate_container,
    "start_container": _start_container, "stop_container": _stop_container, "kill_container": _kill_container,
    "restart_container": _restart_container, "remove_container": _remove_container,
    "remove_network": _remove_network, "remove_volume": _remove_volume, "wait": _wait,
}


def inherit_volumes(spec: ContainerSpec, anonymous: Mapping[str, str]) -> ContainerSpec:
    """The new container keeps the old one's anonymous volumes (declared without a name in the file,
    or by the image's VOLUME), as docker compose does: their data survives a recreate."""
    if not anonymous:
        return spec
    host = dict(spec.config.get("HostConfig") or {})
    mounts = [dict(m) for m in host.get("Mounts") or []]
    taken = {m["Target"] for m in mounts} | {b.split(":")[1] for b in host.get("Binds") or [] if ":" in b}
    for m in mounts:
        if m.get("Type") == "volume" and not m.get("Source") and m["Target"] in anonymous:
            m["Source"] = anonymous[m["Target"]]
    mounts += [{"Type": "volume", "Source": name, "Target": dest, "ReadOnly": False}
               for dest, name in sorted(anonymous.items()) if dest not in taken]
    host["Mounts"] = mounts
    return replace(spec, config={**spec.config, "HostConfig": host})


def condition_state(containers: list[Any], service: str, condition: str) -> bool | str:
    """True when the condition holds, False while it may still hold, or the reason it never will."""
    if not containers:
        return f"service {service} has no container"
    for c in containers:
        if condition == "service_completed_successfully":
            if c.state in ("exited", "dead"):
                if c.exit_code:
                    return f'service "{service}" didn\'t complete successfully: exit {c.exit_code}'
                continue
            return False
        if c.state in ("exited", "dead"):
            return f"container {c.name} exited ({c.exit_code})"
        if condition == "service_healthy":
            if c.health is None:
                return f"container {c.name} has no healthcheck configured"
            if c.health == "unhealthy":
                return f"container {c.name} is unhealthy"
            if c.health != "healthy":
                return False
        elif c.state != "running":
            return False
    return True


async def wait_condition(driver: Driver, project: str, service: str, condition: str, *,
                         timeout: float | None = None, poll: float = POLL_SECONDS,
                         what: str | None = "dependency failed to start") -> None:
    loop = asyncio.get_running_loop()
    deadline = None if timeout is None else loop.time() + timeout
    while True:
        seen = await asyncio.to_thread(driver.observe, project, services=(service,))
        state = condition_state([c for c in seen.containers if not c.oneoff], service, condition)
        if state is True:
            return
        if isinstance(state, str):
            raise ExecutionError(f"{what}: {state}" if what else state)
        if deadline is not None and loop.time() > deadline:
            raise ExecutionError(f"timeout waiting for {service} ({condition})")
        await asyncio.sleep(poll)
