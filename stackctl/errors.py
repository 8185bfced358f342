"""The one exception tree of stackctl.

Every error stackctl raises on purpose derives from :class:`StackctlError`; subclasses defined next to
the code that raises them are listed here with their module. Library errors (yaml, jsonschema, docker,
asyncssh, OSError) are wrapped at the boundary with ``raise ... from``, matched by class (never by
class name). Only ``stackctl.cli.main`` turns them into messages and exit codes.

    StackctlError                 exit code 1 unless stated
    ├── UsageError                bad command-line flags or arguments
    ├── SpecError                 a compose file is wrong: carries a list of Problems (file, path, line)
    │   └── InterpolationError    ${...} that cannot be evaluated
    ├── PlanError                 the desired state cannot be planned (e.g. dependency cycle)
    ├── ExecutionError            applying a plan failed (the failed and skipped services are named)
    ├── SchedulingError           no node can take a task (the reasons per filter are named)
    ├── ClusterError              inventory, election, etcd coordination
    │   ├── InventoryError        an inventory file is wrong: every Problem (cluster/inventory.py)
    │   ├── StateError            a cluster record read from etcd is malformed (cluster/state.py)
    │   ├── EtcdError             etcd answered an error (cluster/etcd.py)
    │   ├── EtcdUnavailable       no etcd endpoint answers; names the endpoints tried (cluster/etcd.py)
    │   ├── Deposed               a leader write's fence failed: this agent is no longer the leader
    │   ├── InitRefused           `cluster init` cannot go on: one line per node (cluster/setup.py)
    │   ├── NoManager             no manager reachable, or none with etcd answering (cluster/client.py)
    │   └── NotConverged          a deploy or scale did not converge: per-task reasons (cluster/deploying.py)
    ├── DriverError               the engine or the SSH transport failed (carries node, service)
    │   ├── EngineUnavailable     dockerd not running / socket permission denied
    │   ├── HostKeyError          unknown or changed SSH host key
    │   ├── EngineHTTPError       the engine answered an error status (drivers/_unixhttp.py; raw,
    │   │   │                     re-raised by drivers/_errors.translate naming the step)
    │   │   └── NotFound          404
    │   │       └── ImageNotFound 404 naming a missing image
    │   ├── NodeUnreachable       no SSH connection to a node (drivers/ssh.py, as the three below)
    │   ├── AuthenticationFailed  sshd refused our key
    │   ├── CommandFailed         a remote command exited non-zero (exit_status, stderr)
    │   └── CommandTimeout        a remote command did not finish in time
    ├── LoadBalancerError         listener cannot bind, admin socket problems
    └── LabError                  the local multi-node lab cannot be made or removed
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# C0 and C1 control characters, DEL, and the Unicode line and paragraph separators
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def printable(text: str) -> str:
    """``text`` with its control characters escaped (``\\n``, ``\\x1b``...), so that a message quoting user
    input stays on one line and sends no terminal escape sequence. Every message printed to a terminal
    goes through this."""
    return _CONTROL.sub(_escape_control, text)


def _escape_control(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    return _NAMED.get(char) or (f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}")


class StackctlError(Exception):
    """Root of every error stackctl raises on purpose."""

    exit_code: int = 1

    def lines(self) -> list[str]:
        """The message, one line per problem, as the CLI prints it (before :func:`printable`)."""
        return [str(self)]


class UsageError(StackctlError):
    """Bad command-line usage."""


@dataclass(frozen=True, order=True)
class Problem:
    """One thing wrong in a compose document.

    ``path`` is the key path in the document, e.g. ``services.web.ports[0]``; empty for the whole file.
    """

    file: str
    path: str
    message: str
    line: int | None = None

    def __str__(self) -> str:
        where = self.file or "<input>"
        if self.line is not None:
            where = f"{where}:{self.line}"
        if self.path:
            return f"{where}: {self.path}: {self.message}"
        return f"{where}: {self.message}"


class SpecError(StackctlError):
    """One or more problems in compose files; all of them are reported at once."""

    def __init__(self, problems: list[Problem] | Problem | str, *, file: str = "", path: str = "") -> None:
        if isinstance(problems, str):
            problems = [Problem(file, path, problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    def lines(self) -> list[str]:
        return [str(p) for p in self.problems]


class InterpolationError(SpecError):
    """A ${...} expression that is invalid or names a required variable that is missing."""


class PlanError(StackctlError):
    """The desired state cannot be planned."""


class ExecutionError(StackctlError):
    """Applying a plan failed; ``failed`` maps a unit to its error, ``skipped`` lists dependents not run."""

    def __init__(self, message: str, *, failed: dict[str, str] | None = None,
                 skipped: list[str] | None = None) -> None:
        super().__init__(message)
        self.failed = dict(failed or {})
        self.skipped = list(skipped or [])


class SchedulingError(StackctlError):
    """No node can take a task."""


class ClusterError(StackctlError):
    """Inventory, election or etcd coordination failed."""


class StateError(ClusterError):
    """A cluster record read from etcd is malformed (raised by cluster/state.py's from_json)."""


class EtcdError(ClusterError):
    """etcd answered with an error (raised by cluster/etcd.py)."""


class EtcdUnavailable(ClusterError):
    """No etcd endpoint answers; the message names the endpoints tried (cluster/etcd.py)."""


class Deposed(ClusterError):
    """A leader write failed its fence: the leader key changed, this agent is no longer the leader."""


class DriverError(StackctlError):
    """The Docker engine or the SSH transport failed."""

    def __init__(self, message: str, *, node: str | None = None, service: str | None = None) -> None:
        super().__init__(message)
        self.node = node
        self.service = service


class EngineUnavailable(DriverError):
    """dockerd does not answer, or its socket cannot be opened."""


class HostKeyError(DriverError):
    """An SSH host key is unknown or changed."""


class LoadBalancerError(StackctlError):
    """The load balancer cannot do what was asked."""


class LabError(StackctlError):
    """The local lab cannot be created or removed."""
