"""The SSH transport: one asyncssh connection per node, reused, and the node's engine behind it.

- ``SshTransport(nodes)`` holds one :class:`SshSession` per inventory node. A session connects on
  first use, reuses the connection, and reconnects (with backoff) when it was lost.
- ``session.run(cmd, timeout=…)`` runs a command; ``session.docker()`` is a docker SDK client
  talking to the node's ``/run/docker.sock`` through a local unix socket forwarded over SSH; that
  socket lives in a private 0700 directory and is itself mode 0600 (the engine is root-equivalent).
- Host keys are verified against the inventory's known_hosts; an unknown or changed key is a
  :class:`~stackctl.errors.HostKeyError` saying how to trust it. Authentication failure, an
  unreachable node and a stopped engine each have their own error, naming the node.

Image shipping lives in :mod:`stackctl.drivers.ssh_images`; node facts in :func:`probe_nodes`.
"""

from __future__ import annotations

import asyncio
import json
import math
import pathlib
import shlex
import shutil
import tempfile
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Self

import asyncssh

from stackctl.errors import DriverError, EngineUnavailable, HostKeyError
from stackctl.nodes import NodeSpec

REMOTE_DOCKER_SOCK = "/run/docker.sock"


class NodeUnreachable(DriverError):
    """No SSH connection could be made to the node (down, partitioned, wrong address)."""


class AuthenticationFailed(DriverError):
    """sshd answered but refused our key."""


class CommandFailed(DriverError):
    """A remote command exited non-zero."""

    def __init__(self, message: str, *, node: str, exit_status: int | None, stderr: str) -> None:
        super().__init__(message, node=node)
        self.exit_status = exit_status
        self.stderr = stderr


class CommandTimeout(DriverError):
    """A remote command did not finish in time."""


@dataclass(frozen=True)
class CommandResult:
    exit_status: int
    stdout: str
    stderr: str


def backoff_delays(retries: int, *, base: float, cap: float = 2.0) -> list[float]:
    """Seconds to wait before each reconnect attempt: base, 2·base, 4·base … capped."""
    return [min(cap, base * 2 ** i) for i in range(retries)]


def _connection_lost(exc: BaseException) -> bool:
    """The docker SDK's call died with the forwarded socket (the SDK is loaded: it raised this)."""
    import requests.exceptions
    import urllib3.exceptions

    return isinstance(exc, (ConnectionError, requests.exceptions.ConnectionError, requests.exceptions.ReadTimeout,
                            urllib3.exceptions.ProtocolError))


def _where(node: NodeSpec) -> str:
    return f"node {node.name} ({node.ssh.user}@{node.address}:{node.ssh.port})"


def _known_hosts_file(node: NodeSpec) -> pathlib.Path:
    return node.ssh.known_hosts or pathlib.Path.home() / ".ssh" / "known_hosts"


def _host_patterns(node: NodeSpec) -> tuple[str, ...]:
    return (node.address,) if node.ssh.port == 22 else (f"[{node.address}]:{node.ssh.port}",)


