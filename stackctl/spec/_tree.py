"""Key-path patterns over plain compose dicts, as compose-go's ``tree.Path`` matches them.

A path is a tuple of keys; items of a sequence are the component ``"[]"``. In a pattern ``"*"`` matches any
single component (a key or ``"[]"``). Patterns are written dotted: ``"services.*.ports"``.
"""

from __future__ import annotations

from collections.abc import Iterable

Path = tuple[str, ...]
ITEM = "[]"


def pattern(text: str) -> Path:
    """``"services.*.ports"`` -> ``("services", "*", "ports")``."""
    return tuple(text.split("."))


def matches(path: Path, pat: Path) -> bool:
    """True if ``path`` matches ``pat`` component by component."""
    if len(path) != len(pat):
        return False
    return all(p == "*" or p == c for c, p in zip(path, pat))


def first_match(path: Path, patterns: Iterable[Path]) -> Path | None:
    """The first pattern of ``patterns`` that ``path`` matches, or None."""
    for pat in patterns:
        if matches(path, pat):
            return pat
    return None


def dotted(path: Iterable[str | int]) -> str:
    """``("services", "web", "ports", 0)`` -> ``services.web.ports[0]`` (how problems name a key path)."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif part == ITEM:
            out += "[]"
        else:
            out += f".{part}" if out else str(part)
    return out
