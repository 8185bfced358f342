"""The Plan: Actions on the engine, each with the Reason it is needed and what it waits for.

A plan is plain data: once bound (:func:`stackctl.engine.bind.bind`) each action carries the engine it
runs on and every request it makes there (a container's full spec, a build, a network's body).
An action ``needs`` other actions by id; the executor runs it as soon as all of them succeeded.
Waiting for a ``depends_on`` condition is itself an action (kind ``wait``), so the executor needs no
knowledge of conditions and there is no barrier per dependency level.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


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


# The engine an action runs on when there is only one (the laptop's).
LOCAL = "local"

# Kinds of action, in the order a plan prints them.
KINDS = (
    "create_network", "recreate_network", "create_volume", "pull_image", "build_image",
    "create_container", "recreate_container", "start_container", "stop_container",
    "restart_container", "kill_container", "remove_container", "wait",
    "remove_network", "remove_volume",
)
# Kinds that hold no engine call while they run (they poll); the concurrency limit does not apply.
UNTHROTTLED = frozenset({"wait"})
# Kinds that only prepare a later action (a container is created for its start). While that later
# action still waits on something else, the executor runs them in a narrow lane of their own, so
# that they do not slow down the starts everything else waits for.
PREPARATORY = frozenset({"create_container"})


@dataclass(frozen=True)
class Reason:
    """Why an action is in the plan, e.g. ``config changed`` or ``scale 3 -> 1``."""

    code: str
    detail: str = ""

    def __str__(self) -> str:
        return f"{self.code} ({self.detail})" if self.detail else self.code


@dataclass(frozen=True)
class Action:
    """One step. ``id`` is unique in a plan, e.g. ``start_container:web-2``."""

    kind: str
    target: str  # container name, network/volume name, image ref, or `<service>:<condition>`
    reason: Reason
    service: str | None = None
    number: int | None = None
    needs: tuple[str, ...] = ()
    params: Mapping[str, Any] = field(default_factory=dict)
    engine: str = LOCAL  # the engine (node) it runs on: the applier routes it to that engine's driver
    spec: ContainerSpec | None = None  # create/recreate_container: the full create request, once bound
    build: BuildSpec | None = None  # build_image: the build request, once bound

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.target}"

    @property
    def throttled(self) -> bool:
        return self.kind not in UNTHROTTLED

    @property
    def preparatory(self) -> bool:
        return self.kind in PREPARATORY

    def describe(self) -> str:
        """One line for --dry-run and progress: `recreate container p-web-1: config changed`."""
        return f"{self.kind.replace('_', ' ')} {self.target}: {self.reason}"


@dataclass(frozen=True)
class Plan:
    """Actions plus warnings found while planning (orphans, custom names, ...)."""

    actions: tuple[Action, ...] = ()
    warnings: tuple[str, ...] = ()

    def ids(self) -> set[str]:
        return {a.id for a in self.actions}

    def by_id(self) -> dict[str, Action]:
        return {a.id: a for a in self.actions}

    def of_kind(self, kind: str) -> list[Action]:
        return [a for a in self.actions if a.kind == kind]

    def lines(self) -> list[str]:
        """Human-readable plan (the output of --dry-run)."""
        if not self.actions:
            return ["nothing to do: every container is up to date"]
        return [a.describe() for a in self.actions]