def _known_hosts_lists(node: NodeSpec, path: pathlib.Path) -> bool:
    """Whether known_hosts has any (plain, not hashed) entry for this node."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return False
    patterns = set(_host_patterns(node))
    return any(patterns & set(line.split()[0].split(",")) for line in lines if line.strip()
               and not line.startswith("#"))


def host_key_error(node: NodeSpec) -> HostKeyError:
    path = _known_hosts_file(node)
    port = f"-p {node.ssh.port} " if node.ssh.port != 22 else ""
    trust = f"ssh-keyscan {port}{node.address} >> {path}"
    if _known_hosts_lists(node, path):
        pattern = _host_patterns(node)[0]
        return HostKeyError(f"{_where(node)}: the SSH host key CHANGED (it does not match {path}); if the "
                            f"node was rebuilt, check the new key's fingerprint, then run "
                            f"`ssh-keygen -R {pattern} -f {path}` and `{trust}`", node=node.name)
    return HostKeyError(f"{_where(node)}: the SSH host key is unknown (not in {path}); check its "
                        f"fingerprint, then trust it with `{trust}`", node=node.name)


class SshSession:
    """One node: a lazily made, reused SSH connection, commands, and the forwarded engine socket."""

    def __init__(self, node: NodeSpec, *, socket_dir: pathlib.Path, connect_timeout: float,
                 retries: int, backoff: float) -> None:
        self.node = node
        self._socket_dir = socket_dir
        self._connect_timeout = connect_timeout
        self._delays = backoff_delays(retries, base=backoff)
        self._conn: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()
        self._listener: Any = None
        self._docker: Any = None
        self.connects = 0  # how many connections were made (reuse is observable)

    # -- connection -------------------------------------------------------------------------------

    async def connection(self) -> asyncssh.SSHClientConnection:
        async with self._lock:
            if self._conn is None or self._conn.is_closed():
                self._drop_forward()
                self._conn = await self._connect_with_retries()
            return self._conn

    async def _connect_with_retries(self) -> asyncssh.SSHClientConnection:
        last: NodeUnreachable | None = None
        for delay in [0.0, *self._delays]:
            if delay:
                await asyncio.sleep(delay)
            try:
                return await self._connect_once()
            except NodeUnreachable as exc:
                last = exc
        assert last is not None
        raise last

    async def _connect_once(self) -> asyncssh.SSHClientConnection:
        node, ssh = self.node, self.node.ssh
        keys = [str(ssh.identity_file)] if ssh.identity_file else ()
        try:
            conn = await asyncio.wait_for(asyncssh.connect(
                node.address, ssh.port, username=ssh.user, known_hosts=str(_known_hosts_file(node)),
                client_keys=keys or (), agent_path=None if keys else (), connect_timeout=self._connect_timeout,
                keepalive_interval=10, keepalive_count_max=3, config=None), self._connect_timeout + 1)
        except asyncssh.HostKeyNotVerifiable as exc:
            raise host_key_error(node) from exc
        except asyncssh.PermissionDenied as exc:
            ident = ssh.identity_file or "the default keys"
            raise AuthenticationFailed(f"{_where(node)}: SSH authentication failed with {ident}; is its "
                                       "public key in the node's authorized_keys?", node=node.name) from exc
        except (TimeoutError, OSError, asyncssh.Error) as exc:
            reason = getattr(exc, "strerror", None) or getattr(exc, "reason", None) or type(exc).__name__
            raise NodeUnreachable(f"{_where(node)} is unreachable: {reason}", node=node.name) from exc
        self.connects += 1
        return conn

    async def _forget(self, conn: asyncssh.SSHClientConnection) -> None:
        async with self._lock:
            if self._conn is conn:
                self._drop_forward()
                self._conn = None
        conn.close()

    # -- commands ---------------------------------------------------------------------------------

    async def run(self, command: str | Sequence[str], *, timeout: float = 60, input: str | bytes | None = None,
                  check: bool = True) -> CommandResult:
        """Run a command on the node; a lost connection is re-made once before the command starts.

        ``input`` (text or bytes: an archive) is sent on standard input, then closed."""
        text = command if isinstance(command, str) else shlex.join(command)
        data = input.encode() if isinstance(input, str) else input
        for attempt in (1, 2):
            conn = await self.connection()
            try:
                proc = await conn.run(text, input=data, timeout=timeout, check=False, encoding=None)
                break
            except asyncssh.TimeoutError as exc:
                raise CommandTimeout(f"node {self.node.name}: `{text}` did not finish within {timeout:g} s",
                                     node=self.node.name) from exc
            except (asyncssh.ChannelOpenError, asyncssh.ConnectionLost, asyncssh.DisconnectError,
                    ConnectionError) as exc:
                await self._forget(conn)
                if attempt == 2:
                    raise NodeUnreachable(f"{_where(self.node)}: connection lost ({exc})",
                                          node=self.node.name) from exc
        result = CommandResult(proc.exit_status if proc.exit_status is not None else -1,
                               _text(proc.stdout), _text(proc.stderr))
        if check and result.exit_status != 0:
            detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
            raise CommandFailed(f"node {self.node.name}: `{text}` exited {result.exit_status}"
                                + (f": {detail[-1]}" if detail else ""), node=self.node.name,
                                exit_status=result.exit_status, stderr=result.stderr)
        return result

    # -- engine -----------------------------------------------------------------------------------

    async def docker_socket(self) -> pathlib.Path:
        """A local unix socket (0600, in a 0700 directory) forwarded to the node's engine socket."""
        conn = await self.connection()
        async with self._lock:
            if self._listener is None:
                path = self._socket_dir / f"{self.node.name}.sock"
                path.unlink(missing_ok=True)
                try:
                    self._listener = await conn.forward_local_path(str(path), REMOTE_DOCKER_SOCK)
                except (OSError, asyncssh.Error) as exc:
                    raise DriverError(f"node {self.node.name}: cannot forward {REMOTE_DOCKER_SOCK} to "
                                      f"{path}: {exc}", node=self.node.name) from exc
                path.chmod(0o600)
            return self._socket_dir / f"{self.node.name}.sock"

    async def docker(self, *, timeout: float = 30) -> Any:
        """A docker SDK client for the node's engine (made once per connection)."""
        sock = await self.docker_socket()
        if self._docker is None:
            self._docker = await asyncio.to_thread(self._make_client, sock, timeout)
        return self._docker

    def _make_client(self, sock: pathlib.Path, timeout: float) -> Any:
        import docker

        try:
            client = docker.DockerClient(base_url=f"unix://{sock}", version="auto", timeout=math.ceil(timeout))
            client.ping()
        except Exception as exc:  # docker SDK / requests errors: the engine does not answer
            raise EngineUnavailable(f"node {self.node.name}: the Docker engine does not answer on "
                                    f"{REMOTE_DOCKER_SOCK} (sshd is up): is dockerd running there?",
                                    node=self.node.name) from exc
        return client

    async def engine(self, call: str, *args: Any, **kwargs: Any) -> Any:
        """Call a docker SDK method (``"info"``, ``"images.get"`` …) in a worker thread."""
        client = await self.docker()
        target: Any = client
        for part in call.split("."):
            target = getattr(target, part)
        try:
            return await asyncio.to_thread(target, *args, **kwargs)
        except Exception as exc:
            if _connection_lost(exc):
                self._drop_forward()
                raise EngineUnavailable(f"node {self.node.name}: the Docker engine stopped answering "
                                        f"({type(exc).__name__})", node=self.node.name) from exc
            raise

    async def engine_get(self, path: str, *, timeout: float = 10) -> Any:
        """GET an engine API path (``/info``) over an SSH channel to the node's socket; JSON back.

        No local socket, thread or docker SDK: the cheap path for facts read from many nodes at once.
        """
        conn = await self.connection()
        try:
            reader, writer = await conn.open_unix_connection(REMOTE_DOCKER_SOCK)
        except asyncssh.ChannelOpenError as exc:
            raise EngineUnavailable(f"node {self.node.name}: the Docker engine does not answer on "
                                    f"{REMOTE_DOCKER_SOCK} (sshd is up): is dockerd running there?",
                                    node=self.node.name) from exc
        try:
            writer.write(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            raw = await asyncio.wait_for(reader.read(), timeout)
        finally:
            writer.close()
        head, _, body = bytes(raw).partition(b"\r\n\r\n")
        status = head.split(b" ", 2)[1:2]
        if status != [b"200"]:
            raise DriverError(f"node {self.node.name}: engine GET {path} answered "
                              f"{head.splitlines()[0].decode(errors='replace') if head else 'nothing'}",
                              node=self.node.name)
        return json.loads(body)

    async def forward_to_port(self, path: pathlib.Path, host: str, port: int) -> Any:
        """Listen on the local unix socket ``path`` (made 0600; keep it in a 0700 directory) and forward
        each connection to ``host:port`` as the node sees it (``127.0.0.1:2379``: the node's loopback).
        Returns the listener; ``close()`` it to stop forwarding."""
        conn = await self.connection()
        path.unlink(missing_ok=True)
        try:
            listener = await conn.forward_local_path_to_port(str(path), host, port)
        except (OSError, asyncssh.Error) as exc:
            raise DriverError(f"node {self.node.name}: cannot forward {host}:{port} to {path}: {exc}",
                              node=self.node.name) from exc
        path.chmod(0o600)
        return listener

    def _drop_forward(self) -> None:
        if self._docker is not None:
            self._docker.close()
            self._docker = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    async def close(self) -> None:
        self._drop_forward()
        if self._conn is not None:
            self._conn.close()
            await self._conn.wait_closed()
            self._conn = None


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class SshTransport:
    """One session per inventory node; use as ``async with SshTransport(inv.nodes) as t: …``."""

    def __init__(self, nodes: Iterable[NodeSpec], *, connect_timeout: float = 5, retries: int = 3,
                 backoff: float = 0.2) -> None:
        self._dir = pathlib.Path(tempfile.mkdtemp(prefix="stackctl-ssh-"))  # mode 0700
        self.sessions: dict[str, SshSession] = {
            n.name: SshSession(n, socket_dir=self._dir, connect_timeout=connect_timeout, retries=retries,
                               backoff=backoff) for n in nodes}
        self.ship_locks: dict[tuple[str, str], asyncio.Lock] = {}

    @property
    def socket_dir(self) -> pathlib.Path:
        return self._dir

    def session(self, name: str) -> SshSession:
        try:
            return self.sessions[name]
        except KeyError:
            raise DriverError(f"no node named {name!r} (nodes: {', '.join(self.sessions)})") from None

    async def aclose(self) -> None:
        await asyncio.gather(*(s.close() for s in self.sessions.values()), return_exceptions=True)
        shutil.rmtree(self._dir, ignore_errors=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


# --- node facts -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class NodeStatus:
    name: str
    address: str
    role: str
    labels: Mapping[str, str] = field(default_factory=dict)
    status: str = "ready"  # ready | unreachable | auth-failed | host-key | engine-down | error
    error: str | None = None
    engine_version: str | None = None
    api_version: str | None = None
    cpus: int | None = None
    memory: int | None = None
    containers: int | None = None
    running: int | None = None
    images: int | None = None
    os: str | None = None
    kernel: str | None = None
    hostname: str | None = None
    seconds: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["labels"] = dict(self.labels)
        return d


_STATUS_OF = ((HostKeyError, "host-key"), (AuthenticationFailed, "auth-failed"),
              (NodeUnreachable, "unreachable"), (EngineUnavailable, "engine-down"))


def _status(node: NodeSpec, **facts: Any) -> NodeStatus:
    """The node's own fields, and what was measured (or why not): engine answers are JSON, hence Any."""
    return NodeStatus(name=node.name, address=node.address, role=node.role, labels=dict(node.labels), **facts)


async def probe_node(session: SshSession, *, timeout: float) -> NodeStatus:
    node = session.node
    started = time.monotonic()
    try:
        info, version = await asyncio.wait_for(
            asyncio.gather(session.engine_get("/info"), session.engine_get("/version")), timeout)
    except TimeoutError:
        return _status(node, status="unreachable", error=f"no answer within {timeout:g} s")
    except DriverError as exc:
        status = next((s for cls, s in _STATUS_OF if isinstance(exc, cls)), "error")
        return _status(node, status=status, error=str(exc))
    return _status(node, engine_version=info.get("ServerVersion"), api_version=version.get("ApiVersion"),
                      cpus=info.get("NCPU"), memory=info.get("MemTotal"), containers=info.get("Containers"),
                      running=info.get("ContainersRunning"), images=info.get("Images"),
                      os=info.get("OperatingSystem"), kernel=info.get("KernelVersion"),
                      hostname=info.get("Name"), seconds=round(time.monotonic() - started, 3))


async def probe_nodes(transport: SshTransport, *, names: Sequence[str] | None = None,
                      timeout: float = 5) -> list[NodeStatus]:
    """Facts of each node (or the named ones), measured in parallel; an unreachable node is a status."""
    sessions = [transport.session(n) for n in names] if names else list(transport.sessions.values())
    return list(await asyncio.gather(*(probe_node(s, timeout=timeout) for s in sessions)))
