"""A service of the normalized document, every key of the Compose specification typed."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from stackctl.model._codec import EMPTY, Model, key, model
from stackctl.model.build import Build, Develop
from stackctl.model.deploy import Deploy
from stackctl.model.parts import (
    Blkio,
    CredentialSpec,
    Dependency,
    Device,
    DeviceRequest,
    EnvFile,
    Extends,
    FileRef,
    Healthcheck,
    Hook,
    Logging,
    Mount,
    NetworkAttachment,
    Port,
    Provider,
    ServiceModel,
    Ulimit,
)


@model
class Service(Model):
    """``services.<name>``. ``name`` is the key in ``services``; it is not printed by ``to_dict``.

    Absent scalars are ``None``, absent lists ``()`` and absent mappings empty; ``command`` and
    ``entrypoint`` are always printed (``null`` when unset), as ``docker compose config`` does.
    """

    name: str = key(skip=True, default="")
    # image & process
    image: str | None = None
    build: Build | None = None
    command: tuple[str, ...] | None = key(always=True, default=None)
    entrypoint: tuple[str, ...] | None = key(always=True, default=None)
    working_dir: str | None = None
    user: str | None = None
    group_add: tuple[str, ...] = ()
    init: bool | None = None
    tty: bool | None = None
    stdin_open: bool | None = None
    attach: bool | None = None
    platform: str | None = None
    runtime: str | None = None
    isolation: str | None = None
    pull_policy: str | None = None
    pull_refresh_after: str | None = None
    container_name: str | None = None
    hostname: str | None = None
    domainname: str | None = None
    read_only: bool | None = None
    privileged: bool | None = None
    stop_signal: str | None = None
    stop_grace_period: str | None = None
    use_api_socket: bool | None = None
    provider: Provider | None = None
    # environment & metadata
    environment: Mapping[str, str | None] = EMPTY
    env_file: tuple[EnvFile, ...] = ()
    labels: Mapping[str, str] = EMPTY
    label_file: tuple[str, ...] = ()
    annotations: Mapping[str, str] = EMPTY
    profiles: tuple[str, ...] = ()
    # networking
    networks: Mapping[str, NetworkAttachment | None] = EMPTY
    network_mode: str | None = None
    net: str | None = None
    ports: tuple[Port, ...] = ()
    expose: tuple[str, ...] = ()
    links: tuple[str, ...] = ()
    external_links: tuple[str, ...] = ()
    extra_hosts: tuple[str, ...] = ()
    dns: tuple[str, ...] = ()
    dns_opt: tuple[str, ...] = ()
    dns_search: tuple[str, ...] = ()
    mac_address: str | None = None
    # storage
    volumes: tuple[Mount, ...] = ()
    volumes_from: tuple[str, ...] = ()
    volume_driver: str | None = None
    tmpfs: tuple[str, ...] = ()
    secrets: tuple[FileRef, ...] = ()
    configs: tuple[FileRef, ...] = ()
    # lifecycle / ordering
    depends_on: Mapping[str, Dependency] = EMPTY
    restart: str | None = None
    healthcheck: Healthcheck | None = None
    scale: int | None = None
    post_start: tuple[Hook, ...] = ()
    pre_stop: tuple[Hook, ...] = ()
    extends: Extends | None = None
    deploy: Deploy | None = None
    develop: Develop | None = None
    models: Mapping[str, ServiceModel | None] = EMPTY
    # resources (single host)
    cpus: float | None = None
    cpuset: str | None = None
    cpu_count: int | None = None
    cpu_percent: float | None = None
    cpu_shares: int | None = None
    cpu_quota: int | None = None
    cpu_period: int | None = None
    cpu_rt_period: int | None = None
    cpu_rt_runtime: int | None = None
    mem_limit: str | int | None = None
    mem_reservation: str | int | None = None
    mem_swappiness: str | int | None = None
    memswap_limit: str | int | None = None
    pids_limit: int | None = None
    shm_size: str | int | None = None
    blkio_config: Blkio | None = None
    storage_opt: Mapping[str, str] = EMPTY
    ulimits: Mapping[str, Ulimit] = EMPTY
    oom_kill_disable: bool | None = None
    oom_score_adj: int | None = None
    # security, kernel, namespaces
    cap_add: tuple[str, ...] = ()
    cap_drop: tuple[str, ...] = ()
    security_opt: tuple[str, ...] = ()
    credential_spec: CredentialSpec | None = None
    devices: tuple[Device, ...] = ()
    device_cgroup_rules: tuple[str, ...] = ()
    gpus: tuple[DeviceRequest, ...] = ()
    sysctls: Mapping[str, str] = EMPTY
    ipc: str | None = None
    pid: str | None = None
    uts: str | None = None
    userns_mode: str | None = None
    cgroup: str | None = None
    cgroup_parent: str | None = None
    # logging
    logging: Logging | None = None
    log_driver: str | None = None
    log_opt: Mapping[str, str] = EMPTY
    extensions: Mapping[str, Any] = EMPTY
    absent_keys: frozenset[str] = dataclasses.field(default=frozenset(), compare=False, repr=False)

    @property
    def replicas(self) -> int:
        """How many containers: ``scale``, else ``deploy.replicas``, else 1 (compose-go ``GetScale``)."""
        if self.scale is not None:
            return self.scale
        if self.deploy is not None and self.deploy.replicas is not None:
            return self.deploy.replicas
        return 1

    def image_name(self, project: str | Any) -> str:
        """The image to run: ``image``, else ``<project>-<service>`` for a build-only service.

        ``project`` is the project name or a :class:`~stackctl.model.Project`.
        """
        if self.image:
            return self.image
        project_name = project if isinstance(project, str) else project.name
        return f"{project_name}-{self.name}"

    @property
    def network_names(self) -> tuple[str, ...]:
        """The networks the service attaches to, in document order."""
        return tuple(self.networks)
