"""Key-path patterns over plain compose dicts, as compose-go's ``tree.Path`` matches them.

A path is a tuple of keys; items of a sequence are the component ``"[]"``. In a pattern ``"*"`` matches any
single component (a key or ``"[]"``). Patterns are written dotted: ``"services.*.ports"``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

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


class Patterns:
    """A set of patterns with fast lookups for tree walkers: which pattern a path matches, and whether
    any pattern could match below it (so a walker need not descend into the rest of the document).

    The patterns are kept as a trie (``"*"`` is a child like any other), so a lookup costs a few dict
    lookups per component whatever the number of patterns, and paths under many differently named
    services need no cache."""

    def __init__(self, patterns: Iterable[Path]) -> None:
        self.patterns = list(patterns)
        self._root = _Node()
        for index, pat in enumerate(self.patterns):
            node = self._root
            for part in pat:
                node.deeper = True
                node = node.children.setdefault(part, _Node())
            if node.first is None:
                node.first = index

    def _nodes(self, path: Path) -> list[_Node]:
        nodes = [self._root]
        for part in path:
            following: list[_Node] = []
            for node in nodes:
                child = node.children.get(part)
                if child is not None:
                    following.append(child)
                if part != "*":
                    star = node.children.get("*")
                    if star is not None:
                        following.append(star)
            if not following:
                return following
            nodes = following
        return nodes

    def match(self, path: Path) -> Path | None:
        """The first pattern (in the order given) that ``path`` matches, or None."""
        indices = [node.first for node in self._nodes(path) if node.first is not None]
        return self.patterns[min(indices)] if indices else None

    def below(self, path: Path) -> bool:
        """True if some pattern is longer than ``path`` and starts with components ``path`` matches."""
        return any(node.deeper for node in self._nodes(path))


class _Node:
    __slots__ = ("children", "deeper", "first")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.first: int | None = None  # index of the first pattern ending here
        self.deeper = False  # some pattern goes on below


def plain_copy(value: Any) -> Any:
    """A deep copy of plain YAML data (dicts, lists, scalars); other objects (markers) are shared.

    Several times faster than ``copy.deepcopy`` on compose documents."""
    if isinstance(value, dict):
        return {k: plain_copy(v) if isinstance(v, _CONTAINERS) else v for k, v in value.items()}
    if isinstance(value, list):
        return [plain_copy(v) if isinstance(v, _CONTAINERS) else v for v in value]
    return value


_CONTAINERS = (dict, list)  # scalars are not passed to plain_copy at all: half as many calls
