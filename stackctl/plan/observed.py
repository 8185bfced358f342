"""What a driver reports about a project: containers, networks and volumes, read from labels.

Plain frozen values; drivers build them, the planner only reads them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from stackctl import labels as L


@dataclass(frozen=True)
class ObservedContainer:
    """One container of a project as the engine reports it."""

    id: str
    name: str
    service: str
    number: int
    state: str = "running"  # created, running, paused, restarting, removing, exited, dead
    health: str | None = None  # starting, healthy, unhealthy, or None without healthcheck
    exit_code: int | None = None
    image: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    networks: frozenset[str] = frozenset()  # engine network names
    mounts: frozenset[str] = frozenset()  # named volume names mounted
    created: str = ""
    ports: tuple[tuple[str, int, int, str], ...] = ()  # (host_ip, published, target, protocol)
    command: str = ""
    ips: tuple[str, ...] = ()  # the container's IP address on each of its networks, in order
    status: str = ""  # the engine's own words, e.g. "Up 3 minutes (healthy)"
    volume_mounts: tuple[tuple[str, str], ...] = ()  # (destination, volume name) of its volume mounts

    def anonymous_volumes(self) -> dict[str, str]:
        """destination -> volume name of the volumes the engine named itself (64 hex digits)."""
        return {dest: name for dest, name in self.volume_mounts
                if len(name) == 64 and all(ch in "0123456789abcdef" for ch in name)}

    @property
    def config_hash(self) -> str | None:
        return self.labels.get(L.CONFIG_HASH)

    @property
    def image_id(self) -> str | None:
        return self.labels.get(L.IMAGE)

    @property
    def oneoff(self) -> bool:
        return self.labels.get(L.ONEOFF, "False") == "True"

    @property
    def running(self) -> bool:
        return self.state in {"running", "restarting", "paused"}

    @property
    def replica(self) -> str:
        """`<service>-<n>`, the name compose uses in log prefixes and `replace` labels."""
        return f"{self.service}-{self.number}"


@dataclass(frozen=True)
class ObservedNetwork:
    name: str
    key: str  # the compose network key (label com.docker.compose.network)
    id: str = ""
    config_hash: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ObservedVolume:
    name: str
    key: str
    config_hash: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Observed:
    """Everything found for one project (by label filter, never by name prefix)."""

    project: str
    containers: tuple[ObservedContainer, ...] = ()
    networks: tuple[ObservedNetwork, ...] = ()
    volumes: tuple[ObservedVolume, ...] = ()
    engine_networks: frozenset[str] = frozenset()  # every network name on the engine
    engine_volumes: frozenset[str] = frozenset()  # every volume name on the engine

    def of_service(self, service: str, *, oneoff: bool = False) -> list[ObservedContainer]:
        found = [c for c in self.containers if c.service == service and c.oneoff == oneoff]
        return sorted(found, key=lambda c: c.number)

    def network_exists(self, name: str) -> bool:
        return name in self.engine_networks or any(n.name == name for n in self.networks)

    def volume_exists(self, name: str) -> bool:
        return name in self.engine_volumes or any(v.name == name for v in self.volumes)

    def orphans(self, services: Iterable[str]) -> list[ObservedContainer]:
        """Containers of the project whose service is not in the model (one-off ones included)."""
        known = set(services)
        return sorted((c for c in self.containers if c.service not in known), key=lambda c: c.name)
