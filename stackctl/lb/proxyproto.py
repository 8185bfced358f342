"""PROXY protocol v1 (text) and v2 (binary) headers, as HAProxy specifies them. Pure.

The balancer writes one header at the start of each backend connection so that the application
sees the client's real address. :func:`parse` reads a header back (for tests, and for any Python
backend that wants it).
"""

from __future__ import annotations

import ipaddress
import struct
from dataclasses import dataclass

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
_V2_FIXED = struct.Struct("!12sBBH")
_V1_MAX = 107


@dataclass(frozen=True)
class ProxyInfo:
    """What a header carries: the client (source) and the address it connected to (destination).

    ``None`` addresses mean the sender did not know them (v1 ``UNKNOWN``, v2 ``LOCAL``).
    """

    source: tuple[str, int] | None
    destination: tuple[str, int] | None


def encode(version: str, source: tuple[str, int], destination: tuple[str, int]) -> bytes:
    """The header for one connection; ``version`` is ``v1`` or ``v2``."""
    if version == "v1":
        return encode_v1(source, destination)
    if version == "v2":
        return encode_v2(source, destination)
    raise ValueError(f"unknown PROXY protocol version {version!r}")


_IP = ipaddress.IPv4Address | ipaddress.IPv6Address


def _ips(source: tuple[str, int], destination: tuple[str, int]) -> tuple[_IP, _IP] | None:
    """Both addresses as ip objects of the same family (v4-mapped v6 made v4), or None."""
    try:
        src = ipaddress.ip_address(source[0])
        dst = ipaddress.ip_address(destination[0])
    except ValueError:
        return None
    src = _unmap(src)
    dst = _unmap(dst)
    if src.version != dst.version:
        return None
    return src, dst


def _unmap(ip: _IP) -> _IP:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def encode_v1(source: tuple[str, int], destination: tuple[str, int]) -> bytes:
    ips = _ips(source, destination)
    if ips is None:
        return b"PROXY UNKNOWN\r\n"
    src, dst = ips
    family = "TCP4" if src.version == 4 else "TCP6"
    return f"PROXY {family} {src} {dst} {source[1]} {destination[1]}\r\n".encode("ascii")


def encode_v2(source: tuple[str, int], destination: tuple[str, int]) -> bytes:
    ips = _ips(source, destination)
    if ips is None:  # LOCAL command, no address block
        return _V2_FIXED.pack(V2_SIGNATURE, 0x20, 0x00, 0)
    src, dst = ips
    packed = src.packed + dst.packed + struct.pack("!HH", source[1], destination[1])
    family = 0x11 if src.version == 4 else 0x21
    return _V2_FIXED.pack(V2_SIGNATURE, 0x21, family, len(packed)) + packed


def parse(data: bytes) -> tuple[ProxyInfo, bytes] | None:
    """The header at the start of ``data`` and the bytes after it; None if more bytes are needed.

    Raises ValueError when ``data`` does not start with a valid header.
    """
    if len(data) < _V2_FIXED.size and V2_SIGNATURE.startswith(data[:12]):
        return None
    if data.startswith(V2_SIGNATURE):
        return _parse_v2(data)
    if len(data) < 6 and b"PROXY ".startswith(data):
        return None
    if data.startswith(b"PROXY "):
        return _parse_v1(data)
    raise ValueError("no PROXY protocol header")


def _parse_v1(data: bytes) -> tuple[ProxyInfo, bytes] | None:
    end = data.find(b"\r\n")
    if end < 0:
        if len(data) > _V1_MAX:
            raise ValueError("PROXY v1 header too long")
        return None
    fields = data[:end].decode("ascii").split(" ")
    rest = data[end + 2:]
    if len(fields) > 1 and fields[1] == "UNKNOWN":
        return ProxyInfo(None, None), rest
    if len(fields) != 6 or fields[1] not in ("TCP4", "TCP6"):
        raise ValueError(f"bad PROXY v1 header {data[:end]!r}")
    _, _, src, dst, sport, dport = fields
    return ProxyInfo((src, int(sport)), (dst, int(dport))), rest


def _parse_v2(data: bytes) -> tuple[ProxyInfo, bytes] | None:
    _, ver_cmd, family, length = _V2_FIXED.unpack_from(data)
    if ver_cmd >> 4 != 2:
        raise ValueError("bad PROXY v2 version")
    total = _V2_FIXED.size + length
    if len(data) < total:
        return None
    body, rest = data[_V2_FIXED.size:total], data[total:]
    if ver_cmd & 0x0F == 0:  # LOCAL
        return ProxyInfo(None, None), rest
    src: _IP
    dst: _IP
    if family == 0x11:
        src, dst = ipaddress.IPv4Address(body[0:4]), ipaddress.IPv4Address(body[4:8])
        sport, dport = struct.unpack_from("!HH", body, 8)
    elif family == 0x21:
        src, dst = ipaddress.IPv6Address(body[0:16]), ipaddress.IPv6Address(body[16:32])
        sport, dport = struct.unpack_from("!HH", body, 32)
    else:
        return ProxyInfo(None, None), rest
    return ProxyInfo((str(src), sport), (str(dst), dport)), rest
