"""A project's balancer on the host of an ``ssh://`` engine, driven over SSH.

Same methods as :class:`stackctl.lb.balancers.LocalBalancer`; each call runs the internal verb
``stackctl lb project ACTION`` on that host (JSON in, JSON out) from the copy of stackctl installed
there (:mod:`stackctl.drivers.ssh_install`), so the balancer, its state files and its admin socket
all live on that host; nothing is opened on this machine.

Installing needs consent: :meth:`RemoteBalancer.prepare` (called before a plan that needs a
balancer is applied) installs this stackctl there when it is missing, after ``confirm`` said yes.
Reading (``ps``, ``port``) and stopping (``down``) never install: they use whatever installation is
there, and with none there is no balancer to find.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from stackctl.drivers import ssh_install
from stackctl.drivers.ssh_command import SshCommands
from stackctl.drivers.ssh_install import Bundle, Installation
from stackctl.errors import LoadBalancerError, UsageError
from stackctl.lb.config import Address, BackendSpec, Config, Listener, dump
from stackctl.lb.control import BalancerInfo

# Asked before installing; gets the installation-to-be and the archive size, answers yes or no.
Confirm = Callable[[Installation, int], bool]


class RemoteBalancer:
    def __init__(self, url: str, *, confirm: Confirm, commands: SshCommands | None = None,
                 bundle: Callable[[], Bundle] = ssh_install.build_bundle) -> None:
        self.where = url
        self._ssh = commands or SshCommands(url)
        self._confirm = confirm
        self._make_bundle = bundle
        self._bundle: Bundle | None = None
        self._found: Installation | None = None

    # -- installation -----------------------------------------------------------------------------

    def _probe(self) -> Installation:
        if self._found is None:
            if self._bundle is None:
                self._bundle = self._make_bundle()
            self._found = ssh_install.probe(self._ssh, self.where, self._bundle)
        return self._found

    def prepare(self, *, dry_run: bool) -> None:
        """Make sure this stackctl is installed there (asking first); nothing in a dry run."""
        found = self._probe()
        if found.present or dry_run:
            return
        assert self._bundle is not None
        if not self._confirm(found, len(self._bundle.archive)):
            raise UsageError(f"stackctl was not installed on {self.where}: nothing changed")
        self._found = ssh_install.install(self._ssh, found, self._bundle)

    def _runnable(self, *, install: bool) -> Installation | None:
        """The installation to run the verb from: this one, else (for reading/stopping) any there."""
        found = self._probe()
        if found.present:
            return found
        if install:
            self.prepare(dry_run=False)
            return self._found
        if not found.others:
            return None
        return replace(found, dir=f"{found.base}/{max(found.others)}")  # any one can read and stop

    def _call(self, action: str, project: str, request: Any = None, *, install: bool) -> Any:
        found = self._runnable(install=install)
        if found is None:
            return None
        command = found.command("lb", "project", action, "--project", project, "--state-dir", found.state_dir)
        payload = json.dumps(request).encode() if request is not None else None
        result = self._ssh.run(command, input=payload, check=False, timeout=120)
        try:
            answer = json.loads(result.stdout.decode(errors="replace").strip().splitlines()[-1])
        except (ValueError, IndexError):
            raise LoadBalancerError(f"{self.where}: `stackctl lb project {action}` failed there: "
                                    f"{result.last_error_line()}") from None
        if not answer.get("ok"):
            raise LoadBalancerError(f"{self.where}: {answer.get('error')}")
        return answer.get("result")

    # -- the balancer API -------------------------------------------------------------------------

    def listener_names(self, project: str) -> frozenset[str]:
        return frozenset(self._call("listeners", project, install=False) or ())

    def ensure_balancer(self, project: str, listeners: Sequence[Listener]) -> BalancerInfo:
        doc = dump(Config(listeners=tuple(listeners)))
        info = self._call("ensure", project, {"listeners": doc["listeners"]}, install=True)
        return _info(project, info)

    def update_backends(self, project: str, backends: Mapping[str, Sequence[BackendSpec]]) -> None:
        request = {"backends": {name: [{"address": str(b.address), "health": b.health} for b in items]
                                for name, items in backends.items()}}
        self._call("update", project, request, install=True)

    def wait_drained(self, project: str, listener: str, addresses: Collection[Address], *,
                     timeout: float = 35.0) -> bool:
        request = {"listener": listener, "addresses": [str(a) for a in addresses], "timeout": timeout}
        return bool(self._call("wait-drained", project, request, install=True))

    def balancer_info(self, project: str) -> BalancerInfo | None:
        info = self._call("info", project, install=False)
        return None if info is None else _info(project, info)

    def balancer_stats(self, project: str) -> list[dict[str, Any]] | None:
        stats = self._call("stats", project, install=False)
        return None if stats is None else list(stats)

    def stop_balancer(self, project: str) -> bool:
        return bool(self._call("stop", project, install=False))

    def close(self) -> None:
        self._ssh.close()


def _info(project: str, doc: Mapping[str, Any]) -> BalancerInfo:
    return BalancerInfo(project, int(doc["pid"]), Path(str(doc["admin"])), tuple(doc["listeners"]))
