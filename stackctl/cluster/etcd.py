"""An async client of etcd 3.4's JSON gateway (``/v3/...``), own code over :mod:`stackctl.cluster.http1`.

Endpoints (``http://HOST:PORT`` or ``unix:///PATH``) are tried in order starting at the last one that
answered: a request moves on to the next endpoint when the connection fails, when it times out, or when
the member answers that it has no raft leader (every request carries gRPC's ``hasleader`` metadata, so
a member cut off from its cluster says so at once instead of answering stale data or hanging, and
watches on it end). A transaction whose answer was lost is not sent again (its outcome is unknown):
that raises :class:`EtcdUnavailable` saying so. When no endpoint answers: :class:`EtcdUnavailable`
naming each endpoint and why; an error answer: :class:`EtcdError` with etcd's message.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Sequence
from typing import Any

from stackctl.cluster.http1 import Endpoint, HttpConnection, HttpError, json_values
from stackctl.cluster.kv import (
    KV,
    Compare,
    Event,
    LeaderKey,
    Op,
    TxnResult,
    as_int,
    b64,
    gateway_error,
    parse_kvs,
    prefix_end,
    revision,
    txn_body,
)
from stackctl.errors import EtcdError, EtcdUnavailable

__all__ = ["KV", "Compare", "Etcd", "Event", "LeaderKey", "Op", "TxnResult"]

_HEADERS = {"Grpc-Metadata-hasleader": "true"}
_GRPC_UNAVAILABLE = 14
_BROKEN = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, HttpError, TimeoutError)
_IDLE_PER_ENDPOINT = 4


class _Failover(Exception):
    """This endpoint cannot serve the request now; try the next one (internal)."""


class Etcd:
    """One per process. Safe for concurrent use by many tasks (one connection per request in flight)."""

    def __init__(self, endpoints: Sequence[str], *, timeout: float = 5.0) -> None:
        if not endpoints:
            raise EtcdUnavailable("no etcd endpoint given")
        self.endpoints = [Endpoint.parse(url) for url in endpoints]
        self.timeout = timeout
        self._current = 0
        self._idle: dict[Endpoint, list[HttpConnection]] = {}

    # -- transport -------------------------------------------------------------------------------
    def _order(self) -> list[Endpoint]:
        return self.endpoints[self._current:] + self.endpoints[:self._current]

    def _answered(self, endpoint: Endpoint) -> None:
        self._current = self.endpoints.index(endpoint)

    async def _connection(self, endpoint: Endpoint) -> HttpConnection:
        idle = self._idle.get(endpoint)
        if idle:
            return idle.pop()
        return await HttpConnection.open(endpoint)

    def _release(self, conn: HttpConnection) -> None:
        idle = self._idle.setdefault(conn.endpoint, [])
        if conn.reusable and len(idle) < _IDLE_PER_ENDPOINT:
            idle.append(conn)
        else:
            conn.close()

    def _drop_idle(self, endpoint: Endpoint) -> None:
        for conn in self._idle.pop(endpoint, []):
            conn.close()

    async def _exchange(self, endpoint: Endpoint, path: str, body: bytes, timeout: float | None,
                        headers: dict[str, str]) -> tuple[int, bytes]:
        """One request on one endpoint; a kept-alive connection the server closed meanwhile is replaced once."""
        for attempt in range(2):
            try:
                conn = await asyncio.wait_for(self._connection(endpoint), self.timeout)
            except _BROKEN as exc:  # nothing was sent: any request may go to the next endpoint
                raise _Failover(_reason(exc)) from exc
            reused = conn.uses > 0
            try:
                status, data = await asyncio.wait_for(conn.request(path, body, headers=headers), timeout)
            except (asyncio.IncompleteReadError, ConnectionResetError, BrokenPipeError):
                conn.close()
                if reused and attempt == 0:
                    self._drop_idle(endpoint)
                    continue
                raise
            except BaseException:
                conn.close()
                raise
            self._release(conn)
            return status, data
        raise AssertionError("unreachable")

    async def call(self, path: str, request: dict[str, Any], *, resend: bool = True,
                   timeout: float | None = -1.0, require_leader: bool = True) -> dict[str, Any]:
        """POST ``request`` to ``/v3/<path>`` on the first endpoint that serves it; the decoded answer.

        ``resend=False``: once the request may have reached a member, do not send it to another one.
        ``timeout``: seconds for the answer (default: the client's; ``None``: wait as long as it takes),
        each member getting a third of it (at least 1 s), then rounds over the members until it is spent.
        ``require_leader=False``: a member without a raft leader may answer (status, members).
        """
        wait = self.timeout if timeout == -1.0 else timeout
        body = json.dumps(request).encode()
        loop = asyncio.get_running_loop()
        give_up = loop.time() + (wait if wait is not None else self.timeout)
        # one member gets a third of the time: one that hangs (stopped, cut off, or a follower whose
        # raft leader just died) leaves time for the others
        attempt = None if wait is None else max(min(wait, 1.0), wait / 3)
        pause = 0.05
        while True:
            tried: list[str] = []
            for endpoint in self._order():
                try:
                    status, data = await self._exchange(endpoint, "/v3/" + path, body, attempt,
                                                        _HEADERS if require_leader else {})
                    return self._decode(endpoint, path, status, data, resend=resend)
                except _Failover as exc:
                    tried.append(f"{endpoint.url}: {exc}")
                except _BROKEN as exc:
                    if not resend:
                        raise EtcdUnavailable(f"etcd {endpoint.url}: {_reason(exc)} during {path}; "
                                              "its outcome is unknown") from exc
                    tried.append(f"{endpoint.url}: {_reason(exc)}")
            # every member refused or is between raft leaders: try again while the time allows
            if loop.time() + pause >= give_up:
                raise EtcdUnavailable("no etcd endpoint answers (" + "; ".join(tried) + ")")
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.5)

    def _decode(self, endpoint: Endpoint, path: str, status: int, data: bytes, *,
                resend: bool = True) -> dict[str, Any]:
        try:
            answer = json.loads(data) if data else {}
        except ValueError as exc:
            raise _Failover(f"answer to {path} is not JSON") from exc
        if not isinstance(answer, dict):
            raise _Failover(f"answer to {path} is not a JSON object")
        if status != 200 or "error" in answer:
            message, code = gateway_error(status, answer)
            if code == _GRPC_UNAVAILABLE or status in (502, 503):
                if not resend and "timed out" in message:  # proposed, maybe applied later
                    raise EtcdUnavailable(f"etcd {endpoint.url}: {message} during {path}; its outcome is unknown")
                raise _Failover(message)
            raise EtcdError(f"etcd: {message}")
        self._answered(endpoint)
        return answer

    async def aclose(self) -> None:
        for endpoint in list(self._idle):
            self._drop_idle(endpoint)

    # -- key-value -------------------------------------------------------------------------------
    async def get(self, key: str) -> KV | None:
        kvs = parse_kvs(await self.call("kv/range", {"key": b64(key)}))
        return kvs[0] if kvs else None

    async def range(self, prefix: str) -> list[KV]:
        """Every key starting with ``prefix``, in key order."""
        return (await self.range_at(prefix))[1]

    async def range_at(self, prefix: str, *, serializable: bool = False) -> tuple[int, list[KV]]:
        """The revision read at (watch from it + 1 to miss nothing) and every key starting with ``prefix``.
        ``serializable``: the answering member's own copy, answered without a raft leader too (``cluster
        status`` when quorum is lost; possibly stale)."""
        request: dict[str, Any] = {"key": b64(prefix), "range_end": b64(prefix_end(prefix))}
        if serializable:
            request["serializable"] = True
        answer = await self.call("kv/range", request, require_leader=not serializable)
        return revision(answer), parse_kvs(answer)

    async def put(self, key: str, value: bytes, *, lease: int = 0) -> int:
        request: dict[str, Any] = {"key": b64(key), "value": b64(value)}
        if lease:
            request["lease"] = str(lease)
        return revision(await self.call("kv/put", request))

    async def delete(self, key: str, *, prefix: bool = False) -> int:
        request = {"key": b64(key)}
        if prefix:
            request["range_end"] = b64(prefix_end(key))
        return revision(await self.call("kv/deleterange", request))

    async def txn(self, compare: Sequence[Compare], success: Sequence[Op], failure: Sequence[Op] = ()) -> TxnResult:
        return TxnResult.parse(await self.call("kv/txn", txn_body(compare, success, failure), resend=False))

    # -- leases ----------------------------------------------------------------------------------
    async def lease_grant(self, ttl: int) -> int:
        answer = await self.call("lease/grant", {"TTL": str(ttl)})
        return as_int(answer.get("ID"))

    async def lease_keepalive(self, lease: int, *, timeout: float | None = -1.0) -> int:
        """Renew ``lease``; the TTL it has now (0: it is gone)."""
        answer = await self.call("lease/keepalive", {"ID": str(lease)}, timeout=timeout)
        result = answer.get("result")
        return as_int(result.get("TTL")) if isinstance(result, dict) else 0

    async def lease_revoke(self, lease: int) -> None:
        try:
            await self.call("lease/revoke", {"ID": str(lease)})
        except EtcdError as exc:
            if "lease not found" not in str(exc):
                raise

    # -- election (etcd's v3election service) ----------------------------------------------------
    async def campaign(self, name: str, lease: int, value: bytes) -> LeaderKey:
        """Blocks until this lease's candidate leads ``name``."""
        answer = await self.call("election/campaign", {"name": b64(name), "lease": str(lease), "value": b64(value)},
                                 timeout=None)
        return LeaderKey.parse(answer.get("leader"))

    async def leader(self, name: str) -> KV | None:
        try:
            answer = await self.call("election/leader", {"name": b64(name)})
        except EtcdError as exc:
            if "no leader" in str(exc):
                return None
            raise
        kv = answer.get("kv")
        return KV.parse(kv) if kv else None

    async def resign(self, leader: LeaderKey) -> None:
        await self.call("election/resign", {"leader": leader.to_gateway()})

    # -- cluster ---------------------------------------------------------------------------------
    async def status(self) -> dict[str, Any]:
        """The status of the member that answers (its raft leader, version, db size); answered without a
        raft leader too (then ``leader`` is absent or 0)."""
        return await self.call("maintenance/status", {}, require_leader=False)

    async def members(self) -> list[dict[str, Any]]:
        members = (await self.call("cluster/member/list", {}, require_leader=False)).get("members")
        return [m for m in members if isinstance(m, dict)] if isinstance(members, list) else []

    # -- watch -----------------------------------------------------------------------------------
    async def watch(self, prefix: str, *, start_revision: int = 0) -> AsyncIterator[list[Event]]:
        """The changes under ``prefix``, a batch per etcd revision group, from ``start_revision`` (0: from now).
        Resumes on another endpoint when the stream breaks; raises :class:`EtcdError` when the revision to
        resume from was compacted (the caller reads everything again) and :class:`EtcdUnavailable` when no
        endpoint serves it."""
        next_rev = start_revision
        while True:
            request = {"create_request": {"key": b64(prefix), "range_end": b64(prefix_end(prefix)),
                                          "start_revision": str(next_rev)}}
            conn, chunks = await self._open_stream("watch", request)
            try:
                async for message in json_values(chunks):
                    events, next_rev = _watch_message(message, next_rev)
                    if events:
                        yield events
            except _BROKEN:
                pass  # resume below, from next_rev
            finally:
                conn.close()
            await asyncio.sleep(0.05)

    async def _open_stream(self, path: str, request: dict[str, Any]) -> tuple[HttpConnection, AsyncIterator[bytes]]:
        body = json.dumps(request).encode()
        tried: list[str] = []
        for endpoint in self._order():
            try:
                conn = await asyncio.wait_for(HttpConnection.open(endpoint), self.timeout)
            except _BROKEN as exc:
                tried.append(f"{endpoint.url}: {_reason(exc)}")
                continue
            try:
                status, chunks = await asyncio.wait_for(conn.stream("/v3/" + path, body, headers=_HEADERS),
                                                        self.timeout)
            except _BROKEN as exc:
                conn.close()
                tried.append(f"{endpoint.url}: {_reason(exc)}")
                continue
            if status == 200:
                self._answered(endpoint)
                return conn, chunks
            data = b"".join([c async for c in chunks])
            conn.close()
            try:
                self._decode(endpoint, path, status, data)
            except _Failover as exc:
                tried.append(f"{endpoint.url}: {exc}")
        raise EtcdUnavailable("no etcd endpoint answers (" + "; ".join(tried) + ")")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, asyncio.IncompleteReadError):
        return "connection closed"
    if isinstance(exc, OSError) and (exc.errno or exc.strerror):
        return (os.strerror(exc.errno) if exc.errno else str(exc.strerror)).lower()
    return str(exc) or type(exc).__name__


def _watch_message(message: object, next_rev: int) -> tuple[list[Event], int]:
    """The events of one watch stream message and the revision to resume from after it."""
    if not isinstance(message, dict):
        raise HttpError("watch message is not a JSON object")
    if "error" in message:
        text, code = gateway_error(200, message)
        if code == _GRPC_UNAVAILABLE:
            raise HttpError(text)  # the member lost its leader: resume elsewhere
        raise EtcdError(f"etcd: watch: {text}")
    result = message.get("result")
    if not isinstance(result, dict):
        return [], next_rev
    if result.get("canceled"):
        compacted = as_int(result.get("compact_revision"))
        if compacted:
            raise EtcdError(f"etcd: watch from revision {next_rev} impossible, compacted up to {compacted}")
        raise HttpError(str(result.get("cancel_reason") or "watch canceled"))
    events = [Event.parse(e) for e in result.get("events") or [] if isinstance(e, dict)]
    if events:
        return events, max(e.kv.mod_revision for e in events) + 1
    if result.get("created") and next_rev == 0:
        return [], revision(result) + 1
    return [], next_rev
