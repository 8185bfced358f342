"""The API the compose engine calls to run a project's balancer: ensure, update, stop, stats.

One balancer process per project serves all of the project's published ports: for ``8080:80``
with three replicas, one Listener binds ``0.0.0.0:8080`` and its backends are the replicas'
container addresses on the project network (``172.18.0.3:80`` ...), which the host reaches
directly; the containers themselves publish nothing. A service with a healthcheck passes the
container's Docker health status in ``BackendSpec.health`` (only ``healthy`` ones get traffic). It runs detached
from the CLI (its own session, ``stackctl lb serve``) and survives the CLI exiting. Its state lives
in ``state_dir``::

    <project>.lb.json    the desired configuration (lb.yaml format, JSON); the balancer reads it
    <project>.lock       flock'ed around every read-modify-write of the file and the reload
    <project>.pid        written by the balancer once it listens
    <project>.sock       its admin socket (0600); a long state_dir uses a per-user temp dir
    <project>.log        its stderr

Every change is: take the lock, read the file, change it, write it atomically (temp + rename),
ask the running balancer to reload and wait for its answer, release the lock. Two ``scale``
commands running at once are therefore serialised, and the balancer always reads a whole file.

    ensure_balancer("shop", [Listener(name="web-80", bind=Address("0.0.0.0", 8080), backends=...)],
                    state_dir=Path("~/.local/state/stackctl"))
    update_backends("shop", {"web-80": [BackendSpec(Address("172.18.0.3", 80), health="healthy")]},
                    state_dir=...)
    wait_drained("shop", "web-80", [removed_address], state_dir=...)  # then stop the container
    balancer_stats("shop", state_dir=...)      # list of listener stats, or None when not running
    balancer_info("shop", state_dir=...)       # pid, admin socket, listener names (for `compose ps`)
    stop_balancer("shop", state_dir=...)       # SIGTERM: stop accepting, drain, exit
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stackctl.errors import LoadBalancerError, SpecError
from stackctl.lb import admin, config
from stackctl.lb.config import Address, BackendSpec, Config, Listener

MAX_SOCKET_PATH = 100  # sun_path is 108 bytes on Linux


@dataclass(frozen=True)
class BalancerFiles:
    config: Path
    lock: Path
    pid: Path
    socket: Path
    log: Path


@dataclass(frozen=True)
class BalancerInfo:
    project: str
    pid: int
    admin: Path
    listeners: tuple[str, ...]


def files(project: str, *, state_dir: Path) -> BalancerFiles:
    base = state_dir / project
    sock = state_dir / f"{project}.sock"
    if len(str(sock)) > MAX_SOCKET_PATH:
        digest = hashlib.sha256(str(sock.resolve()).encode()).hexdigest()[:16]
        sock = admin.private_dir(Path(tempfile.gettempdir()) / f"stackctl-lb-{os.getuid()}") / f"{digest}.sock"
    return BalancerFiles(config=base.with_name(f"{project}.lb.json"), lock=base.with_name(f"{project}.lock"),
                         pid=base.with_name(f"{project}.pid"), socket=sock, log=base.with_name(f"{project}.log"))


@contextmanager
def _locked(paths: BalancerFiles) -> Iterator[None]:
    paths.lock.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(paths.lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _read(paths: BalancerFiles) -> Config | None:
    try:
        doc = json.loads(paths.config.read_text())
    except FileNotFoundError:
        return None
    except ValueError as exc:
        raise LoadBalancerError(f"{paths.config}: not valid JSON: {exc}") from exc
    return config.parse(doc, file=str(paths.config))


def _write(paths: BalancerFiles, cfg: Config) -> None:
    tmp = paths.config.with_name(f".{paths.config.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(config.dump(cfg), indent=1))
    os.replace(tmp, paths.config)


def _answers(paths: BalancerFiles) -> dict[str, Any] | None:
    if not paths.socket.exists():
        return None
    try:
        return admin.request(paths.socket, "ping", timeout=2.0)
    except LoadBalancerError:
        return None


def ensure_balancer(project: str, listeners: Sequence[Listener], *, state_dir: Path,
                    python: str = sys.executable, timeout: float = 10.0) -> BalancerInfo:
    """Make the project's balancer serve exactly ``listeners``: start it, or reload the running one.

    Raises LoadBalancerError when it cannot start (e.g. a port is taken; the message says which).
    """
    paths = files(project, state_dir=state_dir)
    cfg = Config(listeners=tuple(listeners), admin=str(paths.socket))
    _check(cfg, paths)
    with _locked(paths):
        _write(paths, cfg)
        running = _answers(paths)
        if running is not None:
            admin.request(paths.socket, "reload", timeout=timeout)
            pid = int(running["pid"])
        else:
            pid = _spawn(project, paths, python=python, timeout=timeout)
    return BalancerInfo(project, pid, paths.socket, tuple(lst.name for lst in listeners))


def _check(cfg: Config, paths: BalancerFiles) -> None:
    try:
        config.parse(config.dump(cfg), file=str(paths.config))
    except SpecError as exc:
        raise LoadBalancerError(f"invalid balancer configuration: {exc.lines()[0]}") from exc


def _spawn(project: str, paths: BalancerFiles, *, python: str, timeout: float) -> int:
    cmd = [python, "-m", "stackctl", "lb", "serve", "-c", str(paths.config), "--admin", str(paths.socket),
           "--pidfile", str(paths.pid)]
    with open(paths.log, "ab") as log:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
                                close_fds=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise LoadBalancerError(f"balancer for {project} did not start: {_last_line(paths.log)}")
        if paths.pid.exists() and _answers(paths) is not None:
            return proc.pid
        time.sleep(0.05)
    proc.kill()
    raise LoadBalancerError(f"balancer did not answer within {timeout:.0f}s (log: {paths.log})")


def _last_line(log: Path) -> str:
    lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    return lines[-1].removeprefix("stackctl: ") if lines else f"no output (see {log})"


def update_backends(project: str, backends: Mapping[str, Sequence[BackendSpec]], *, state_dir: Path,
                    timeout: float = 10.0) -> None:
    """Replace the backends of the named listeners; others keep theirs. Returns once applied.

    Removed backends drain (no new connections, established ones finish within drain_timeout).
    """
    paths = files(project, state_dir=state_dir)
    with _locked(paths):
        current = _read(paths)
        if current is None:
            raise LoadBalancerError(f"project {project} has no balancer (ensure_balancer first)")
        unknown = sorted(set(backends) - {lst.name for lst in current.listeners})
        if unknown:
            raise LoadBalancerError(f"project {project}: no listener named {', '.join(unknown)}")
        listeners = tuple(lst.with_backends(backends[lst.name]) if lst.name in backends else lst
                          for lst in current.listeners)
        _write(paths, Config(listeners=listeners, metrics=current.metrics, admin=current.admin))
        if _answers(paths) is None:
            raise LoadBalancerError(f"project {project}: the balancer is not running (saved for its next start)")
        admin.request(paths.socket, "reload", timeout=timeout)


def wait_drained(project: str, listener: str, addresses: Collection[Address], *, state_dir: Path,
                 timeout: float = 35.0) -> bool:
    """Wait until none of ``addresses`` has a connection left through ``listener`` (drained).

    Call it after :func:`update_backends` removed them and before stopping their containers, so
    that a scale-down ends no request. False when ``timeout`` passed first.
    """
    wanted = {str(a) for a in addresses}
    deadline = time.monotonic() + timeout
    while True:
        stats = balancer_stats(project, state_dir=state_dir) or []
        busy = [b for lst in stats if lst["name"] == listener for b in lst["backends"]
                if b["address"] in wanted and b["active"] > 0]
        if not busy:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.05)


def listener_names(project: str, *, state_dir: Path) -> set[str]:
    """The listeners the project's balancer is configured with (empty: it has none, or its state
    cannot be read; the balancer itself reports a broken state when it is next changed)."""
    try:
        doc = json.loads(files(project, state_dir=state_dir).config.read_text())
    except (OSError, ValueError):
        return set()
    return set((doc.get("listeners") or {}).keys()) if isinstance(doc, dict) else set()


def is_configured(project: str, *, state_dir: Path) -> bool:
    """Whether the project has a balancer configuration (running or not)."""
    return files(project, state_dir=state_dir).config.exists()


def balancer_info(project: str, *, state_dir: Path) -> BalancerInfo | None:
    """The running balancer of a project (pid, admin socket, listeners), for `compose ps`; else None."""
    paths = files(project, state_dir=state_dir)
    if not paths.socket.exists():
        return None
    try:
        answer = admin.request(paths.socket, "stats", timeout=5.0)
    except LoadBalancerError:
        return None
    return BalancerInfo(project, int(answer["pid"]), paths.socket, tuple(s["name"] for s in answer["listeners"]))


def balancer_stats(project: str, *, state_dir: Path) -> list[dict[str, Any]] | None:
    """Per listener counters and backend states, or None when the project has no running balancer."""
    paths = files(project, state_dir=state_dir)
    if not paths.socket.exists():
        return None
    try:
        return list(admin.request(paths.socket, "stats", timeout=5.0)["listeners"])
    except LoadBalancerError:
        return None


def stop_balancer(project: str, *, state_dir: Path, timeout: float = 35.0) -> bool:
    """Stop the project's balancer (SIGTERM: drain, then exit; SIGKILL after ``timeout``).

    Returns False when none was running. Its files are removed.
    """
    paths = files(project, state_dir=state_dir)
    with _locked(paths):
        pid = _balancer_pid(paths)
        stopped = pid is not None and _terminate(pid, timeout=timeout)
        for path in (paths.config, paths.pid, paths.socket):
            path.unlink(missing_ok=True)
    return stopped


def _balancer_pid(paths: BalancerFiles) -> int | None:
    """The balancer's pid (pid file, else its admin socket's answer), only if that process still
    is this project's balancer (pids get reused)."""
    try:
        pid = int(paths.pid.read_text().strip())
    except (OSError, ValueError):
        answer = _answers(paths)
        if answer is None:
            return None
        pid = int(answer["pid"])
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return None
    return pid if b"serve" in cmdline and str(paths.config).encode() in cmdline else None


def _terminate(pid: int, *, timeout: float) -> bool:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return False
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.05)
    os.kill(pid, signal.SIGKILL)
    return True


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
