"""``deploy`` of a service: replicas, resources, restart policy, placement, update/rollback config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackctl.model._codec import EMPTY, Model, model
from stackctl.model.parts import DeviceRequest


@model
class UpdateConfig(Model):
    """``deploy.update_config`` / ``deploy.rollback_config`` (durations kept as printed: ``"1m0s"``)."""

    parallelism: int | None = None
    delay: str | None = None
    failure_action: str | None = None
    monitor: str | None = None
    max_failure_ratio: float | None = None
    order: str | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class DiscreteResource(Model):
    kind: str | None = None
    value: int | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class GenericResource(Model):
    discrete_resource_spec: DiscreteResource | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class Resource(Model):
    """``limits`` / ``reservations``: ``cpus`` a number, ``memory`` bytes as a string."""

    cpus: float | None = None
    memory: str | int | None = None
    pids: int | None = None
    devices: tuple[DeviceRequest, ...] = ()
    generic_resources: tuple[GenericResource, ...] = ()
    extensions: Mapping[str, Any] = EMPTY


@model
class Resources(Model):
    limits: Resource | None = None
    reservations: Resource | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class RestartPolicy(Model):
    condition: str | None = None
    delay: str | None = None
    max_attempts: int | None = None
    window: str | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class PlacementPreference(Model):
    spread: str | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class Placement(Model):
    constraints: tuple[str, ...] = ()
    preferences: tuple[PlacementPreference, ...] = ()
    max_replicas_per_node: int | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class Deploy(Model):
    mode: str | None = None
    replicas: int | None = None
    labels: Mapping[str, str] = EMPTY
    update_config: UpdateConfig | None = None
    rollback_config: UpdateConfig | None = None
    resources: Resources | None = None
    restart_policy: RestartPolicy | None = None
    placement: Placement | None = None
    endpoint_mode: str | None = None
    extensions: Mapping[str, Any] = EMPTY
