"""``build`` and ``develop`` of a service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackctl.model._codec import EMPTY, Model, model
from stackctl.model.parts import FileRef, Hook, Ulimit


@model
class Build(Model):
    """``build`` in long form (``context`` is an absolute path once paths are resolved)."""

    context: str | None = None
    dockerfile: str | None = None
    dockerfile_inline: str | None = None
    entitlements: tuple[str, ...] = ()
    args: Mapping[str, str | None] = EMPTY
    provenance: str | bool | None = None
    sbom: str | bool | None = None
    ssh: tuple[str, ...] = ()
    labels: Mapping[str, str] = EMPTY
    cache_from: tuple[str, ...] = ()
    cache_to: tuple[str, ...] = ()
    no_cache: bool | None = None
    no_cache_filter: tuple[str, ...] = ()
    additional_contexts: Mapping[str, str] = EMPTY
    pull: bool | None = None
    extra_hosts: tuple[str, ...] = ()
    isolation: str | None = None
    network: str | None = None
    target: str | None = None
    secrets: tuple[FileRef, ...] = ()
    shm_size: str | int | None = None
    tags: tuple[str, ...] = ()
    ulimits: Mapping[str, Ulimit] = EMPTY
    platforms: tuple[str, ...] = ()
    privileged: bool | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class WatchRule(Model):
    """``develop.watch[]``: ``action`` is rebuild|sync|restart|sync+restart|sync+exec."""

    path: str | None = None
    action: str | None = None
    target: str | None = None
    exec: Hook | None = None
    include: tuple[str, ...] = ()
    ignore: tuple[str, ...] = ()
    initial_sync: bool | None = None
    extensions: Mapping[str, Any] = EMPTY


@model
class Develop(Model):
    watch: tuple[WatchRule, ...] = ()
    extensions: Mapping[str, Any] = EMPTY
