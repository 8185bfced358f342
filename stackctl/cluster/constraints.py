"""Placement constraints and spread preferences of a service (``deploy.placement``), parsed and matched
against a node record as docker swarm does.

A constraint is ``<key>==<value>`` or ``<key>!=<value>`` with the key one of ``node.id``,
``node.hostname`` (both the node's name in the cluster), ``node.role`` (``manager``/``worker``),
``node.labels.<name>`` (labels of the cluster state, set with ``node update --label-add``) and
``node.platform.os`` (always ``linux``: every node runs a Linux dockerd). Values compare without regard
to case, as swarm's do; a node that lacks the label fails ``==`` and passes ``!=``. A spread preference
is ``node.labels.<name>``. A malformed one is a one-line :class:`~stackctl.errors.SchedulingError`
naming its key path (``services.web.deploy.placement.constraints[0]: ...``). Pure code.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from stackctl.errors import SchedulingError

KEYS = ("node.id", "node.hostname", "node.role", "node.labels.<name>", "node.platform.os")
_LABEL = "node.labels."
_CONSTRAINT = re.compile(r"^\s*([^=!\s]+)\s*(==|!=)\s*(\S+)\s*$")
_NAME = re.compile(r"^[A-Za-z0-9_.\-/]+$")


class NodeLike(Protocol):
    """What matching reads of a node record."""

    @property
    def name(self) -> str: ...
    @property
    def role(self) -> str: ...
    @property
    def labels(self) -> Mapping[str, str]: ...


@dataclass(frozen=True, slots=True)
class Constraint:
    """One ``key==value`` / ``key!=value`` constraint; ``text`` is how messages quote it."""

    key: str
    equal: bool
    value: str

    @property
    def text(self) -> str:
        return f"{self.key}{'==' if self.equal else '!='}{self.value}"

    def matches(self, node: NodeLike) -> bool:
        actual = node_value(node, self.key)
        same = actual is not None and actual.casefold() == self.value.casefold()
        return same if self.equal else not same


def node_value(node: NodeLike, key: str) -> str | None:
    """The node's value for a constraint key; ``None`` when it has none (a missing label)."""
    if key.startswith(_LABEL):
        return node.labels.get(key[len(_LABEL):])
    if key in ("node.id", "node.hostname"):
        return node.name
    if key == "node.role":
        return node.role
    if key == "node.platform.os":
        return "linux"
    raise SchedulingError(f"unknown constraint key {key!r}")  # pragma: no cover - parse refuses it


def parse_constraint(text: Any, *, path: str) -> Constraint:
    """``"node.labels.disk == ssd"`` -> Constraint; a malformed one is an error naming ``path``."""
    match = _CONSTRAINT.match(text) if isinstance(text, str) else None
    if match is None:
        raise SchedulingError(f"{path}: {text!r} is not <key>==<value> or <key>!=<value>")
    key, op, value = match.groups()
    if not _known_key(key):
        raise SchedulingError(f"{path}: unknown key {key!r} in {text!r} (known: {', '.join(KEYS)})")
    return Constraint(key=key, equal=op == "==", value=value)


def parse_constraints(texts: Any, *, path: str) -> tuple[Constraint, ...]:
    """Every constraint of ``deploy.placement.constraints`` (``path`` is that list's key path)."""
    return tuple(parse_constraint(text, path=f"{path}[{i}]") for i, text in enumerate(texts or ()))


def parse_spread(value: Any, *, path: str) -> str:
    """``spread: node.labels.zone`` -> ``"zone"`` (the label name)."""
    if not isinstance(value, str) or not value.strip().startswith(_LABEL) \
            or not _NAME.match(value.strip()[len(_LABEL):]):
        raise SchedulingError(f"{path}: spread must be node.labels.<name>, not {value!r}")
    return value.strip()[len(_LABEL):]


def parse_spreads(values: Any, *, path: str) -> tuple[str, ...]:
    return tuple(parse_spread(v, path=f"{path}[{i}].spread") for i, v in enumerate(values or ()))


def _known_key(key: str) -> bool:
    if key.startswith(_LABEL):
        return bool(_NAME.match(key[len(_LABEL):]))
    return key in KEYS
