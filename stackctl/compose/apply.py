"""Runs the actions of a Plan on a Driver: the ``run`` coroutine the executor calls for each action.

Driver calls are synchronous; each one runs in a worker thread. Container starts that publish a
fixed host port are serialized (as docker compose does) to avoid the engine's port-allocation race.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from stackctl.compose.container_config import (
    Peers,
    build_container_spec,
    endpoints,
    network_body,
    referenced_services,
    volume_body,
)
from stackctl.compose.images import build_spec
from stackctl.compose.project import Project
from stackctl.drivers.base import ContainerSpec, Driver
from stackctl.errors import DriverError, ExecutionError
from stackctl.plan.actions import Action

POLL_SECONDS = 0.2


@dataclass
class Applier:
    driver: Driver
    project: Project
    image_ids: Mapping[str, str | None] = field(default_factory=dict)
    timeout: int | None = None
    wait_timeout: float | None = None
    publish: Callable[[str], bool] = lambda service: True
    warnings: list[str] = field(default_factory=list)
    _port_lock: threading.Lock = field(default_factory=threading.Lock)

    async def run(self, action: Action) -> None:
        handler = getattr(self, f"_{action.kind}")
        await handler(action)

    @property
    def doc(self) -> Mapping[str, Any]:
        return self.project.doc

    @property
    def ctx(self):  # type: ignore[no-untyped-def]
        return self.project.ctx

    async def _pull_image(self, action: Action) -> None:
        await self._call(self.driver.pull_image, action.target)

    async def _build_image(self, action: Action) -> None:
        await self._call(self.driver.build_image, build_spec(self.project, str(action.service)))

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    def _spec(self, action: Action, **kw: Any):  # type: ignore[no-untyped-def]
        service = str(action.service)
        return build_container_spec(self.doc, self.ctx, service, int(action.number or 1),
                                    image_id=self.image_ids.get(service), publish=self.publish(service),
                                    peers=self._peers(service), **kw)

    def _peers(self, service: str) -> Peers:
        """The existing containers of the services ``service`` names (links, `service:x`)."""
        wanted = referenced_services(self.doc["services"][service])
        if not wanted:
            return {}
        seen = self.driver.observe(self.ctx.name, services=wanted).containers
        return {s: sorted((c.name, c.id) for c in seen if c.service == s and not c.oneoff) for s in wanted}

    async def _create_network(self, action: Action) -> None:
        body, labels = network_body(self.ctx, action.params["key"], action.params["config"])
        await self._call(self.driver.create_network, action.target, body, labels)

    async def _recreate_network(self, action: Action) -> None:
        """As docker compose: stop the attached containers (dependents first), disconnect them, remove
        the network, create it with the file's settings, reconnect them (with their service's aliases
        and addresses); the plan starts them again, except those of services outside this `up`."""
        others = await self._call(self._unplanned_on, action)  # e.g. of services left out of this `up`
        running = [c["id"] for c in others if c["running"] and not c["oneoff"]]
        for group in [*action.params["stop"], running]:
            await asyncio.gather(*(self._call(self.driver.stop_container, cid, timeout=self.timeout)
                                   for cid in group))
        attached = [*action.params["attached"], *others]
        await asyncio.gather(*(self._call(self.driver.disconnect_network, action.target, c["id"]) for c in attached))
        try:
            await self._call(self.driver.remove_network, action.target)
        except DriverError as exc:  # still used, e.g. by another project's container: put everything back
            await self._reconnect(action.target, attached)
            stopped = [cid for group in action.params["stop"] for cid in group]
            await asyncio.gather(*(self._call(self.driver.start_container, cid) for cid in [*stopped, *running]))
            raise DriverError(f'network "{action.target}" must be recreated (its settings changed) but cannot be '
                              f"removed: {exc}; it keeps its old settings") from exc
        await self._create_network(action)
        await self._reconnect(action.target, attached)
        await asyncio.gather(*(self._call(self.driver.start_container, cid)
                               for cid in [*action.params["restart"], *running]))

    async def _reconnect(self, network: str, attached: list[Mapping[str, Any]]) -> None:
        for c in attached:
            await self._call(self.driver.connect_network, network, c["id"], self._endpoint(network, c))

    def _unplanned_on(self, action: Action) -> list[dict[str, Any]]:
        """The project's containers on the network that the plan did not see (filtered out, or new)."""
        known = {c["id"] for c in action.params["attached"]}
        return [{"id": c.id, "name": c.name, "service": c.service, "number": c.number, "oneoff": c.oneoff,
                 "running": c.running}
                for c in self.driver.observe(self.ctx.name).containers
                if action.target in c.networks and c.id not in known]

    def _endpoint(self, network: str, container: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """The endpoint a service's container gets on ``network`` when it is created; None for one-off
        containers and services no longer in the file."""
        svc = (self.doc.get("services") or {}).get(container["service"])
        if svc is None or container["oneoff"]:
            return None
        return endpoints(self.doc, self.ctx, container["service"], svc, container["name"]).get(network)

    async def _create_volume(self, action: Action) -> None:
        body, labels = volume_body(self.ctx, action.params["key"], action.params["config"])
        await self._call(self.driver.create_volume, action.target, body, labels)

    async def _create_container(self, action: Action) -> None:
        await self._call(lambda: self.driver.create_container(self._spec(action)))

    async def _recreate_container(self, action: Action) -> None:
        """Create the new container first: if that fails, the old one keeps running untouched."""
        old_id = action.params["old_id"]
        spec = await self._call(lambda: inherit_volumes(
            self._spec(action, replace=f"{action.service}-{action.number}", create_name=f"{old_id[:12]}_{action.target}"),
            action.params.get("inherit") or {}))
        new_id = await self._call(self.driver.create_container, spec)
        await self._call(self.driver.stop_container, old_id, timeout=self.timeout)
        await self._call(self.driver.remove_container, old_id, force=True)
        await self._call(self.driver.rename_container, new_id, action.target)

    async def _start_container(self, action: Action) -> None:
        ref = action.params.get("id") or action.target
        svc = (self.doc.get("services") or {}).get(action.service or "") or {}
        if svc.get("ports"):
            await self._call(self._locked_start, ref)
        else:
            await self._call(self.driver.start_container, ref)

    def _locked_start(self, ref: str) -> None:
        with self._port_lock:
            self.driver.start_container(ref)

    async def _stop_container(self, action: Action) -> None:
        await self._call(self.driver.stop_container, action.params["id"], timeout=self.timeout)

    async def _kill_container(self, action: Action) -> None:
        await self._call(self.driver.kill_container, action.params["id"],
                         signal=action.params.get("signal") or "SIGKILL")

    async def _restart_container(self, action: Action) -> None:
        await self._call(self.driver.restart_container, action.params["id"], timeout=self.timeout)

    async def _remove_container(self, action: Action) -> None:
        cid = action.params["id"]
        timeout = action.params.get("timeout", self.timeout)
        if action.params.get("stop", True) and timeout != 0:  # -t 0: the forced removal kills at once
            try:
                await self._call(self.driver.stop_container, cid, timeout=timeout)
            except DriverError:
                pass  # already stopped or gone; the removal below reports real problems
        await self._call(self.driver.remove_container, cid, force=True,
                         volumes=bool(action.params.get("volumes")))

    async def _remove_network(self, action: Action) -> None:
        await self._call(self.driver.remove_network, action.target)

    async def _remove_volume(self, action: Action) -> None:
        try:
            await self._call(self.driver.remove_volume, action.target)
        except DriverError:
            if not action.params.get("best_effort"):
                raise  # an anonymous volume already gone with its container, or shared: not an error

    async def _wait(self, action: Action) -> None:
        try:
            await wait_condition(self.driver, self.ctx.name, str(action.service), action.params["condition"],
                                 timeout=self.wait_timeout)
        except ExecutionError as exc:
            if action.params.get("required", True):
                raise
            self.warnings.append(f'optional dependency "{action.service}" failed: {exc}')


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
