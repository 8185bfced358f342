"""Which machine runs a project's balancer, behind one interface: here, on the engine's host, or none.

A published port belongs to the engine's host. With the local engine the project's balancer runs
here (:class:`LocalBalancer`, over :mod:`stackctl.lb.control` and a state directory); with an
``ssh://`` engine it runs on that host (``stackctl.drivers.ssh_balancer.RemoteBalancer``, same
methods, over SSH); a ``tcp://`` engine offers no way to run one there (:class:`NoBalancer`: it
refuses before anything changes, and finds nothing to show or stop). ``compose`` takes one of these
and never asks which it is.

    lb.prepare(dry_run=False)                    # before a plan that needs a balancer is applied
    lb.listener_names("shop")                    # names in the saved configuration
    lb.ensure_balancer("shop", listeners)        # start or reload
    lb.update_backends("shop", {"web-8080-tcp": [...]})
    lb.wait_drained("shop", "web-8080-tcp", [address])
    lb.balancer_stats("shop"), lb.balancer_info("shop")
    lb.stop_balancer("shop")                     # and its files
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from stackctl.errors import LoadBalancerError
from stackctl.lb.config import Address, BackendSpec, Listener
from stackctl.lb.control import BalancerInfo


class BalancerControl(Protocol):
    """The project balancer API; every method names the project."""

    where: str  # "this machine", "ssh://root@node1": for messages

    def prepare(self, *, dry_run: bool) -> None: ...
    def listener_names(self, project: str) -> frozenset[str]: ...
    def ensure_balancer(self, project: str, listeners: Sequence[Listener]) -> BalancerInfo: ...
    def update_backends(self, project: str, backends: Mapping[str, Sequence[BackendSpec]]) -> None: ...
    def wait_drained(self, project: str, listener: str, addresses: Collection[Address], *,
                     timeout: float = 35.0) -> bool: ...
    def balancer_info(self, project: str) -> BalancerInfo | None: ...
    def balancer_stats(self, project: str) -> list[dict[str, Any]] | None: ...
    def stop_balancer(self, project: str) -> bool: ...


class LocalBalancer:
    """The balancer on this machine, its files in ``state_dir``."""

    where = "this machine"

    def __init__(self, state_dir: Path) -> None:
        self.state_dir = state_dir

    def prepare(self, *, dry_run: bool) -> None:
        return None

    def listener_names(self, project: str) -> frozenset[str]:
        from stackctl.lb import control

        return frozenset(control.listener_names(project, state_dir=self.state_dir))

    def ensure_balancer(self, project: str, listeners: Sequence[Listener]) -> BalancerInfo:
        from stackctl.lb import control

        return control.ensure_balancer(project, listeners, state_dir=self.state_dir)

    def update_backends(self, project: str, backends: Mapping[str, Sequence[BackendSpec]]) -> None:
        from stackctl.lb import control

        control.update_backends(project, backends, state_dir=self.state_dir)

    def wait_drained(self, project: str, listener: str, addresses: Collection[Address], *,
                     timeout: float = 35.0) -> bool:
        from stackctl.lb import control

        return control.wait_drained(project, listener, addresses, state_dir=self.state_dir, timeout=timeout)

    def balancer_info(self, project: str) -> BalancerInfo | None:
        from stackctl.lb import control

        return control.balancer_info(project, state_dir=self.state_dir)

    def balancer_stats(self, project: str) -> list[dict[str, Any]] | None:
        from stackctl.lb import control

        return control.balancer_stats(project, state_dir=self.state_dir)

    def stop_balancer(self, project: str) -> bool:
        from stackctl.lb import control

        if not control.is_configured(project, state_dir=self.state_dir):
            return False
        return control.stop_balancer(project, state_dir=self.state_dir)


class NoBalancer:
    """An engine whose host stackctl cannot reach (``tcp://``): nothing to find, and a balancer refused."""

    def __init__(self, where: str, reason: str) -> None:
        self.where, self.reason = where, reason

    def prepare(self, *, dry_run: bool) -> None:
        raise LoadBalancerError(self.reason)

    def listener_names(self, project: str) -> frozenset[str]:
        return frozenset()

    def ensure_balancer(self, project: str, listeners: Sequence[Listener]) -> BalancerInfo:
        raise LoadBalancerError(self.reason)

    def update_backends(self, project: str, backends: Mapping[str, Sequence[BackendSpec]]) -> None:
        raise LoadBalancerError(self.reason)

    def wait_drained(self, project: str, listener: str, addresses: Collection[Address], *,
                     timeout: float = 35.0) -> bool:
        return True

    def balancer_info(self, project: str) -> BalancerInfo | None:
        return None

    def balancer_stats(self, project: str) -> list[dict[str, Any]] | None:
        return None

    def stop_balancer(self, project: str) -> bool:
        return False
