"""The balancer's configuration: listeners and their backends, from the small ``lb.yaml`` format.

Pure: :func:`parse` takes the already-loaded document (a dict) and the file name used in messages;
reading the file is the caller's job. Every problem is reported at once as a :class:`SpecError`
whose problems name the key path, e.g. ``lb.yaml: listeners.web.backends[1]: ...``.

The format (durations are numbers of seconds or strings like ``500ms``, ``2s``, ``1m``)::

    metrics: 127.0.0.1:9100          # optional Prometheus endpoint, loopback only
    admin: /run/user/1000/lb.sock    # optional admin unix socket (the CLI picks one otherwise)
    listeners:
      web:
        bind: 0.0.0.0:8080           # host:port, [v6]:port or just a port (all interfaces)
        protocol: tcp                # tcp (default) or udp
        backends:                    # "host:port" or {address: "host:port", health: healthy}
          - 127.0.0.1:8001
          - 127.0.0.1:8002
        health: {interval: 2s, timeout: 1s, rise: 2, fall: 1}   # or `health: false`
        proxy_protocol: v2           # none (default), v1 or v2
        max_connections: 10000
        connect_timeout: 2s
        idle_timeout: 5m             # tcp: close a connection silent both ways; udp: flow idle time
        drain_timeout: 30s           # how long a removed backend's connections may finish
        engine: auto                 # tcp data path: native (C, stackctl.lb._relay), asyncio, or auto
                                     # (native when the extension is built, else asyncio)

:func:`dump` turns a :class:`Config` back into the same document, so ``parse(dump(c)) == c``.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from stackctl.errors import Problem, SpecError

PROTOCOLS = ("tcp", "udp")
PROXY_PROTOCOLS = ("none", "v1", "v2")
ENGINES = ("auto", "native", "asyncio")
DOCKER_HEALTH = ("healthy", "unhealthy", "starting")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, None: 1.0}
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
MAX_DURATION = 7 * 24 * 3600.0  # a week: the native relay counts milliseconds in a C int
MAX_CONNECTIONS = 1_000_000
MAX_COUNT = 1000  # health check rise/fall


@dataclass(frozen=True, order=True)
class Address:
    """A host and port; ``host`` is an IP literal or a name, without brackets."""

    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass(frozen=True)
class BackendSpec:
    """A backend as configured; ``health`` is the container's Docker health status when known."""

    address: Address
    health: str | None = None


@dataclass(frozen=True)
class HealthCheck:
    """Active TCP checks: every ``interval`` seconds, ``rise`` successes to return, ``fall`` to leave."""

    interval: float = 2.0
    timeout: float = 1.0
    rise: int = 2
    fall: int = 1


@dataclass(frozen=True)
class Listener:
    name: str
    bind: Address
    backends: tuple[BackendSpec, ...] = ()
    protocol: str = "tcp"
    health: HealthCheck | None = field(default_factory=HealthCheck)
    proxy_protocol: str = "none"
    max_connections: int = 10_000
    connect_timeout: float = 2.0
    idle_timeout: float = 300.0
    drain_timeout: float = 30.0
    engine: str = "auto"

    def with_backends(self, backends: Sequence[BackendSpec]) -> Listener:
        return replace(self, backends=tuple(backends))


@dataclass(frozen=True)
class Config:
    listeners: tuple[Listener, ...] = ()
    metrics: Address | None = None
    admin: str | None = None

    def listener(self, name: str) -> Listener | None:
        return next((lst for lst in self.listeners if lst.name == name), None)


