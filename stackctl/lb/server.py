"""The balancer process: listeners, health checks, metrics and admin socket, live reload, shutdown.

:class:`Balancer` applies a :class:`Config` and re-applies a new one without touching established
connections: a listener with the same name, bind address and protocol keeps its socket and
sessions and only gets new options and backends; others are opened or closed.
:func:`serve` runs one until SIGTERM/SIGINT or an admin ``stop``: stop accepting, let sessions
finish (up to the longest drain timeout), exit. SIGHUP re-reads the configuration file.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from stackctl.errors import LoadBalancerError
from stackctl.lb import admin, health, metrics, native
from stackctl.lb.config import Config, Listener
from stackctl.lb.native import NativeListener
from stackctl.lb.pool import Pool
from stackctl.lb.proxy import TcpListener
from stackctl.lb.udp import UdpListener

AnyListener = TcpListener | NativeListener | UdpListener


def engine_of(config: Listener) -> str:
    """The data path a TCP listener runs: ``native`` (C relay) or ``asyncio``; ``auto`` prefers native."""
    if config.engine == "native" and not native.available():
        raise LoadBalancerError(f"listener {config.name}: engine native: the native engine is not built here")
    if config.engine == "asyncio" or not native.available():
        return "asyncio"
    return "native"


def tcp_listener(config: Listener, pool: Pool, *, reuse_port: bool = False) -> TcpListener | NativeListener:
    """A TCP listener on the engine the config asks for (not started)."""
    if engine_of(config) == "native":
        return NativeListener(config, pool, reuse_port=reuse_port)
    return TcpListener(config, pool, reuse_port=reuse_port)


class Balancer:
    def __init__(self, *, reuse_port: bool = False) -> None:
        self.listeners: dict[str, AnyListener] = {}
        self.checkers: dict[str, asyncio.Task[None]] = {}
        self.config = Config()
        self.reuse_port = reuse_port
        self.stopping = asyncio.Event()
        self._metrics: asyncio.AbstractServer | None = None

    async def apply(self, config: Config) -> None:
        """Make the running listeners match ``config``."""
        wanted = {lst.name: lst for lst in config.listeners}
        for name in [n for n, cur in self.listeners.items() if not _same_socket(cur.config, wanted.get(n))]:
            await self._remove(name)
        for name, lst in wanted.items():
            current = self.listeners.get(name)
            if current is None:
                await self._add(lst)
            else:
                current.reconfigure(lst)
        if config.metrics != self.config.metrics:
            await self._restart_metrics(config)
        self.config = config

    async def _add(self, config: Listener) -> None:
        rise, fall = (config.health.rise, config.health.fall) if config.health else (2, 1)
        pool = Pool.of(config.backends, rise=rise, fall=fall)
        listener: AnyListener = (UdpListener(config, pool) if config.protocol == "udp"
                                 else tcp_listener(config, pool, reuse_port=self.reuse_port))
        await listener.start()
        self.listeners[config.name] = listener
        self.checkers[config.name] = asyncio.get_running_loop().create_task(health.run_checks(listener))

    async def _remove(self, name: str) -> None:
        listener = self.listeners.pop(name)
        self.checkers.pop(name).cancel()
        await listener.close(drain=0.0)

    async def _restart_metrics(self, config: Config) -> None:
        if self._metrics is not None:
            self._metrics.close()
            self._metrics = None
        if config.metrics is not None:
            self._metrics = await metrics.serve(config.metrics, self.stats)

    def stats(self) -> list[dict[str, Any]]:
        return [{"engine": "asyncio", **listener.stats()} for listener in self.listeners.values()]

    async def shutdown(self) -> None:
        """Stop accepting everywhere, let sessions finish up to the longest drain timeout, close."""
        for listener in self.listeners.values():
            listener.stop_accepting()
        drain = max((lst.config.drain_timeout for lst in self.listeners.values()), default=0.0)
        await asyncio.gather(*(lst.close(drain=drain) for lst in self.listeners.values()))
        for task in self.checkers.values():
            task.cancel()
        if self._metrics is not None:
            self._metrics.close()


def _same_socket(current: Listener, wanted: Listener | None) -> bool:
    if wanted is None or (current.bind, current.protocol) != (wanted.bind, wanted.protocol):
        return False
    return current.protocol == "udp" or engine_of(current) == engine_of(wanted)


async def serve(load: Callable[[], Config], *, admin_path: Path | None, pidfile: Path | None = None,
                ready: Callable[[Balancer], None] | None = None, reuse_port: bool = False,
                accept: Callable[[Any], Config] | None = None) -> None:
    """Run a balancer until asked to stop. ``load()`` reads and validates the config (again on reload).
    ``accept(doc)``, when given, enables the admin ``apply`` command: it validates a whole configuration
    document sent over the admin socket, saves it where ``load`` reads it, and returns it to be applied
    (the cluster leader drives every node proxy this way)."""
    balancer = Balancer(reuse_port=reuse_port)
    await balancer.apply(load())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, balancer.stopping.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: loop.create_task(_reload_on_hangup(balancer, load)))
    admin_server = None
    if admin_path is not None:
        admin_server = await admin.serve(admin_path, _admin_handler(balancer, load, accept))
    if pidfile is not None:
        _write_atomic(pidfile, f"{os.getpid()}\n")
    if ready is not None:
        ready(balancer)
    try:
        await balancer.stopping.wait()
    finally:
        if admin_server is not None:
            admin_server.close()
        await balancer.shutdown()
        _unlink(admin_path)
        _unlink(pidfile)


async def _reload_on_hangup(balancer: Balancer, load: Callable[[], Config]) -> None:
    """SIGHUP: re-read the file; a bad file is reported on stderr and the running setup kept."""
    import sys

    from stackctl.errors import StackctlError, printable

    try:
        await balancer.apply(load())
    except StackctlError as exc:
        for line in exc.lines():
            print(f"stackctl lb: reload failed: {printable(line)}", file=sys.stderr, flush=True)
        return
    print("stackctl lb: reloaded", file=sys.stderr, flush=True)


def _admin_handler(balancer: Balancer, load: Callable[[], Config],
                   accept: Callable[[Any], Config] | None = None) -> admin.Handler:
    async def handle(request: dict[str, Any]) -> dict[str, Any]:
        cmd = request.get("cmd")
        if cmd == "ping":
            return {"ok": True, "pid": os.getpid()}
        if cmd == "stats":
            return {"ok": True, "pid": os.getpid(), "listeners": balancer.stats()}
        if cmd == "reload":
            await balancer.apply(load())
            return {"ok": True, "listeners": [lst.name for lst in balancer.config.listeners]}
        if cmd == "apply" and accept is not None:
            await balancer.apply(accept(request.get("config")))
            return {"ok": True, "pid": os.getpid(), "listeners": [lst.name for lst in balancer.config.listeners]}
        if cmd == "stop":
            balancer.stopping.set()
            return {"ok": True}
        return {"ok": False, "error": f"unknown command {cmd!r}"}

    return handle


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def _unlink(path: Path | None) -> None:
    if path is not None:
        try:
            path.unlink()
        except FileNotFoundError:
            pass


def new_event_loop() -> asyncio.AbstractEventLoop:
    """uvloop's loop when the ``fast`` extra is installed, the stock loop otherwise."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()
