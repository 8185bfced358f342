"""How to reach a node: plain data that both the SSH driver and the cluster inventory use.

It sits below ``drivers/`` and ``cluster/`` (it imports neither) so that the transport does not depend
on the package that will hold the reconciler; ``cluster/inventory`` builds these from inventory files.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SshSettings:
    """SSH connection settings of one node (inventory defaults merged in)."""

    user: str = "root"
    port: int = 22
    identity_file: pathlib.Path | None = None
    known_hosts: pathlib.Path | None = None


@dataclass(frozen=True)
class NodeSpec:
    """One machine of a cluster: its name, address, role, labels and how to reach it over SSH."""

    name: str
    address: str
    role: str = "worker"
    labels: Mapping[str, str] = field(default_factory=dict)
    ssh: SshSettings = SshSettings()

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"
