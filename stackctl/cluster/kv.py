"""The values exchanged with etcd's v3 JSON gateway, and their encoding (pure).

The gateway speaks protobuf-JSON: keys and values are base64, int64 fields are strings, fields at their
default value (0, false, empty, the first enum member) are left out. These types are what
:mod:`stackctl.cluster.etcd` returns and takes; :mod:`stackctl.cluster.election` builds fences from them.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from stackctl.errors import EtcdError

Target = Literal["VERSION", "CREATE", "MOD", "VALUE", "LEASE"]
Result = Literal["EQUAL", "GREATER", "LESS", "NOT_EQUAL"]
_FIELD = {"VERSION": "version", "CREATE": "create_revision", "MOD": "mod_revision", "VALUE": "value",
          "LEASE": "lease"}
_OPERATORS: dict[str, Result] = {"==": "EQUAL", "!=": "NOT_EQUAL", ">": "GREATER", "<": "LESS"}


def b64(data: bytes | str) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode("ascii")


def unb64(text: object) -> bytes:
    if not isinstance(text, str):
        return b""
    return base64.b64decode(text)


def prefix_end(prefix: bytes | str) -> bytes:
    """The range_end that makes a range over every key starting with ``prefix`` (etcd's GetPrefixRangeEnd)."""
    data = bytearray(prefix.encode() if isinstance(prefix, str) else prefix)
    while data:
        if data[-1] < 0xFF:
            data[-1] += 1
            return bytes(data)
        data.pop()
    return b"\x00"  # every key


def as_int(value: object) -> int:
    """An int64 of the gateway (a string, a number, or absent = 0)."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise EtcdError(f"etcd: expected an integer, got {value!r:.40}")
    try:
        return int(value)
    except ValueError as exc:
        raise EtcdError(f"etcd: expected an integer, got {value!r:.40}") from exc


def _obj(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


@dataclass(frozen=True)
class KV:
    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    version: int = 1
    lease: int = 0

    @classmethod
    def parse(cls, data: object) -> KV:
        kv = _obj(data)
        return cls(key=unb64(kv.get("key")).decode("utf-8", "replace"), value=unb64(kv.get("value")),
                   create_revision=as_int(kv.get("create_revision")), mod_revision=as_int(kv.get("mod_revision")),
                   version=as_int(kv.get("version")), lease=as_int(kv.get("lease")))


def parse_kvs(data: object) -> list[KV]:
    return [KV.parse(kv) for kv in _list(_obj(data).get("kvs"))]


def revision(data: object) -> int:
    """The header revision of a gateway answer."""
    return as_int(_obj(_obj(data).get("header")).get("revision"))


@dataclass(frozen=True)
class Compare:
    """One condition of a transaction: ``target`` of ``key`` ``result`` ``value``."""

    key: str
    target: Target
    result: Result
    value: int | bytes

    @classmethod
    def create_revision(cls, key: str, revision: int, op: str = "==") -> Compare:
        return cls(key, "CREATE", _OPERATORS[op], revision)

    @classmethod
    def mod_revision(cls, key: str, revision: int, op: str = "==") -> Compare:
        return cls(key, "MOD", _OPERATORS[op], revision)

    @classmethod
    def version(cls, key: str, version: int, op: str = "==") -> Compare:
        """``version(key, 0)`` is true when the key does not exist."""
        return cls(key, "VERSION", _OPERATORS[op], version)

    @classmethod
    def value_is(cls, key: str, value: bytes, op: str = "==") -> Compare:
        return cls(key, "VALUE", _OPERATORS[op], value)

    def to_gateway(self) -> dict[str, Any]:
        name = _FIELD[self.target]
        value = b64(self.value) if isinstance(self.value, bytes) else str(self.value)
        return {"key": b64(self.key), "target": self.target, "result": self.result, name: value}


@dataclass(frozen=True)
class Op:
    """One request of a transaction: ``put``, ``delete`` or ``get`` (use the constructors)."""

    kind: Literal["put", "delete", "get"]
    key: str
    value: bytes = b""
    lease: int = 0
    prefix: bool = False

    @classmethod
    def put(cls, key: str, value: bytes, *, lease: int = 0) -> Op:
        return cls("put", key, value, lease)

    @classmethod
    def delete(cls, key: str, *, prefix: bool = False) -> Op:
        return cls("delete", key, prefix=prefix)

    @classmethod
    def get(cls, key: str, *, prefix: bool = False) -> Op:
        return cls("get", key, prefix=prefix)

    def to_gateway(self) -> dict[str, Any]:
        body: dict[str, Any] = {"key": b64(self.key)}
        if self.prefix:
            body["range_end"] = b64(prefix_end(self.key))
        if self.kind == "put":
            body["value"] = b64(self.value)
            if self.lease:
                body["lease"] = str(self.lease)
            return {"request_put": body}
        return {"request_delete_range" if self.kind == "delete" else "request_range": body}


@dataclass(frozen=True)
class OpResponse:
    """The answer to one Op of a transaction: the keys a ``get`` found, how many a ``delete`` removed."""

    kind: Literal["put", "delete", "get"]
    kvs: tuple[KV, ...] = ()
    deleted: int = 0


@dataclass(frozen=True)
class TxnResult:
    succeeded: bool
    revision: int
    responses: tuple[OpResponse, ...] = field(default_factory=tuple)

    @classmethod
    def parse(cls, data: object) -> TxnResult:
        body = _obj(data)
        return cls(succeeded=bool(body.get("succeeded", False)), revision=revision(body),
                   responses=tuple(_op_response(r) for r in _list(body.get("responses"))))


def _op_response(data: object) -> OpResponse:
    body = _obj(data)
    if "response_range" in body:
        return OpResponse("get", kvs=tuple(parse_kvs(body["response_range"])))
    if "response_delete_range" in body:
        return OpResponse("delete", deleted=as_int(_obj(body["response_delete_range"]).get("deleted")))
    return OpResponse("put")


def txn_body(compare: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op]) -> dict[str, Any]:
    return {"compare": [c.to_gateway() for c in compare], "success": [o.to_gateway() for o in success],
            "failure": [o.to_gateway() for o in failure]}


@dataclass(frozen=True)
class Event:
    type: Literal["put", "delete"]
    kv: KV

    @classmethod
    def parse(cls, data: object) -> Event:
        body = _obj(data)
        return cls("delete" if body.get("type") == "DELETE" else "put", KV.parse(body.get("kv")))


@dataclass(frozen=True)
class LeaderKey:
    """What a won campaign holds: the election ``name``, the leader ``key`` (``name/<lease hex>``), its
    create revision ``rev`` (the fence) and the ``lease`` it is attached to."""

    name: str
    key: str
    rev: int
    lease: int

    @classmethod
    def parse(cls, data: object) -> LeaderKey:
        body = _obj(data)
        return cls(name=unb64(body.get("name")).decode("utf-8", "replace"),
                   key=unb64(body.get("key")).decode("utf-8", "replace"),
                   rev=as_int(body.get("rev")), lease=as_int(body.get("lease")))

    def to_gateway(self) -> dict[str, Any]:
        return {"name": b64(self.name), "key": b64(self.key), "rev": str(self.rev), "lease": str(self.lease)}


def gateway_error(status: int, data: object) -> tuple[str, int]:
    """The message and gRPC code of an error answer (unary ``{"error", "code"}`` or a stream's
    ``{"error": {"message", "grpc_code"}}``)."""
    body = _obj(data)
    error = body.get("error")
    if isinstance(error, Mapping):
        return str(error.get("message") or "unknown error"), as_int(error.get("grpc_code"))
    message = body.get("message") or error or f"HTTP status {status}"
    return str(message), as_int(body.get("code")) if isinstance(body.get("code"), (int, str)) else 0
