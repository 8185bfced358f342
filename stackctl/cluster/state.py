"""The records of the cluster state, as stored in etcd (JSON values; see /work/notes/cluster.md).

Pure: frozen dataclasses, each with ``to_json() -> bytes`` / ``from_json(bytes | str)`` and the plain
``to_dict()`` / ``from_dict()`` the CLI's ``--format json`` shows. ``from_json`` / ``from_dict`` validate
what comes back from etcd (types, enumerations, names fit for a key) and raise :class:`StateError` with one
line naming the record and the field; unknown fields are ignored (a newer agent may add some). Timestamps
are floats (seconds since the epoch) that the caller passes in.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal, cast

from stackctl.errors import StateError

ServiceMode = Literal["replicated", "global"]
Desired = Literal["running", "shutdown"]
TaskState = Literal["pending", "assigned", "starting", "running", "complete", "failed", "shutdown", "orphaned"]
Role = Literal["manager", "worker"]
Availability = Literal["active", "pause", "drain"]
NodeState = Literal["ready", "down", "unknown"]
AgentRole = Literal["leader", "standby"]
UpdateState = Literal["updating", "paused", "completed", "rollback_started", "rollback_paused", "rollback_completed"]

SERVICE_MODES: Final = ("replicated", "global")
DESIRED_STATES: Final = ("running", "shutdown")
TASK_STATES: Final = ("pending", "assigned", "starting", "running", "complete", "failed", "shutdown", "orphaned")
ROLES: Final = ("manager", "worker")
AVAILABILITIES: Final = ("active", "pause", "drain")
NODE_STATES: Final = ("ready", "down", "unknown")
AGENT_ROLES: Final = ("leader", "standby")
UPDATE_STATES: Final = ("updating", "paused", "completed", "rollback_started", "rollback_paused", "rollback_completed")

TASK_ID = re.compile(r"^[0-9a-f]{12}$")
# a name that becomes one segment of an etcd key: no slash, no control character, not "." or ".."
_KEY_SEGMENT = re.compile(r"^(?!\.{1,2}$)[^/\x00-\x1f\x7f]{1,253}$")
_MAX_INT = 2**63 - 1

def valid_name(name: str) -> bool:
    """True when ``name`` can be one segment of an etcd key (stack, service, node names)."""
    return bool(_KEY_SEGMENT.match(name))


class _Reader:
    """Typed access to one decoded JSON object; every failure is a StateError naming the record and field."""

    def __init__(self, data: object, what: str) -> None:
        if not isinstance(data, Mapping):
            raise StateError(f"{what}: expected a JSON object, got {type(data).__name__}")
        self.data = cast(Mapping[str, object], data)
        self.what = what

    def _get(self, key: str) -> object:
        if key not in self.data:
            raise StateError(f"{self.what}: missing field {key!r}")
        return self.data[key]

    def _bad(self, key: str, expected: str) -> StateError:
        return StateError(f"{self.what}: field {key!r} must be {expected}, got {self.data.get(key)!r:.60}")

    def string(self, key: str) -> str:
        value = self._get(key)
        if not isinstance(value, str):
            raise self._bad(key, "a string")
        return value

    def name(self, key: str) -> str:
        value = self.string(key)
        if not valid_name(value):
            raise self._bad(key, "a name without '/' or control characters")
        return value

    def opt_string(self, key: str) -> str | None:
        if self.data.get(key) is None:
            return None
        return self.string(key)

    def text(self, key: str) -> str:
        """A string that may be absent (empty)."""
        return "" if self.data.get(key) is None else self.string(key)

    def integer(self, key: str, *, minimum: int = 0) -> int:
        value = self._get(key)
        if not isinstance(value, int) or isinstance(value, bool) or not minimum <= value <= _MAX_INT:
            raise self._bad(key, f"an integer >= {minimum}")
        return value

    def number(self, key: str) -> float:
        value = self._get(key)
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) or value < 0:
            raise self._bad(key, "a non-negative number")
        return float(value)

    def optional_number(self, key: str) -> float:
        return 0.0 if self.data.get(key) is None else self.number(key)

    def optional_integer(self, key: str) -> int:
        return 0 if self.data.get(key) is None else self.integer(key)

    def choice(self, key: str, allowed: tuple[str, ...]) -> str:
        value = self._get(key)
        if not isinstance(value, str) or value not in allowed:
            raise self._bad(key, "one of " + ", ".join(allowed))
        return value

    def str_map(self, key: str) -> dict[str, str]:
        value = self.data.get(key, {})
        if not isinstance(value, Mapping) or not all(
                isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
            raise self._bad(key, "an object of strings")
        return dict(value)

    def opt_obj(self, key: str) -> dict[str, Any] | None:
        return None if self.data.get(key) is None else self.obj(key)

    def obj(self, key: str) -> dict[str, Any]:
        value = self._get(key)
        if not isinstance(value, Mapping) or not all(isinstance(k, str) for k in value):
            raise self._bad(key, "an object")
        return dict(value)


def _decode(data: bytes | str, what: str) -> object:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise StateError(f"{what}: not JSON ({exc})") from exc


def _encode(record: object) -> bytes:
    return json.dumps(asdict(record), sort_keys=True, separators=(",", ":")).encode()  # type: ignore[call-overload]


@dataclass(frozen=True)
class StackRecord:
    """A stack as the user deployed it: the canonical compose document with images resolved."""

    name: str
    document: dict[str, Any]
    version: int
    images: dict[str, str] = field(default_factory=dict)  # image ref -> image id
    created: float = 0.0
    updated: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> bytes:
        return _encode(self)

    @classmethod
    def from_dict(cls, data: object) -> StackRecord:
        r = _Reader(data, "stack record")
        return cls(name=r.name("name"), document=r.obj("document"), version=r.integer("version"),
                   images=r.str_map("images"), created=r.number("created"), updated=r.number("updated"))

    @classmethod
    def from_json(cls, data: bytes | str) -> StackRecord:
        return cls.from_dict(_decode(data, "stack record"))


@dataclass(frozen=True)
class UpdateStatus:
    """Where the rolling update towards ``target`` (a spec hash) stands, and why it stopped."""

    state: UpdateState
    target: str
    started: float
    updated: float = 0.0
    message: str = ""
    config: dict[str, Any] = field(default_factory=dict)  # the update (or rollback) config it follows

    @property
    def rollback(self) -> bool:
        return self.state.startswith("rollback")

    @property
    def stopped(self) -> bool:
        return self.state in ("paused", "rollback_paused")

    @classmethod
    def from_dict(cls, data: object) -> UpdateStatus:
        r = _Reader(data, "update status")
        return cls(state=cast(UpdateState, r.choice("state", UPDATE_STATES)), target=r.string("target"),
                   started=r.number("started"), updated=r.number("updated"), message=r.text("message"),
                   config=r.opt_obj("config") or {})


@dataclass(frozen=True)
class ServiceRecord:
    """One service of a stack: its spec hash, mode and replica count; ``version`` grows on every change."""

    stack: str
    service: str
    version: int
    spec_hash: str
    mode: ServiceMode = "replicated"
    replicas: int = 1
    updated: float = 0.0
    # the spec before the last change, for rollback: {"spec_hash", "service" (its document entry), "images"}
    previous: dict[str, Any] | None = None
    update: UpdateStatus | None = None  # the rolling update (or rollback) of this spec, written by the leader

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> bytes:
        return _encode(self)

    @classmethod
    def from_dict(cls, data: object) -> ServiceRecord:
        r = _Reader(data, "service record")
        update = r.opt_obj("update")
        return cls(stack=r.name("stack"), service=r.name("service"), version=r.integer("version"),
                   spec_hash=r.string("spec_hash"), mode=cast(ServiceMode, r.choice("mode", SERVICE_MODES)),
                   replicas=r.integer("replicas"), updated=r.number("updated"), previous=r.opt_obj("previous"),
                   update=UpdateStatus.from_dict(update) if update is not None else None)

    @classmethod
    def from_json(cls, data: bytes | str) -> ServiceRecord:
        return cls.from_dict(_decode(data, "service record"))


@dataclass(frozen=True)
class TaskRecord:
    """One task: a slot (global mode: slot 0 and a node) of a service, where it runs and how it is doing."""

    id: str
    stack: str
    service: str
    slot: int
    node: str | None = None
    desired: Desired = "running"
    state: TaskState = "pending"
    container_id: str | None = None
    message: str = ""
    spec_hash: str = ""
    service_version: int = 0
    leader_rev: int = 0
    created: float = 0.0
    updated: float = 0.0
    started: float = 0.0  # when its container was first seen running
    health: str = ""  # its container's health: starting, healthy, unhealthy ("" without healthcheck)
    attempt: int = 0  # restarts of its slot before it under the restart policy (0: the first run)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> bytes:
        return _encode(self)

    @classmethod
    def from_dict(cls, data: object) -> TaskRecord:
        r = _Reader(data, "task record")
        task_id = r.string("id")
        if not TASK_ID.match(task_id):
            raise StateError(f"task record: field 'id' must be 12 lowercase hex characters, got {task_id!r:.60}")
        node = r.opt_string("node")
        if node is not None and not valid_name(node):
            raise StateError(f"task record: field 'node' must be a name without '/', got {node!r:.60}")
        return cls(id=task_id, stack=r.name("stack"), service=r.name("service"), slot=r.integer("slot"), node=node,
                   desired=cast(Desired, r.choice("desired", DESIRED_STATES)),
                   state=cast(TaskState, r.choice("state", TASK_STATES)),
                   container_id=r.opt_string("container_id"), message=r.text("message"),
                   spec_hash=r.text("spec_hash"), service_version=r.integer("service_version"),
                   leader_rev=r.integer("leader_rev"), created=r.number("created"), updated=r.number("updated"),
                   started=r.optional_number("started"), health=r.text("health"),
                   attempt=r.optional_integer("attempt"))

    @classmethod
    def from_json(cls, data: bytes | str) -> TaskRecord:
        return cls.from_dict(_decode(data, "task record"))


@dataclass(frozen=True)
class NodeRecord:
    """A node of the cluster: what the user set (availability, labels) and what the leader saw."""

    name: str
    address: str
    role: Role = "worker"
    availability: Availability = "active"
    labels: dict[str, str] = field(default_factory=dict)
    cpus: float = 0.0
    memory: int = 0
    state: NodeState = "unknown"
    message: str = ""
    last_seen: float = 0.0
    engine_version: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> bytes:
        return _encode(self)

    @classmethod
    def from_dict(cls, data: object) -> NodeRecord:
        r = _Reader(data, "node record")
        return cls(name=r.name("name"), address=r.string("address"), role=cast(Role, r.choice("role", ROLES)),
                   availability=cast(Availability, r.choice("availability", AVAILABILITIES)),
                   labels=r.str_map("labels"), cpus=r.number("cpus"), memory=r.integer("memory"),
                   state=cast(NodeState, r.choice("state", NODE_STATES)), message=r.text("message"),
                   last_seen=r.number("last_seen"), engine_version=r.text("engine_version"))

    @classmethod
    def from_json(cls, data: bytes | str) -> NodeRecord:
        return cls.from_dict(_decode(data, "node record"))


@dataclass(frozen=True)
class AgentRecord:
    """A running agent (the key is attached to its lease, so it vanishes with the agent)."""

    node: str
    version: str
    pid: int
    started: float
    role: AgentRole = "standby"
    leading_since: float = 0.0  # when this agent's current term as leader began (0: not leading)
    leader_rev: int = 0  # the create revision of its leader key while it leads

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def to_json(self) -> bytes:
        return _encode(self)

    @classmethod
    def from_dict(cls, data: object) -> AgentRecord:
        r = _Reader(data, "agent record")
        return cls(node=r.name("node"), version=r.string("version"), pid=r.integer("pid"), started=r.number("started"),
                   role=cast(AgentRole, r.choice("role", AGENT_ROLES)),
                   leading_since=r.number("leading_since") if "leading_since" in r.data else 0.0,
                   leader_rev=r.integer("leader_rev") if "leader_rev" in r.data else 0)

    @classmethod
    def from_json(cls, data: bytes | str) -> AgentRecord:
        return cls.from_dict(_decode(data, "agent record"))
