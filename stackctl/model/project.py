"""The project: services plus the top-level networks, volumes, secrets, configs and models."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from stackctl.errors import UsageError
from stackctl.model._codec import EMPTY, FrozenMap, Model, Path, decode_fields, encode_object, key, model
from stackctl.model.service import Service


class _Resource(Model):
    """A top-level resource: a null entry (``networks: {front: }``) reads as an empty one, as compose-go does."""

    __slots__ = ()

    @classmethod
    def _decode(cls, value: Any, path: Path, file: str) -> Any:
        return decode_fields(cls, {} if value is None else value, path, file)


@model
class IpamPool(Model):
    subnet: str | None = None
    gateway: str | None = None
    ip_range: str | None = None
    aux_addresses: Mapping[str, str] = EMPTY
    extensions: Mapping[str, Any] = EMPTY


@model
class Ipam(Model):
    driver: str | None = None
    config: tuple[IpamPool, ...] = ()
    options: Mapping[str, str] = EMPTY
    extensions: Mapping[str, Any] = EMPTY


@model
class Network(_Resource):
    """``networks.<key>``; ``name`` is the engine-side name (``<project>_<key>`` unless external/named)."""

    name: str | None = None
    driver: str | None = None
    driver_opts: Mapping[str, str] = EMPTY
    ipam: Ipam | None = None
    external: bool | None = None
    internal: bool | None = None
    attachable: bool | None = None
    labels: Mapping[str, str] = EMPTY
    enable_ipv4: bool | None = None
    enable_ipv6: bool | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class Volume(_Resource):
    name: str | None = None
    driver: str | None = None
    driver_opts: Mapping[str, str] = EMPTY
    external: bool | None = None
    labels: Mapping[str, str] = EMPTY
    extensions: Mapping[str, Any] = EMPTY


@model
class FileObject(_Resource):
    """``secrets.<key>`` / ``configs.<key>``: one of ``file``, ``environment``, ``content``, ``external``."""

    name: str | None = None
    file: str | None = None
    environment: str | None = None
    content: str | None = None
    external: bool | None = None
    labels: Mapping[str, str] = EMPTY
    driver: str | None = None
    driver_opts: Mapping[str, str] = EMPTY
    template_driver: str | None = None
    extensions: Mapping[str, Any] = EMPTY


Secret = FileObject
Config = FileObject


@model
class AIModel(_Resource):
    """``models.<key>`` (AI models run by the model runner)."""

    name: str | None = None
    model: str | None = None
    context_size: int | None = None
    runtime_flags: tuple[str, ...] = ()
    extensions: Mapping[str, Any] = EMPTY


@model
class Project(Model):
    """The normalized document (what ``docker compose config --format json`` prints), frozen.

    ``Project.from_dict(doc)`` / ``project.to_dict()`` round-trip such a document exactly.
    """

    name: str = key(default="")
    services: Mapping[str, Service] = key(always=True, default=EMPTY)
    networks: Mapping[str, Network] = EMPTY
    volumes: Mapping[str, Volume] = EMPTY
    secrets: Mapping[str, FileObject] = EMPTY
    configs: Mapping[str, FileObject] = EMPTY
    models: Mapping[str, AIModel] = EMPTY
    extensions: Mapping[str, Any] = EMPTY

    def __post_init__(self) -> None:
        """Each Service knows its own name: the key it has in ``services``."""
        if any(service.name != name for name, service in self.services.items()):
            named = FrozenMap({name: service if service.name == name else dataclasses.replace(service, name=name)
                               for name, service in self.services.items()})
            object.__setattr__(self, "services", named)

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
