"""Small value types used inside a service: ports, mounts, dependencies, network attachments, ..."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from stackctl.model._codec import EMPTY, Model, Path, decode_fields, key, model


@model
class Port(Model):
    """``ports[]`` in long form; ``published`` is a string (``"8080"`` or a range ``"9090-9091"``)."""

    name: str | None = None
    mode: str | None = None
    host_ip: str | None = None
    target: int | None = None
    published: str | None = None
    protocol: str | None = None
    app_protocol: str | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class MountBind(Model):
    selinux: str | None = None
    propagation: str | None = None
    create_host_path: bool | None = None
    recursive: str | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class MountVolume(Model):
    labels: Mapping[str, str] = EMPTY
    nocopy: bool | None = None
    subpath: str | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class MountTmpfs(Model):
    size: str | int | None = None
    mode: int | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class MountImage(Model):
    subpath: str | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class Mount(Model):
    """``volumes[]`` of a service in long form (``type`` bind|volume|tmpfs|npipe|cluster|image)."""

    type: str | None = None
    source: str | None = None
    target: str | None = None
    read_only: bool | None = None
    consistency: str | None = None
    bind: MountBind | None = None
    volume: MountVolume | None = None
    tmpfs: MountTmpfs | None = None
    image: MountImage | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class Dependency(Model):
    """``depends_on.<service>``; absent ``required`` means required (compose's default)."""

    condition: str | None = None
    restart: bool | None = None
    required: bool | None = None
    extensions: Mapping[str, Any] = EMPTY

    @property
    def is_required(self) -> bool:
        return self.required is not False


@model
class NetworkAttachment(Model):
    """``networks.<name>`` of a service (the value may also be null in the document)."""

    aliases: tuple[str, ...] = ()
    driver_opts: Mapping[str, str] = EMPTY
    gw_priority: int | None = None
    interface_name: str | None = None
    ipv4_address: str | None = None
    ipv6_address: str | None = None
    link_local_ips: tuple[str, ...] = ()
    mac_address: str | None = None
    priority: int | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class Healthcheck(Model):
    test: tuple[str, ...] = ()
    timeout: str | None = None
    interval: str | None = None
    retries: int | None = None
    start_period: str | None = None
    start_interval: str | None = None
    disable: bool | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class Logging(Model):
    driver: str | None = None
    options: Mapping[str, str | None] = EMPTY
    extensions: Mapping[str, Any] = EMPTY


@model
class Ulimit(Model):
    """``ulimits.<name>``: a single number (``single``) or ``{soft, hard}``."""

    single: int | None = None
    soft: int | None = None
    hard: int | None = None
    extensions: Mapping[str, Any] = EMPTY

    @classmethod
    def _decode(cls, value: Any, path: Path, file: str) -> Ulimit:
        if isinstance(value, int) and not isinstance(value, bool):
            return cls(single=value)
        return decode_fields(cls, value, path, file)

    def _encode(self) -> Any:
        return self.single if self.single is not None else self.to_dict()


@model
class FileRef(Model):
    """A service's ``secrets[]`` / ``configs[]`` entry (``mode`` printed as an octal string)."""

    source: str | None = None
    target: str | None = None
    uid: str | None = None
    gid: str | None = None
    mode: str | int | None = None
    extensions: Mapping[str, Any] = EMPTY


SecretRef = FileRef
ConfigRef = FileRef


@model
class Device(Model):
    source: str | None = None
    target: str | None = None
    permissions: str | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class DeviceRequest(Model):
    """``gpus[]`` and ``deploy.resources.reservations.devices[]`` (``count: -1`` means all)."""

    capabilities: tuple[str, ...] = ()
    driver: str | None = None
    count: int | None = None
    device_ids: tuple[str, ...] = ()
    options: Mapping[str, str] = EMPTY
    extensions: Mapping[str, Any] = EMPTY


@model
class CredentialSpec(Model):
    config: str | None = None
    file: str | None = None
    registry: str | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class Extends(Model):
    file: str | None = None
    service: str | None = None


@model
class Provider(Model):
    type: str | None = None
    options: Mapping[str, tuple[str, ...]] = EMPTY
    extensions: Mapping[str, Any] = EMPTY


@model
class Hook(Model):
    """``post_start[]`` / ``pre_stop[]`` and ``develop.watch[].exec``; ``command`` is always printed."""

    command: tuple[str, ...] | None = key(always=True, default=None)
    user: str | None = None
    privileged: bool | None = None
    working_dir: str | None = None
    environment: Mapping[str, str | None] = EMPTY
    extensions: Mapping[str, Any] = EMPTY
    absent_keys: frozenset[str] = dataclasses.field(default=frozenset(), compare=False, repr=False)


@model
class ServiceModel(Model):
    """``models.<name>`` of a service."""

    endpoint_var: str | None = None
    model_var: str | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class EnvFile(Model):
    path: str | None = None
    required: bool | None = None
    format: str | None = None


@model
class WeightDevice(Model):
    """``blkio_config.weight_device[]``; docker compose config prints ``Path``/``Weight`` capitalized."""

    path: str | None = key("Path", aliases=("path",), default=None)
    weight: int | None = key("Weight", aliases=("weight",), default=None)
    extensions: Mapping[str, Any] = EMPTY


@model
class ThrottleDevice(Model):
    path: str | None = key("Path", aliases=("path",), default=None)
    rate: str | int | None = key("Rate", aliases=("rate",), default=None)
    extensions: Mapping[str, Any] = EMPTY


@model
class Blkio(Model):
    weight: int | None = None
    weight_device: tuple[WeightDevice, ...] = ()
    device_read_bps: tuple[ThrottleDevice, ...] = ()
    device_read_iops: tuple[ThrottleDevice, ...] = ()
    device_write_bps: tuple[ThrottleDevice, ...] = ()
    device_write_iops: tuple[ThrottleDevice, ...] = ()
    extensions: Mapping[str, Any] = EMPTY
