"""`run`: a one-off container of a service (labels oneoff=True and slug, name `<p>-<svc>-run-<12 hex>`)."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import dataclass, field, replace

from stackctl import labels as L
from stackctl.compose.logs import stream_logs
from stackctl.compose.project import Project
from stackctl.drivers.base import ContainerSpec, Driver
from stackctl.engine.container_config import build_container_spec


@dataclass(frozen=True)
class RunRequest:
    service: str
    command: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    user: str | None = None
    workdir: str | None = None
    entrypoint: str | None = None
    name: str | None = None
    remove: bool = False
    detach: bool = False
    service_ports: bool = False


def oneoff_spec(project: Project, request: RunRequest, *, slug: str, image_id: str | None) -> ContainerSpec:
    """The create request of a one-off container; ``slug`` is a random 64-hex id given by the caller."""
    name = request.name or f"{project.name}-{request.service}-run-{slug[:12]}"
    base = build_container_spec(project.doc, project.ctx, request.service, 1, image_id=image_id,
                                create_name=name, publish=request.service_ports)
    config = dict(base.config)
    labels = {k: v for k, v in config["Labels"].items() if k != L.CONTAINER_NUMBER}
    labels.update({L.ONEOFF: "True", L.SLUG: slug})
    config["Labels"] = labels
    if not request.service_ports:
        host = dict(config["HostConfig"])
        host.pop("PortBindings", None)
        config["HostConfig"] = host
    if request.command:
        config["Cmd"] = list(request.command)
    if request.entrypoint is not None:
        config["Entrypoint"] = [request.entrypoint] if request.entrypoint else []
    if request.env:
        config["Env"] = [*config.get("Env", []), *(f"{k}={v}" for k, v in request.env.items())]
    if request.user:
        config["User"] = request.user
    if request.workdir:
        config["WorkingDir"] = request.workdir
    config["Tty"] = False
    networks = {net: {**ep, "Aliases": [name]} for net, ep in base.networks.items()}
    return replace(base, name=name, config=config, networks=networks)


def run_oneoff(driver: Driver, project: Project, request: RunRequest, *, slug: str,
               image_id: str | None, stdin_fd: int | None = None, tty: bool = False) -> int:
    """Create and start the container; unless detached, wire it to this process's terminal or pipes
    (``stdin_fd``) and return its exit code."""
    spec = oneoff_spec(project, request, slug=slug, image_id=image_id)
    if request.detach:
        new_id = driver.create_container(spec)
        driver.start_container(new_id)
        print(new_id)  # as docker compose run -d: the new container's ID
        return 0
    attached = getattr(driver, "run_attached", None)
    cid: str | None = None
    try:
        if attached is not None:
            cid, code = attached(spec, tty=tty, stdin_fd=stdin_fd)
            return int(code)
        cid = driver.create_container(spec)
        driver.start_container(cid)
        stream_logs(driver, [driver.inspect_container(cid)], follow=True, no_prefix=True, out=sys.stdout)
        return driver.wait_container(cid)
    finally:
        if request.remove:
            driver.remove_container(cid or spec.name, force=True)
