"""Real backends on loopback for the balancer tests, in-process (asyncio) or as separate processes.

Backends answer each line ``x`` with ``<name> x``, so a client sees who served it; ``echo`` ones
return every byte and half-close back after the client's EOF; ``proxy`` ones read the PROXY header
and answer with the client address it carries. ``python servers.py NAME`` runs a line backend as
its own process and prints its port (the tests kill such processes to play a crashing replica).
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

from stackctl.lb import proxyproto
from stackctl.lb.config import Address, BackendSpec, HealthCheck, Listener
from stackctl.lb.native import NativeListener
from stackctl.lb.pool import Pool
from stackctl.lb.proxy import TcpListener
from stackctl.lb.server import tcp_listener

ENGINE = {"name": "auto"}  # the engine listener() asks for; the proxy tests run each one


async def line_backend(name: str) -> tuple[asyncio.AbstractServer, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while line := await reader.readline():
                writer.write(f"{name} ".encode() + line)
                await writer.drain()
        except ConnectionError:
            pass
        finally:
            writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def echo_backend() -> tuple[asyncio.AbstractServer, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
        writer.write_eof()  # half-close back only after the client's EOF
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


async def proxy_header_backend() -> tuple[asyncio.AbstractServer, int]:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Answers once the header AND the client's first bytes are in: the native relay sends the
        header as soon as it connects, so they may come in two segments."""
        data = b""
        parsed = None
        while parsed is None or not parsed[1]:
            chunk = await reader.read(4096)
            if not chunk:
                break
            data += chunk
            parsed = proxyproto.parse(data)
        if parsed is not None:
            info, rest = parsed
            writer.write(f"{info.source} {info.destination} {rest.decode()}".encode())
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def listener(ports: list[int], **options: object) -> Listener:
    options.setdefault("health", HealthCheck(interval=0.2, timeout=0.5, rise=1, fall=1))
    options.setdefault("engine", ENGINE["name"])
    return Listener(name="t", bind=Address("127.0.0.1", 0),
                    backends=tuple(BackendSpec(Address("127.0.0.1", p)) for p in ports), **options)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def balancer(config: Listener) -> AsyncIterator[TcpListener | NativeListener]:
    """A running TCP listener (port 0) with its active health checks."""
    from stackctl.lb import health

    rise, fall = (config.health.rise, config.health.fall) if config.health else (2, 1)
    lst = tcp_listener(config, Pool.of(config.backends, rise=rise, fall=fall))
    await lst.start()
    checks = asyncio.get_running_loop().create_task(health.run_checks(lst))
    try:
        yield lst
    finally:
        checks.cancel()
        await lst.close()


async def ask(port: int, line: str = "hi", *, timeout: float = 5.0) -> str:
    """One new connection, one line, the answer (empty when the connection is closed unanswered)."""
    reader, writer = await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), timeout)
    try:
        writer.write(line.encode() + b"\n")
        return (await asyncio.wait_for(reader.readline(), timeout)).decode().strip()
    finally:
        writer.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def backend_process(name: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """A line backend in its own process; yields (process, port); killed at the end."""
    proc = subprocess.Popen([sys.executable, str(Path(__file__)), name], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        port = int(proc.stdout.readline())
        yield proc, port
    finally:
        proc.kill()
        proc.wait(timeout=10)


def serve_process(config: Path, tmp: Path, *options: str, prefix: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    """`stackctl lb serve -c CONFIG --pidfile TMP/pid OPTIONS…` as its own process, once it serves."""
    proc = subprocess.Popen([*prefix, sys.executable, "-m", "stackctl", "lb", "serve", "-c", str(config),
                             "--pidfile", str(tmp / "pid"), *options], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while not (tmp / "pid").exists():
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        assert time.monotonic() < deadline, "lb serve did not start"
        time.sleep(0.05)
    return proc


def ask_blocking(port: int, line: str = "hi") -> str:
    """One line through the balancer with a plain blocking socket; the backend's answer."""
    with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
        sock.sendall(line.encode() + b"\n")
        return sock.makefile().readline().strip()


async def _main(name: str) -> None:
    server, port = await line_backend(name)
    print(port, flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1]))
