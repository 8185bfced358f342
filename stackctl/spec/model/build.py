"""``build`` and ``develop`` of a service."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackctl.spec.model._codec import Model, ext, key, model, seq, table
from stackctl.spec.model.parts import FileRef, Hook, Ulimit


@model
class Build(Model):
    """``build`` in long form (``context`` is an absolute path once paths are resolved)."""

    context: str | None = key()
    dockerfile: str | None = key()
    dockerfile_inline: str | None = key()
    entitlements: tuple[str, ...] = seq()
    args: Mapping[str, str | None] = table()
    provenance: str | bool | None = key()
    sbom: str | bool | None = key()
    ssh: tuple[str, ...] = seq()
    labels: Mapping[str, str] = table()
    cache_from: tuple[str, ...] = seq()
    cache_to: tuple[str, ...] = seq()
    no_cache: bool | None = key()
    no_cache_filter: tuple[str, ...] = seq()
    additional_contexts: Mapping[str, str] = table()
    pull: bool | None = key()
    extra_hosts: tuple[str, ...] = seq()
    isolation: str | None = key()
    network: str | None = key()
    target: str | None = key()
    secrets: tuple[FileRef, ...] = seq()
    shm_size: str | int | None = key()
    tags: tuple[str, ...] = seq()
    ulimits: Mapping[str, Ulimit] = table()
    platforms: tuple[str, ...] = seq()
    privileged: bool | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class WatchRule(Model):
    """``develop.watch[]``: ``action`` is rebuild|sync|restart|sync+restart|sync+exec."""

    path: str | None = key()
    action: str | None = key()
    target: str | None = key()
    exec: Hook | None = key()
    include: tuple[str, ...] = seq()
    ignore: tuple[str, ...] = seq()
    initial_sync: bool | None = key()
    extensions: Mapping[str, Any] = ext()


@model
class Develop(Model):
    watch: tuple[WatchRule, ...] = seq()
    extensions: Mapping[str, Any] = ext()
