"""Prometheus text exposition of the balancer's counters, served over HTTP on loopback only.

:func:`render` is pure (stats in, text out); :func:`serve` is the tiny HTTP endpoint.
"""

from __future__ import annotations

import asyncio
from typing import Any

from stackctl.errors import LoadBalancerError
from stackctl.lb.config import Address, is_loopback, os_reason

_LISTENER = (
    ("connections_total", "counter", "connections", "Connections (TCP) or flows (UDP) accepted."),
    ("active", "gauge", "active", "Connections or flows open now."),
    ("rejected_total", "counter", "rejected", "Connections refused because max_connections was reached."),
    ("no_backend_total", "counter", "no_backend", "Connections closed because no backend could be reached."),
    ("received_bytes_total", "counter", "bytes_in", "Bytes received from clients."),
    ("sent_bytes_total", "counter", "bytes_out", "Bytes sent to clients."),
)
_BACKEND = (
    ("connections_total", "counter", "connections", "Connections opened to the backend."),
    ("active", "gauge", "active", "Connections open to the backend now."),
    ("received_bytes_total", "counter", "bytes_in", "Bytes sent to the backend."),
    ("sent_bytes_total", "counter", "bytes_out", "Bytes received from the backend."),
    ("connect_failures_total", "counter", "connect_failures", "Refused or timed-out connects."),
    ("check_failures_total", "counter", "check_failures", "Failed active health checks."),
)
STATES = ("up", "down", "draining", "starting", "unhealthy")


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def render(listeners: list[dict[str, Any]]) -> str:
    """The exposition text for the stats of every listener (as ``TcpListener.stats()`` returns)."""
    lines: list[str] = []
    for suffix, kind, key, help_text in _LISTENER:
        name = f"stackctl_lb_listener_{suffix}"
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        lines += [f'{name}{{listener="{_label(s["name"])}",protocol="{s["protocol"]}"}} {s[key]}' for s in listeners]
    for suffix, kind, key, help_text in _BACKEND:
        name = f"stackctl_lb_backend_{suffix}"
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        lines += [f"{name}{{{_backend_labels(s, b)}}} {b[key]}" for s in listeners for b in s["backends"]]
    name = "stackctl_lb_backend_state"
    lines += [f"# HELP {name} 1 for the backend's current health state.", f"# TYPE {name} gauge"]
    lines += [f'{name}{{{_backend_labels(s, b)},state="{state}"}} {int(b["state"] == state)}'
              for s in listeners for b in s["backends"] for state in STATES]
    return "\n".join(lines) + "\n"


def _backend_labels(listener: dict[str, Any], backend: dict[str, Any]) -> str:
    return f'listener="{_label(listener["name"])}",backend="{_label(backend["address"])}"'


async def serve(address: Address, stats: Any) -> asyncio.AbstractServer:
    """Serve ``GET /metrics`` on ``address`` (loopback only); ``stats()`` returns the listeners' stats."""
    if not is_loopback(address.host):
        raise LoadBalancerError(f"metrics endpoint must bind to loopback, not {address.host}")

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
            path = request.split(b" ", 2)[1] if request.count(b" ") >= 2 else b""
            if path.split(b"?")[0] == b"/metrics":
                status, body = "200 OK", render(stats()).encode()
            else:
                status, body = "404 Not Found", b"see /metrics\n"
            writer.write(f"HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4\r\n"
                         f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode() + body)
            await writer.drain()
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, TimeoutError):
            pass
        finally:
            writer.close()

    try:
        return await asyncio.start_server(handle, address.host, address.port)
    except OSError as exc:
        raise LoadBalancerError(f"metrics: cannot bind {address}: {os_reason(exc)}") from exc
