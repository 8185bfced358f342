"""The gateway's encoding: base64 keys, int64 as strings, defaults left out, prefix ranges, errors."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from stackctl.cluster.http1 import Endpoint, HttpError, json_values
from stackctl.cluster.kv import (
    KV,
    Compare,
    Event,
    LeaderKey,
    Op,
    TxnResult,
    as_int,
    gateway_error,
    prefix_end,
    txn_body,
)
from stackctl.errors import ClusterError, EtcdError


def test_prefix_end_increments_the_last_byte_that_can_be() -> None:
    assert prefix_end("/a/") == b"/a0"
    assert prefix_end(b"a\xff\xff") == b"b"
    assert prefix_end(b"\xff") == b"\x00"


def test_kv_parse_fills_the_defaults_the_gateway_leaves_out() -> None:
    kv = KV.parse({"key": "Zm9v", "create_revision": "2", "mod_revision": "7", "version": "3"})
    assert kv == KV("foo", b"", 2, 7, 3, 0)
    assert Event.parse({"kv": {"key": "Zm9v", "value": "YmFy"}}).type == "put"
    assert Event.parse({"type": "DELETE", "kv": {"key": "Zm9v", "mod_revision": "9"}}).type == "delete"


def test_txn_body_and_result() -> None:
    body = txn_body([Compare.version("k", 0)], [Op.put("k", b"v", lease=7), Op.delete("p/", prefix=True)],
                    [Op.get("k")])
    assert body == {
        "compare": [{"key": "aw==", "target": "VERSION", "result": "EQUAL", "version": "0"}],
        "success": [{"request_put": {"key": "aw==", "value": "dg==", "lease": "7"}},
                    {"request_delete_range": {"key": "cC8=", "range_end": "cDA="}}],
        "failure": [{"request_range": {"key": "aw=="}}]}
    result = TxnResult.parse({"header": {"revision": "12"},
                              "responses": [{"response_range": {"kvs": [{"key": "aw==", "value": "dg=="}]}},
                                            {"response_delete_range": {"deleted": "3"}}, {"response_put": {}}]})
    assert not result.succeeded and result.revision == 12
    assert [r.kind for r in result.responses] == ["get", "delete", "put"]
    assert result.responses[0].kvs[0].value == b"v" and result.responses[1].deleted == 3
    assert Compare.value_is("k", b"x", "!=").to_gateway()["value"] == "eA=="


def test_leader_key_round_trip() -> None:
    key = LeaderKey("e", "e/1f", 5, 31)
    assert LeaderKey.parse(key.to_gateway()) == key


def test_int64_and_errors() -> None:
    assert as_int("9223372036854775807") == 2**63 - 1 and as_int(None) == 0
    with pytest.raises(EtcdError):
        as_int("x")
    assert gateway_error(404, {"error": "etcdserver: requested lease not found", "code": 5}) == (
        "etcdserver: requested lease not found", 5)
    assert gateway_error(200, {"error": {"grpc_code": 14, "message": "etcdserver: no leader"}}) == (
        "etcdserver: no leader", 14)
    assert gateway_error(502, {}) == ("HTTP status 502", 0)


def test_endpoints() -> None:
    assert Endpoint.parse("http://127.0.0.1:2379") == Endpoint("http://127.0.0.1:2379", "127.0.0.1", 2379)
    assert Endpoint.parse("http://[::1]:23").host == "::1"
    assert Endpoint.parse("unix:///run/x.sock").path == "/run/x.sock"
    for bad in ("https://h:1", "h:1", "unix://", "http://h:99999", "http://h:1/v3"):
        with pytest.raises(ClusterError, match="^etcd endpoint"):
            Endpoint.parse(bad)


def test_json_values_across_and_within_chunks() -> None:
    async def chunks(parts: list[bytes]) -> AsyncIterator[bytes]:
        for part in parts:
            yield part

    async def collect(parts: list[bytes]) -> list[object]:
        return [value async for value in json_values(chunks(parts))]
    assert asyncio.run(collect([b'{"a": 1}\n{"b"', b': "\xc3', b'\xa9"}\n', b"  "])) == [{"a": 1}, {"b": "é"}]
    with pytest.raises(HttpError, match="inside a JSON value"):
        asyncio.run(collect([b'{"a": ']))
