"""Commands on the host of an ``ssh://user@host[:port]`` engine, with the trust rules of ``-H ssh://``.

The laptop path reaches a remote engine through the docker SDK's paramiko transport; the commands
that install stackctl there and drive its balancer go the same way, so they trust exactly what
``-H ssh://`` trusts: ``~/.ssh/config`` (HostName, Port, User, IdentityFile, ProxyCommand) as the
SDK reads it, host keys from the user's known_hosts, an unknown or changed key refused (never
added), with the same one-line errors as the engine connection.

    with SshCommands("ssh://root@node1") as ssh:
        ssh.run("id -u").stdout            # "0\\n"
        ssh.run("cat > f", input=b"data")  # stdin is sent, then closed
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Self
from urllib.parse import urlparse

from stackctl.drivers._errors import translate
from stackctl.errors import DriverError, UsageError


@dataclass(frozen=True)
class SshCommandResult:
    exit_status: int
    stdout: bytes
    stderr: bytes

    def last_error_line(self) -> str:
        lines = [ln for ln in (self.stderr or self.stdout).decode(errors="replace").splitlines() if ln.strip()]
        return lines[-1].strip() if lines else f"exit status {self.exit_status}"


def connect_params(url: str, *, ssh_config: str | None = None) -> dict[str, Any]:
    """paramiko ``connect`` arguments for ``url``, with ``~/.ssh/config`` applied as the SDK applies it."""
    parsed = urlparse(url)
    if parsed.scheme != "ssh" or not parsed.hostname:
        raise UsageError(f"not an ssh:// engine address: {url}")
    params: dict[str, Any] = {"hostname": parsed.hostname, "port": parsed.port or 22, "username": parsed.username}
    path = ssh_config or os.path.expanduser("~/.ssh/config")
    if os.path.exists(path):
        import paramiko

        conf = paramiko.SSHConfig.from_path(path).lookup(parsed.hostname)
        if "proxycommand" in conf:
            params["sock"] = paramiko.ProxyCommand(conf["proxycommand"])
        params["hostname"] = conf.get("hostname", params["hostname"])
        if parsed.port is None and "port" in conf:
            params["port"] = int(conf["port"])
        if parsed.username is None and "user" in conf:
            params["username"] = conf["user"]
        if "identityfile" in conf:
            params["key_filename"] = conf["identityfile"]
    return params


class SshCommands:
    """One SSH connection to the engine's host (made on first use, reused), running commands."""

    def __init__(self, url: str, *, connect_timeout: float = 10.0) -> None:
        self.url = url
        self._timeout = connect_timeout
        self._client: Any = None

    def _connected(self) -> Any:
        if self._client is not None:
            return self._client
        params = connect_params(self.url)
        with translate(where=self.url, what="ssh"):
            import paramiko

            client = paramiko.SSHClient()
            client.load_system_host_keys()
            client.set_missing_host_key_policy(paramiko.RejectPolicy())  # never auto-accept
            client.connect(**params, timeout=self._timeout, banner_timeout=self._timeout,
                           auth_timeout=self._timeout)
        self._client = client
        return client

    def run(self, command: str, *, input: bytes | None = None, timeout: float = 120.0,
            check: bool = True) -> SshCommandResult:
        """Run ``command`` (a shell line) on the host; ``check``: a non-zero exit is a DriverError."""
        client = self._connected()
        with translate(where=self.url, what="ssh"):
            stdin, stdout, stderr = client.exec_command(command, timeout=timeout)
            if input:
                stdin.write(input)
                stdin.flush()
            stdin.channel.shutdown_write()
            out, err = stdout.read(), stderr.read()
            status = int(stdout.channel.recv_exit_status())
        result = SshCommandResult(status, out, err)
        if check and status != 0:
            raise DriverError(f"{self.url}: a command failed: {result.last_error_line()}")
        return result

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
