"""The Driver protocol: every engine call stackctl makes for the laptop path goes through it.

Methods are synchronous (the docker SDK is); the executor runs them in worker threads. A driver
raises only ``DriverError`` (``EngineUnavailable`` when the engine cannot be reached).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from stackctl.plan.observed import Observed, ObservedContainer


@dataclass(frozen=True)
class ContainerSpec:
    """A container create request in engine terms.

    ``config`` is the body of the engine's create call (Image, Cmd, Env, Labels, HostConfig, ...)
    without NetworkingConfig; ``networks`` maps each engine network name to its endpoint settings
    (Aliases, IPAMConfig...), in the order they are attached.
    """

    name: str
    config: Mapping[str, Any]
    networks: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    service: str | None = None

    @property
    def labels(self) -> Mapping[str, str]:
        return self.config.get("Labels") or {}


@dataclass(frozen=True)
class BuildSpec:
    tag: str
    context: str
    dockerfile: str | None = None
    args: Mapping[str, str] = field(default_factory=dict)
    target: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    no_cache: bool = False
    pull: bool = False


class Driver(Protocol):
    """What the laptop verbs need from an engine."""

    def observe(self, project: str, *, services: tuple[str, ...] = ()) -> Observed: ...

    def list_projects(self) -> list[tuple[str, list[ObservedContainer]]]: ...

    def image_id(self, ref: str) -> str | None: ...

    def pull_image(self, ref: str) -> None: ...

    def build_image(self, spec: BuildSpec) -> str: ...

    def image_info(self, ref: str) -> Mapping[str, Any] | None: ...

    def remove_image(self, ref: str) -> None: ...

    def create_network(self, name: str, config: Mapping[str, Any], labels: Mapping[str, str]) -> None: ...

    def remove_network(self, name: str) -> None: ...

    def connect_network(self, name: str, container: str, endpoint: Mapping[str, Any] | None = None) -> None: ...

    def disconnect_network(self, name: str, container: str) -> None: ...

    def create_volume(self, name: str, config: Mapping[str, Any], labels: Mapping[str, str]) -> None: ...

    def remove_volume(self, name: str) -> None: ...

    def create_container(self, spec: ContainerSpec) -> str: ...

    def start_container(self, ref: str) -> None: ...

    def stop_container(self, ref: str, *, timeout: int | None = None) -> None: ...

    def kill_container(self, ref: str, *, signal: str = "SIGKILL") -> None: ...

    def restart_container(self, ref: str, *, timeout: int | None = None) -> None: ...

    def remove_container(self, ref: str, *, force: bool = False, volumes: bool = False) -> None: ...

    def rename_container(self, ref: str, name: str) -> None: ...

    def inspect_container(self, ref: str) -> ObservedContainer: ...

    def wait_container(self, ref: str) -> int: ...

    def logs(self, ref: str, *, follow: bool = False, tail: str = "all",
             timestamps: bool = False, since: str | None = None) -> Iterator[bytes]: ...

    def exec(self, ref: str, cmd: list[str], *, user: str | None = None, workdir: str | None = None,
             env: Mapping[str, str] | None = None, tty: bool = False, detach: bool = False) -> int: ...

    def close(self) -> None: ...
