"""The short port syntax ``[HOST_IP:][PUBLISHED[-END]:]TARGET[-END][/PROTO]`` (docker/go-connections ``nat``).

``PortMapping.parse("127.0.0.1:8080-8081:80-81/udp")`` gives one mapping per container port, in the order
compose-go emits them (container ports sorted as strings ``"80/udp" < "81/udp"``); ``to_dict()`` is the long
form compose-go writes into the model and ``str()`` gives a short form back.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

PROTOCOLS = ("tcp", "udp", "sctp")


class PortSyntaxError(ValueError):
    """A short port string that cannot be parsed."""


@dataclass(frozen=True)
class PortMapping:
    target: int
    published: str = ""
    host_ip: str = ""
    protocol: str = "tcp"
    mode: str = "ingress"

    @classmethod
    def parse(cls, text: str) -> list[PortMapping]:
        """Every mapping a short port string stands for."""
        ip, host, container = _split_parts(text)
        proto, container = _split_proto(container)
        ip = _parse_ip(ip)
        if not container:
            raise PortSyntaxError(f"no port specified: {text}<empty>")
        start, end = _port_range(container, "containerPort")
        hstart = hend = 0
        if host:
            hstart, hend = _port_range(host, "hostPort")
            if end - start != hend - hstart and end != start:
                raise PortSyntaxError(
                    f"invalid ranges specified for container and host Ports: {container} and {host}")
        if proto.lower() not in PROTOCOLS:
            raise PortSyntaxError(f"invalid proto: {proto}")
        out: list[PortMapping] = []
        for i in range(end - start + 1):
            published = str(hstart + i) if host else ""
            if start == end and hstart != hend:
                published = f"{published}-{hend}"
            out.append(cls(target=start + i, published=published, host_ip=ip, protocol=proto.lower()))
        out.sort(key=lambda m: f"{m.target}/{m.protocol}")
        return out

    def to_dict(self) -> dict[str, object]:
        """The long form, without empty fields (as compose-go's mapstructure encoding leaves it)."""
        out: dict[str, object] = {"mode": self.mode}
        if self.host_ip:
            out["host_ip"] = self.host_ip
        out["target"] = self.target
        if self.published:
            out["published"] = self.published
        out["protocol"] = self.protocol
        return out

    def __str__(self) -> str:
        ip = f"[{self.host_ip}]" if ":" in self.host_ip else self.host_ip
        parts = [p for p in (ip, self.published) if p]
        if ip and not self.published:
            parts.append("")
        return ":".join([*parts, f"{self.target}/{self.protocol}"])


def _split_parts(raw: str) -> tuple[str, str, str]:
    parts = raw.split(":")
    n = len(parts)
    if n == 1:
        return "", "", parts[0]
    if n == 2:
        return "", parts[0], parts[1]
    if n == 3:
        return parts[0], parts[1], parts[2]
    return ":".join(parts[: n - 2]), parts[n - 2], parts[n - 1]


def _split_proto(raw: str) -> tuple[str, str]:
    parts = raw.split("/")
    if not raw or not parts[0]:
        return "", ""
    if len(parts) == 1:
        return "tcp", raw
    if not parts[1]:
        return "tcp", parts[0]
    return parts[1], parts[0]


def _parse_ip(ip: str) -> str:
    if ip.startswith("["):
        if not ip.endswith("]"):
            raise PortSyntaxError(f"invalid IP address {ip}")
        ip = ip[1:-1]
    if not ip:
        return ""
    try:
        if "%" in ip:
            raise ValueError(ip)
        ipaddress.ip_address(ip)
    except ValueError:
        raise PortSyntaxError(f"invalid IP address: {ip}") from None
    return ip


def _parse_port(text: str) -> int:
    if not text.isdigit() or not text.isascii() or int(text) > 65535:
        raise ValueError(text)
    return int(text)


def _port_range(text: str, what: str) -> tuple[int, int]:
    try:
        if "-" not in text:
            port = _parse_port(text)
            return port, port
        parts = text.split("-")
        start, end = _parse_port(parts[0]), _parse_port(parts[1])
    except (ValueError, IndexError):
        raise PortSyntaxError(f"invalid {what}: {text}") from None
    if end < start:
        raise PortSyntaxError(f"invalid {what}: {text}")
    return start, end
