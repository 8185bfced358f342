"""An in-memory Driver for unit tests of planning and execution (no engine, no threads needed).

It keeps containers, networks, volumes and images in dicts, applies labels like the engine, and
can be told to fail: ``fail_create`` (service names whose create fails), ``exit_codes`` (services
whose containers exit at once with that code), ``health`` (service -> reported health).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from stackctl import labels as L
from stackctl.drivers.base import BuildSpec, ContainerSpec
from stackctl.errors import DriverError
from stackctl.plan.observed import Observed, ObservedContainer, ObservedNetwork, ObservedVolume


@dataclass
class FakeDriver:
    images: dict[str, str] = field(default_factory=dict)  # ref -> id
    containers: dict[str, ObservedContainer] = field(default_factory=dict)  # id -> container
    networks: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> labels
    volumes: dict[str, dict[str, str]] = field(default_factory=dict)
    fail_create: set[str] = field(default_factory=set)
    exit_codes: dict[str, int] = field(default_factory=dict)
    health: dict[str, str] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    _ids: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    # --- observation
    def observe(self, project: str, *, services: tuple[str, ...] = ()) -> Observed:
        mine = tuple(c for c in self.containers.values() if c.labels.get(L.PROJECT) == project
                     and (not services or c.service in services))
        nets = tuple(ObservedNetwork(n, lab.get(L.NETWORK, n), config_hash=lab.get(L.CONFIG_HASH), labels=lab)
                     for n, lab in self.networks.items() if lab.get(L.PROJECT) == project)
        vols = tuple(ObservedVolume(n, lab.get(L.VOLUME, n), config_hash=lab.get(L.CONFIG_HASH), labels=lab)
                     for n, lab in self.volumes.items() if lab.get(L.PROJECT) == project)
        return Observed(project, mine, nets, vols, frozenset(self.networks), frozenset(self.volumes))

    def list_projects(self) -> list[tuple[str, list[ObservedContainer]]]:
        projects: dict[str, list[ObservedContainer]] = {}
        for c in self.containers.values():
            projects.setdefault(c.labels.get(L.PROJECT, ""), []).append(c)
        return sorted(projects.items())

    # --- images
    def image_id(self, ref: str) -> str | None:
        return self.images.get(ref)

    def pull_image(self, ref: str) -> None:
        self.calls.append(("pull", ref))
        raise DriverError(f"pull access denied for {ref}: no registry in the fake")

    def build_image(self, spec: BuildSpec) -> str:
        self.calls.append(("build", spec.tag))
        self.images[spec.tag] = f"sha256:{next(self._ids):064d}"
        return self.images[spec.tag]

    def image_info(self, ref: str) -> Mapping[str, Any] | None:
        return {"Id": self.images[ref]} if ref in self.images else None

    def remove_image(self, ref: str) -> None:
        self.images.pop(ref, None)

    # --- networks and volumes
    def create_network(self, name: str, config: Mapping[str, Any], labels: Mapping[str, str]) -> None:
        self.calls.append(("create_network", name))
        self.networks[name] = dict(labels)

    def remove_network(self, name: str) -> None:
        self.calls.append(("remove_network", name))
        self.networks.pop(name, None)

    def connect_network(self, name: str, container: str, endpoint: Mapping[str, Any] | None = None) -> None:
        self.calls.append(("connect", f"{container}@{name}"))
        c = self._get(container)
        self._set(c, networks=c.networks | {name})

    def disconnect_network(self, name: str, container: str) -> None:
        self.calls.append(("disconnect", f"{container}@{name}"))
        c = self._get(container)
        self._set(c, networks=c.networks - {name})

    def create_volume(self, name: str, config: Mapping[str, Any], labels: Mapping[str, str]) -> None:
        self.volumes[name] = dict(labels)

    def remove_volume(self, name: str) -> None:
        self.volumes.pop(name, None)

    # --- containers
    def create_container(self, spec: ContainerSpec) -> str:
        self.calls.append(("create", spec.name))
        service = spec.labels.get(L.SERVICE, "")
        if service in self.fail_create:
            raise DriverError(f"cannot create {spec.name}: told to fail", service=service)
        if any(c.name == spec.name for c in self.containers.values()):
            raise DriverError(f"Conflict. The container name {spec.name} is already in use", service=service)
        cid = f"{next(self._ids):012x}" + "0" * 52
        self.containers[cid] = ObservedContainer(
            id=cid, name=spec.name, service=service, number=int(spec.labels.get(L.CONTAINER_NUMBER, "0")),
            state="created", image=str(spec.config.get("Image", "")), labels=dict(spec.labels),
            networks=frozenset(spec.networks))
        return cid

    def _get(self, ref: str) -> ObservedContainer:
        for c in self.containers.values():
            if ref in (c.id, c.name):
                return c
        raise DriverError(f"No such container: {ref}")

    def _set(self, c: ObservedContainer, **changes: Any) -> None:
        self.containers[c.id] = replace(c, **changes)

    def start_container(self, ref: str) -> None:
        c = self._get(ref)
        self.calls.append(("start", c.name))
        if c.service in self.exit_codes:
            self._set(c, state="exited", exit_code=self.exit_codes[c.service])
        else:
            self._set(c, state="running", health=self.health.get(c.service), exit_code=None)

    def stop_container(self, ref: str, *, timeout: int | None = None) -> None:
        c = self._get(ref)
        self.calls.append(("stop", c.name))
        self._set(c, state="exited", exit_code=0 if c.running else c.exit_code)

    def kill_container(self, ref: str, *, signal: str = "SIGKILL") -> None:
        c = self._get(ref)
        self.calls.append(("kill", c.name))
        self._set(c, state="exited", exit_code=137)

    def restart_container(self, ref: str, *, timeout: int | None = None) -> None:
        self.calls.append(("restart", self._get(ref).name))
        self.start_container(ref)

    def remove_container(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        c = self._get(ref)
        if c.running and not force:
            raise DriverError(f"You cannot remove a running container {c.name}")
        self.calls.append(("remove", c.name))
        del self.containers[c.id]

    def rename_container(self, ref: str, name: str) -> None:
        self._set(self._get(ref), name=name)

    def inspect_container(self, ref: str) -> ObservedContainer:
        return self._get(ref)

    def wait_container(self, ref: str) -> int:
        return self._get(ref).exit_code or 0

    def logs(self, ref: str, *, follow: bool = False, tail: str = "all",
             timestamps: bool = False, since: str | None = None) -> Iterator[bytes]:
        return iter(())

    def exec(self, ref: str, cmd: list[str], *, user: str | None = None, workdir: str | None = None,
             env: Mapping[str, str] | None = None, tty: bool = False, detach: bool = False) -> int:
        self.calls.append(("exec", self._get(ref).name))
        return 0

    def close(self) -> None:
        return None
