"""Go-style durations (``1m30s``, ``500ms``) and byte sizes as the normalized document carries them."""

from __future__ import annotations

import re

_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000,
          "m": 60_000_000_000, "h": 3_600_000_000_000}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)")
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtp]?)i?b?$", re.IGNORECASE)


def duration_ns(value: object) -> int:
    """Nanoseconds of a Go duration string (or a number of seconds)."""
    if isinstance(value, (int, float)):
        return int(value * 1_000_000_000)
    text = str(value).strip()
    if not text or text == "0":
        return 0
    pos, total = 0, 0.0
    for match in _PART.finditer(text):
        if match.start() != pos:
            raise ValueError(f"invalid duration {text!r}")
        total += float(match.group(1)) * _UNITS[match.group(2)]
        pos = match.end()
    if pos != len(text):
        raise ValueError(f"invalid duration {text!r}")
    return int(total)


def duration_s(value: object) -> int:
    return duration_ns(value) // 1_000_000_000


def size_bytes(value: object) -> int:
    """Bytes of ``"67108864"``, ``64m``, ``1.5g`` or an int."""
    if isinstance(value, (int, float)):
        return int(value)
    match = _SIZE.match(str(value).strip())
    if not match:
        raise ValueError(f"invalid size {value!r}")
    power = " kmgtp".index(match.group(2).lower() or " ")
    return int(float(match.group(1)) * 1024 ** power)