class _Problems:
    """Collects problems for one file, so that every one is reported at once."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.items: list[Problem] = []
        self.native_built: bool | None = None

    def add(self, path: str, message: str) -> None:
        self.items.append(Problem(self.file, path, message))


def parse_duration(value: Any) -> float:
    """``2``, ``2.5``, ``"500ms"``, ``"2s"``, ``"1m"`` -> seconds, finite and at most :data:`MAX_DURATION`.
    Raises ValueError otherwise."""
    if isinstance(value, bool):
        raise ValueError("expected a duration")  # noqa: TRY004 - callers turn ValueErrors into Problems
    if isinstance(value, (int, float)):
        seconds = float(value)
    else:
        match = _DURATION.match(str(value))
        if not match:
            raise ValueError(f"expected a duration like 500ms, 2s or 1m, got {_short(value)}")
        seconds = float(match.group(1)) * _UNITS[match.group(2)]
    if math.isnan(seconds):
        raise ValueError("expected a duration, got NaN")
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds > MAX_DURATION:
        raise ValueError(f"a duration must be at most {MAX_DURATION / 3600:g}h, got {_short(value)}")
    return seconds


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def parse_address(value: Any, *, default_host: str | None = None) -> Address:
    """``host:port``, ``[v6]:port`` or (with ``default_host``) a bare port. Raises ValueError."""
    text = str(value).strip()
    if isinstance(value, int) or text.isdigit():
        if default_host is None:
            raise ValueError(f"expected host:port, got {_short(text)}")
        host, port_text = default_host, text
    elif text.startswith("["):
        host, sep, port_text = text[1:].partition("]:")
        if not sep:
            raise ValueError(f"expected [address]:port, got {_short(text)}")
    else:
        host, sep, port_text = text.rpartition(":")
        if not sep or not host or ":" in host:
            raise ValueError(f"expected host:port, got {_short(text)}")
    if not (port_text.isascii() and port_text.isdigit() and len(port_text) <= 5) or not 0 < int(port_text) < 65536:
        raise ValueError(f"port must be 1-65535, got {_short(port_text)}")
    return Address(host, int(port_text))


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def os_reason(exc: OSError) -> str:
    """``Address already in use``: the system's words for an OSError, also for uvloop's errors."""
    import os

    if exc.errno and exc.errno > 0:
        return os.strerror(exc.errno)
    # getaddrinfo errors (socket.gaierror) carry negative EAI_* codes that os.strerror does not know
    return exc.strerror or str(exc) or type(exc).__name__


def parse(doc: Any, *, file: str = "lb.yaml", native_built: bool | None = None) -> Config:
    """Validate a loaded ``lb.yaml`` document and build the :class:`Config`; all problems at once.

    ``native_built`` says whether ``engine: native`` can run; the caller looks it up (this module does
    no I/O). None: not checked here (the balancer still refuses a native listener it cannot run).
    """
    problems = _Problems(file)
    problems.native_built = native_built
    if not isinstance(doc, dict):
        raise SpecError(Problem(file, "", "expected a mapping with a `listeners` key"))
    unknown = sorted(set(doc) - {"listeners", "metrics", "admin"})
    for key in unknown:
        problems.add(key, "unknown key")
    listeners = _listeners(doc.get("listeners"), problems)
    metrics = _metrics(doc.get("metrics"), problems)
    admin = doc.get("admin")
    if admin is not None and (not isinstance(admin, str) or not admin):
        problems.add("admin", "expected a unix socket path")
    if problems.items:
        raise SpecError(sorted(problems.items))
    return Config(listeners=tuple(listeners), metrics=metrics, admin=admin)


def _metrics(value: Any, problems: _Problems) -> Address | None:
    if value is None:
        return None
    try:
        address = parse_address(value, default_host="127.0.0.1")
    except ValueError as exc:
        problems.add("metrics", str(exc))
        return None
    if not is_loopback(address.host):
        problems.add("metrics", f"the metrics endpoint must bind to loopback, not {address.host}")
    return address


def _listeners(value: Any, problems: _Problems) -> list[Listener]:
    if value is None:
        problems.add("listeners", "required")
        return []
    if not isinstance(value, dict):
        problems.add("listeners", "expected a mapping of listener names")
        return []
    result = []
    binds: dict[tuple[str, Address], str] = {}
    for name, body in value.items():
        path = f"listeners.{name}"
        if not isinstance(name, str) or not _NAME.match(name):
            problems.add(path, "a listener name must be letters, digits, '_', '.' or '-'")
            continue
        listener = _listener(name, body, path, problems)
        if listener is None:
            continue
        key = (listener.protocol, listener.bind)
        if key in binds:
            problems.add(f"{path}.bind", f"{listener.bind}/{listener.protocol} is already bound by {binds[key]}")
        binds[key] = name
        result.append(listener)
    return result


_LISTENER_KEYS = {"bind", "protocol", "backends", "health", "proxy_protocol", "max_connections",
                  "connect_timeout", "idle_timeout", "drain_timeout", "engine"}


def _listener(name: str, body: Any, path: str, problems: _Problems) -> Listener | None:
    if not isinstance(body, dict):
        problems.add(path, "expected a mapping")
        return None
    before = len(problems.items)
    for key in sorted(set(body) - _LISTENER_KEYS):
        problems.add(f"{path}.{key}", "unknown key")
    bind = _bind(body.get("bind"), f"{path}.bind", problems)
    protocol = _choice(body.get("protocol", "tcp"), PROTOCOLS, f"{path}.protocol", problems)
    proxy = _choice(str(body.get("proxy_protocol", "none")).lower(), PROXY_PROTOCOLS,
                    f"{path}.proxy_protocol", problems)
    if protocol == "udp" and proxy != "none":
        problems.add(f"{path}.proxy_protocol", "PROXY protocol headers are for tcp listeners only")
    options = {key: _duration(body, key, path, problems, default)
               for key, default in (("connect_timeout", 2.0), ("idle_timeout", 300.0), ("drain_timeout", 30.0))}
    max_conn = _positive_int(body.get("max_connections", 10_000), f"{path}.max_connections", problems,
                             most=MAX_CONNECTIONS)
    health = _health(body.get("health", {}), f"{path}.health", problems)
    engine = _engine(body.get("engine", "auto"), protocol, f"{path}.engine", problems)
    backends = _backends(body.get("backends", []), f"{path}.backends", problems)
    if len(problems.items) != before or bind is None:
        return None
    return Listener(name=name, bind=bind, backends=tuple(backends), protocol=protocol, health=health,
                    proxy_protocol=proxy, max_connections=max_conn, engine=engine, **options)


def _bind(value: Any, path: str, problems: _Problems) -> Address | None:
    if value is None:
        problems.add(path, "required")
        return None
    try:
        return parse_address(value, default_host="0.0.0.0")
    except ValueError as exc:
        problems.add(path, str(exc))
        return None


def _choice(value: Any, allowed: tuple[str, ...], path: str, problems: _Problems) -> str:
    if value not in allowed:
        problems.add(path, f"expected one of {', '.join(allowed)}, got {value!r}")
        return allowed[0]
    return str(value)


def _duration(body: dict[str, Any], key: str, path: str, problems: _Problems, default: float) -> float:
    try:
        seconds = parse_duration(body.get(key, default))
    except ValueError as exc:
        problems.add(f"{path}.{key}", str(exc))
        return default
    if seconds <= 0:
        problems.add(f"{path}.{key}", "must be greater than zero")
    return seconds


def _engine(value: Any, protocol: str, path: str, problems: _Problems) -> str:
    engine = _choice(value, ENGINES, path, problems)
    if engine != "native":
        return engine
    if protocol == "udp":
        problems.add(path, "the native engine is for tcp listeners only")
        return "auto"
    if problems.native_built is False:
        problems.add(path, "the native engine is not built here (stackctl.lb._relay; reinstall with a "
                           "C compiler and the Python headers) - use engine: asyncio or auto")
    return engine


def _positive_int(value: Any, path: str, problems: _Problems, *, most: int = MAX_COUNT) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        problems.add(path, f"expected an integer from 1 to {most}, got {_short(value)}")
        return 1
    return value


def _health(value: Any, path: str, problems: _Problems) -> HealthCheck | None:
    if value is False or value == "none":
        return None
    if value is True or value is None:
        value = {}
    if not isinstance(value, dict):
        problems.add(path, "expected a mapping (interval, timeout, rise, fall) or false")
        return None
    for key in sorted(set(value) - {"interval", "timeout", "rise", "fall"}):
        problems.add(f"{path}.{key}", "unknown key")
    durations = {key: _duration(value, key, path, problems, default)
                 for key, default in (("interval", 2.0), ("timeout", 1.0))}
    rise = _positive_int(value.get("rise", 2), f"{path}.rise", problems)
    fall = _positive_int(value.get("fall", 1), f"{path}.fall", problems)
    return HealthCheck(rise=rise, fall=fall, **durations)


def _backends(value: Any, path: str, problems: _Problems) -> list[BackendSpec]:
    if not isinstance(value, list):
        problems.add(path, "expected a list of host:port")
        return []
    result: list[BackendSpec] = []
    seen: set[Address] = set()
    for index, item in enumerate(value):
        spec = _backend(item, f"{path}[{index}]", problems)
        if spec is None:
            continue
        if spec.address in seen:
            problems.add(f"{path}[{index}]", f"{spec.address} is listed twice")
            continue
        seen.add(spec.address)
        result.append(spec)
    return result


def _backend(item: Any, path: str, problems: _Problems) -> BackendSpec | None:
    health = None
    if isinstance(item, dict):
        for key in sorted(set(item) - {"address", "health"}):
            problems.add(f"{path}.{key}", "unknown key")
        health = item.get("health")
        if health is not None and health not in DOCKER_HEALTH:
            problems.add(f"{path}.health", f"expected one of {', '.join(DOCKER_HEALTH)}, got {health!r}")
            return None
        item = item.get("address")
    try:
        return BackendSpec(parse_address(item), health)
    except ValueError as exc:
        problems.add(path, str(exc))
        return None


def dump(config: Config) -> dict[str, Any]:
    """The document :func:`parse` reads back into an equal :class:`Config` (JSON-serialisable)."""
    doc: dict[str, Any] = {"listeners": {lst.name: _dump_listener(lst) for lst in config.listeners}}
    if config.metrics is not None:
        doc["metrics"] = str(config.metrics)
    if config.admin is not None:
        doc["admin"] = config.admin
    return doc


def _dump_listener(listener: Listener) -> dict[str, Any]:
    health: dict[str, Any] | bool = False
    if listener.health is not None:
        h = listener.health
        health = {"interval": h.interval, "timeout": h.timeout, "rise": h.rise, "fall": h.fall}
    return {
        "bind": str(listener.bind),
        "protocol": listener.protocol,
        "backends": [str(b.address) if b.health is None else {"address": str(b.address), "health": b.health}
                     for b in listener.backends],
        "health": health,
        "proxy_protocol": listener.proxy_protocol,
        "max_connections": listener.max_connections,
        "connect_timeout": listener.connect_timeout,
        "idle_timeout": listener.idle_timeout,
        "drain_timeout": listener.drain_timeout,
        "engine": listener.engine,
    }
