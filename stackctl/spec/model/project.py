"""The project: services plus the top-level networks, volumes, secrets, configs and models."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from stackctl.errors import UsageError
from stackctl.spec.model._codec import (
    EMPTY,
    FrozenMap,
    Model,
    Path,
    decode_fields,
    encode_object,
    ext,
    key,
    model,
    seq,
    table,
)
from stackctl.spec.model.service import Service


class _Resource(Model):
    """A top-level resource: a null entry (``networks: {front: }``) reads as an empty one, as compose-go does."""

    __slots__ = ()

    @classmethod
    def _decode(cls, value: Any, path: Path, file: str) -> Any:
        return decode_fields(cls, {} if value is None else value, path, file)


@model
class IpamPool(Model):
    subnet: str | None = key()
    gateway: str | None = key()
    ip_range: str | None = key()
    aux_addresses: Mapping[str, str] = table()
    extensions: Mapping[str, Any] = ext()


@model
class Ipam(Model):
    driver: str | None = key()
    config: tuple[IpamPool, ...] = seq()
    options: Mapping[str, str] = table()
    extensions: Mapping[str, Any] = ext()


@model
class Network(_Resource):
    """``networks.<key>``; ``name`` is the engine-side name (``<project>_<key>`` unless external/named)."""

    name: str | None = key()
    driver: str | None = key()
    driver_opts: Mapping[str, str] = table()
    ipam: Ipam | None = key()
    external: bool | None = key()
    internal: bool | None = key()
    attachable: bool | None = key()
    labels: Mapping[str, str] = table()
    enable_ipv4: bool | None = key()
    enable_ipv6: bool | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class Volume(_Resource):
    name: str | None = key()
    driver: str | None = key()
    driver_opts: Mapping[str, str] = table()
    external: bool | None = key()
    labels: Mapping[str, str] = table()
    extensions: Mapping[str, Any] = ext()


@model
class FileObject(_Resource):
    """``secrets.<key>`` / ``configs.<key>``: one of ``file``, ``environment``, ``content``, ``external``."""

    name: str | None = key()
    file: str | None = key()
    environment: str | None = key()
    content: str | None = key()
    external: bool | None = key()
    labels: Mapping[str, str] = table()
    driver: str | None = key()
    driver_opts: Mapping[str, str] = table()
    template_driver: str | None = key()
    extensions: Mapping[str, Any] = ext()


Secret = FileObject
Config = FileObject


@model
class AIModel(_Resource):
    """``models.<key>`` (AI models run by the model runner)."""

    name: str | None = key()
    model: str | None = key()
    context_size: int | None = key()
    runtime_flags: tuple[str, ...] = seq()
    extensions: Mapping[str, Any] = ext()


@model
class Project(Model):
    """The normalized document (what ``docker compose config --format json`` prints), frozen.

    ``Project.from_dict(doc)`` / ``project.to_dict()`` round-trip such a document exactly.
    """

    name: str = key(default="")
    services: Mapping[str, Service] = key(always=True, default=EMPTY)
    networks: Mapping[str, Network] = table()
    volumes: Mapping[str, Volume] = table()
    secrets: Mapping[str, FileObject] = table()
    configs: Mapping[str, FileObject] = table()
    models: Mapping[str, AIModel] = table()
    extensions: Mapping[str, Any] = ext()

    @classmethod
    def _decode(cls, value: Any, path: Path, file: str) -> Project:
        project = decode_fields(cls, value, path, file)
        named = FrozenMap({n: dataclasses.replace(s, name=n) for n, s in project.services.items()})
        return dataclasses.replace(project, services=named)

    def to_dict(self) -> dict[str, Any]:
        out = encode_object(self)
        if not self.name:
            out.pop("name", None)
        return out

    def service(self, name: str) -> Service:
        """The service called ``name``; a UsageError listing the known services otherwise."""
        try:
            return self.services[name]
        except KeyError:
            known = ", ".join(sorted(self.services)) or "none"
            raise UsageError(f"no such service: {name} (services: {known})") from None

    @property
    def service_names(self) -> tuple[str, ...]:
        """Service names, sorted."""
        return tuple(sorted(self.services))
