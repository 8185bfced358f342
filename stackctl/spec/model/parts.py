"""Small value types used inside a service: ports, mounts, dependencies, network attachments, ..."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackctl.spec.model._codec import Model, Path, absent, decode_fields, ext, key, model, seq, table


@model
class Port(Model):
    """``ports[]`` in long form; ``published`` is a string (``"8080"`` or a range ``"9090-9091"``)."""

    name: str | None = key()
    mode: str | None = key()
    host_ip: str | None = key()
    target: int | None = key()
    published: str | None = key()
    protocol: str | None = key()
    app_protocol: str | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class MountBind(Model):
    selinux: str | None = key()
    propagation: str | None = key()
    create_host_path: bool | None = key()
    recursive: str | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class MountVolume(Model):
    labels: Mapping[str, str] = table()
    nocopy: bool | None = key()
    subpath: str | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class MountTmpfs(Model):
    size: str | int | None = key()
    mode: int | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class MountImage(Model):
    subpath: str | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class Mount(Model):
    """``volumes[]`` of a service in long form (``type`` bind|volume|tmpfs|npipe|cluster|image)."""

    type: str | None = key()
    source: str | None = key()
    target: str | None = key()
    read_only: bool | None = key()
    consistency: str | None = key()
    bind: MountBind | None = key()
    volume: MountVolume | None = key()
    tmpfs: MountTmpfs | None = key()
    image: MountImage | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class Dependency(Model):
    """``depends_on.<service>``; absent ``required`` means required (compose's default)."""

    condition: str | None = key()
    restart: bool | None = key()
    required: bool | None = key()
    extensions: Mapping[str, Any] = ext()

    @property
    def is_required(self) -> bool:
        return self.required is not False


@model
class NetworkAttachment(Model):
    """``networks.<name>`` of a service (the value may also be null in the document)."""

    aliases: tuple[str, ...] = seq()
    driver_opts: Mapping[str, str] = table()
    gw_priority: int | None = key()
    interface_name: str | None = key()
    ipv4_address: str | None = key()
    ipv6_address: str | None = key()
    link_local_ips: tuple[str, ...] = seq()
    mac_address: str | None = key()
    priority: int | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class Healthcheck(Model):
    test: tuple[str, ...] = seq()
    timeout: str | None = key()
    interval: str | None = key()
    retries: int | None = key()
    start_period: str | None = key()
    start_interval: str | None = key()
    disable: bool | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class Logging(Model):
    driver: str | None = key()
    options: Mapping[str, str | None] = table()
    extensions: Mapping[str, Any] = ext()


@model
class Ulimit(Model):
    """``ulimits.<name>``: a single number (``single``) or ``{soft, hard}``."""

    single: int | None = key()
    soft: int | None = key()
    hard: int | None = key()
    extensions: Mapping[str, Any] = ext()

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

    source: str | None = key()
    target: str | None = key()
    uid: str | None = key()
    gid: str | None = key()
    mode: str | int | None = key()
    extensions: Mapping[str, Any] = ext()


SecretRef = FileRef
ConfigRef = FileRef


@model
class Device(Model):
    source: str | None = key()
    target: str | None = key()
    permissions: str | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class DeviceRequest(Model):
    """``gpus[]`` and ``deploy.resources.reservations.devices[]`` (``count: -1`` means all)."""

    capabilities: tuple[str, ...] = seq()
    driver: str | None = key()
    count: int | None = key()
    device_ids: tuple[str, ...] = seq()
    options: Mapping[str, str] = table()
    extensions: Mapping[str, Any] = ext()


@model
class CredentialSpec(Model):
    config: str | None = key()
    file: str | None = key()
    registry: str | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class Extends(Model):
    file: str | None = key()
    service: str | None = key()


@model
class Provider(Model):
    type: str | None = key()
    options: Mapping[str, tuple[str, ...]] = table()
    extensions: Mapping[str, Any] = ext()


@model
class Hook(Model):
    """``post_start[]`` / ``pre_stop[]`` and ``develop.watch[].exec``; ``command`` is always printed."""

    command: tuple[str, ...] | None = key(always=True)
    user: str | None = key()
    privileged: bool | None = key()
    working_dir: str | None = key()
    environment: Mapping[str, str | None] = table()
    extensions: Mapping[str, Any] = ext()
    absent_keys: frozenset[str] = absent()


@model
class ServiceModel(Model):
    """``models.<name>`` of a service."""

    endpoint_var: str | None = key()
    model_var: str | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class EnvFile(Model):
    path: str | None = key()
    required: bool | None = key()
    format: str | None = key()


@model
class WeightDevice(Model):
    """``blkio_config.weight_device[]``; docker compose config prints ``Path``/``Weight`` capitalized."""

    path: str | None = key("Path", aliases=("path",))
    weight: int | None = key("Weight", aliases=("weight",))
    extensions: Mapping[str, Any] = ext()


@model
class ThrottleDevice(Model):
    path: str | None = key("Path", aliases=("path",))
    rate: str | int | None = key("Rate", aliases=("rate",))
    extensions: Mapping[str, Any] = ext()


@model
class Blkio(Model):
    weight: int | None = key()
    weight_device: tuple[WeightDevice, ...] = seq()
    device_read_bps: tuple[ThrottleDevice, ...] = seq()
    device_read_iops: tuple[ThrottleDevice, ...] = seq()
    device_write_bps: tuple[ThrottleDevice, ...] = seq()
    device_write_iops: tuple[ThrottleDevice, ...] = seq()
    extensions: Mapping[str, Any] = ext()
