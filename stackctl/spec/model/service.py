"""A service of the normalized document, every key of the Compose specification typed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from stackctl.spec.model._codec import Model, absent, ext, key, model, seq, table
from stackctl.spec.model.build import Build, Develop
from stackctl.spec.model.deploy import Deploy
from stackctl.spec.model.parts import (
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
    image: str | None = key()
    build: Build | None = key()
    command: tuple[str, ...] | None = key(always=True)
    entrypoint: tuple[str, ...] | None = key(always=True)
    working_dir: str | None = key()
    user: str | None = key()
    group_add: tuple[str, ...] = seq()
    init: bool | None = key()
    tty: bool | None = key()
    stdin_open: bool | None = key()
    attach: bool | None = key()
    platform: str | None = key()
    runtime: str | None = key()
    isolation: str | None = key()
    pull_policy: str | None = key()
    pull_refresh_after: str | None = key()
    container_name: str | None = key()
    hostname: str | None = key()
    domainname: str | None = key()
    read_only: bool | None = key()
    privileged: bool | None = key()
    stop_signal: str | None = key()
    stop_grace_period: str | None = key()
    use_api_socket: bool | None = key()
    provider: Provider | None = key()
    # environment & metadata
    environment: Mapping[str, str | None] = table()
    env_file: tuple[EnvFile, ...] = seq()
    labels: Mapping[str, str] = table()
    label_file: tuple[str, ...] = seq()
    annotations: Mapping[str, str] = table()
    profiles: tuple[str, ...] = seq()
    # networking
    networks: Mapping[str, NetworkAttachment | None] = table()
    network_mode: str | None = key()
    net: str | None = key()
    ports: tuple[Port, ...] = seq()
    expose: tuple[str, ...] = seq()
    links: tuple[str, ...] = seq()
    external_links: tuple[str, ...] = seq()
    extra_hosts: tuple[str, ...] = seq()
    dns: tuple[str, ...] = seq()
    dns_opt: tuple[str, ...] = seq()
    dns_search: tuple[str, ...] = seq()
    mac_address: str | None = key()
    # storage
    volumes: tuple[Mount, ...] = seq()
    volumes_from: tuple[str, ...] = seq()
    volume_driver: str | None = key()
    tmpfs: tuple[str, ...] = seq()
    secrets: tuple[FileRef, ...] = seq()
    configs: tuple[FileRef, ...] = seq()
    # lifecycle / ordering
    depends_on: Mapping[str, Dependency] = table()
    restart: str | None = key()
    healthcheck: Healthcheck | None = key()
    scale: int | None = key()
    post_start: tuple[Hook, ...] = seq()
    pre_stop: tuple[Hook, ...] = seq()
    extends: Extends | None = key()
    deploy: Deploy | None = key()
    develop: Develop | None = key()
    models: Mapping[str, ServiceModel | None] = table()
    # resources (single host)
    cpus: float | None = key()
    cpuset: str | None = key()
    cpu_count: int | None = key()
    cpu_percent: float | None = key()
    cpu_shares: int | None = key()
    cpu_quota: int | None = key()
    cpu_period: int | None = key()
    cpu_rt_period: int | None = key()
    cpu_rt_runtime: int | None = key()
    mem_limit: str | int | None = key()
    mem_reservation: str | int | None = key()
    mem_swappiness: str | int | None = key()
    memswap_limit: str | int | None = key()
    pids_limit: int | None = key()
    shm_size: str | int | None = key()
    blkio_config: Blkio | None = key()
    storage_opt: Mapping[str, str] = table()
    ulimits: Mapping[str, Ulimit] = table()
    oom_kill_disable: bool | None = key()
    oom_score_adj: int | None = key()
    # security, kernel, namespaces
    cap_add: tuple[str, ...] = seq()
    cap_drop: tuple[str, ...] = seq()
    security_opt: tuple[str, ...] = seq()
    credential_spec: CredentialSpec | None = key()
    devices: tuple[Device, ...] = seq()
    device_cgroup_rules: tuple[str, ...] = seq()
    gpus: tuple[DeviceRequest, ...] = seq()
    sysctls: Mapping[str, str] = table()
    ipc: str | None = key()
    pid: str | None = key()
    uts: str | None = key()
    userns_mode: str | None = key()
    cgroup: str | None = key()
    cgroup_parent: str | None = key()
    # logging
    logging: Logging | None = key()
    log_driver: str | None = key()
    log_opt: Mapping[str, str] = table()
    extensions: Mapping[str, Any] = ext()
    absent_keys: frozenset[str] = absent()

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

        ``project`` is the project name or a :class:`~stackctl.spec.model.Project`.
        """
        if self.image:
            return self.image
        project_name = project if isinstance(project, str) else project.name
        return f"{project_name}-{self.name}"

    @property
    def network_names(self) -> tuple[str, ...]:
        """The networks the service attaches to, in document order."""
        return tuple(self.networks)
