"""Durations and byte sizes as compose-go reads and prints them (Go ``time.Duration``, docker ``go-units``)."""

from __future__ import annotations

import math
import re

_DURATION_UNITS = {
    "ns": 1, "us": 1_000, "µs": 1_000, "μs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
    "m": 60_000_000_000, "h": 3_600_000_000_000, "d": 86_400_000_000_000, "w": 604_800_000_000_000,
}
_DURATION_PART = re.compile(r"(\d*\.?\d*)(ns|us|µs|μs|ms|s|m|h|d|w)")
_BYTES = re.compile(r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$")
_BYTE_UNITS = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


_INT64 = float(1 << 63)


class UnitError(ValueError):
    """A duration or byte size that cannot be read."""


def parse_duration(text: str) -> int:
    """Nanoseconds in ``"1h5m30s20ms"`` (units ns, us, ms, s, m, h, d, w; a bare ``0`` is allowed)."""
    raw = text
    sign = 1
    if text[:1] in "+-":
        sign, text = (-1 if text[0] == "-" else 1), text[1:]
    if text == "0":
        return 0
    if not text:
        raise UnitError(f'time: invalid duration "{raw}"')
    total = 0.0
    pos = 0
    while pos < len(text):
        match = _DURATION_PART.match(text, pos)
        if not match or match.group(1) in ("", "."):
            raise UnitError(f'time: invalid duration "{raw}"')
        total += float(match.group(1)) * _DURATION_UNITS[match.group(2)]
        pos = match.end()
    if not total < _INT64:  # also NaN; Go: "time: invalid duration" on overflow
        raise UnitError(f'time: invalid duration "{_short(raw)}"')
    return sign * round(total)


def format_duration(ns: int) -> str:
    """Go's ``time.Duration.String()``: ``90s`` -> ``1m30s``, ``1h`` -> ``1h0m0s``, ``0`` -> ``0s``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return sign + _fraction(ns, size) + unit
    hours, rest = divmod(ns, 3_600_000_000_000)
    minutes, rest = divmod(rest, 60_000_000_000)
    seconds = _fraction(rest, 1_000_000_000) + "s"
    if hours:
        return f"{sign}{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{sign}{minutes}m{seconds}"
    return sign + seconds


def _fraction(value: int, size: int) -> str:
    whole, frac = divmod(value, size)
    if not frac:
        return str(whole)
    digits = len(str(size)) - 1
    return f"{whole}.{str(frac).rjust(digits, '0').rstrip('0')}"


def parse_bytes(text: str) -> int:
    """docker ``units.RAMInBytes``: ``"1g"`` -> 1073741824, ``"512m"``, ``"100kb"``, ``"42"``."""
    match = _BYTES.match(text)
    if not match:
        raise UnitError(f"invalid size: '{text}'")
    size = float(match.group(1)) if match.group(1).count(".") <= 1 else None
    if size is None:
        raise UnitError(f"invalid size: '{text}'")
    unit = _BYTE_UNITS.get((match.group(2) or "").lower(), 1)
    if math.isinf(size):  # Go's ParseFloat: value out of range
        raise UnitError(f"invalid size: '{_short(text)}'")
    total = size * unit
    return int(total) if -_INT64 <= total < _INT64 else int(-_INT64)  # int64(f) on amd64


def _short(text: str) -> str:
    return text if len(text) <= 40 else text[:37] + "..."
