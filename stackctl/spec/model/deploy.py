"""``deploy`` of a service: replicas, resources, restart policy, placement, update/rollback config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackctl.spec.model._codec import Model, ext, key, model, seq, table
from stackctl.spec.model.parts import DeviceRequest


@model
class UpdateConfig(Model):
    """``deploy.update_config`` / ``deploy.rollback_config`` (durations kept as printed: ``"1m0s"``)."""

    parallelism: int | None = key()
    delay: str | None = key()
    failure_action: str | None = key()
    monitor: str | None = key()
    max_failure_ratio: float | None = key()
    order: str | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class DiscreteResource(Model):
    kind: str | None = key()
    value: int | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class GenericResource(Model):
    discrete_resource_spec: DiscreteResource | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class Resource(Model):
    """``limits`` / ``reservations``: ``cpus`` a number, ``memory`` bytes as a string."""

    cpus: float | None = key()
    memory: str | int | None = key()
    pids: int | None = key()
    devices: tuple[DeviceRequest, ...] = seq()
    generic_resources: tuple[GenericResource, ...] = seq()
    extensions: Mapping[str, Any] = ext()


@model
class Resources(Model):
    limits: Resource | None = key()
    reservations: Resource | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class RestartPolicy(Model):
    condition: str | None = key()
    delay: str | None = key()
    max_attempts: int | None = key()
    window: str | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class PlacementPreference(Model):
    spread: str | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class Placement(Model):
    constraints: tuple[str, ...] = seq()
    preferences: tuple[PlacementPreference, ...] = seq()
    max_replicas_per_node: int | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class Deploy(Model):
    mode: str | None = key()
    replicas: int | None = key()
    labels: Mapping[str, str] = table()
    update_config: UpdateConfig | None = key()
    rollback_config: UpdateConfig | None = key()
    resources: Resources | None = key()
    restart_policy: RestartPolicy | None = key()
    placement: Placement | None = key()
    endpoint_mode: str | None = key()
    extensions: Mapping[str, Any] = ext()
