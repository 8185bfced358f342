"""The cluster records round-trip through JSON, and a malformed record read from etcd is refused in one
line that names the record and the field (never a KeyError or a half-built record)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from stackctl.cluster.state import AgentRecord, NodeRecord, ServiceRecord, StackRecord, TaskRecord, valid_name
from stackctl.errors import ClusterError, StateError

STACK = StackRecord(name="shop", document={"services": {"web": {"image": "nginx:1"}}}, version=3,
                    images={"nginx:1": "sha256:" + "a" * 64}, created=1.5, updated=2.5)
SERVICE = ServiceRecord(stack="shop", service="web", version=2, spec_hash="abc", mode="replicated",
                        replicas=3, updated=2.0)
TASK = TaskRecord(id="0123456789ab", stack="shop", service="web", slot=1, node="node-1", desired="running",
                  state="running", container_id="c" * 64, message="", spec_hash="abc", service_version=2,
                  leader_rev=42, created=1.0, updated=2.0)
NODE = NodeRecord(name="node-1", address="10.0.0.1", role="manager", availability="drain",
                  labels={"disk": "ssd"}, cpus=2.0, memory=2**31, state="ready", message="", last_seen=9.0,
                  engine_version="27.3.1")
AGENT = AgentRecord(node="node-1", version="0.11.0", pid=1234, started=5.0, role="leader")


@pytest.mark.parametrize("record", [STACK, SERVICE, TASK, NODE, AGENT], ids=lambda r: type(r).__name__)
def test_records_round_trip_through_json(record: Any) -> None:
    data = record.to_json()
    assert isinstance(data, bytes)
    assert type(record).from_json(data) == record
    assert type(record).from_json(data.decode()) == record
    assert type(record).from_dict(json.loads(data)) == record
    assert record.to_dict() == json.loads(data)


def test_json_is_compact_and_stable() -> None:
    assert SERVICE.to_json() == (b'{"mode":"replicated","replicas":3,"service":"web","spec_hash":"abc",'
                                 b'"stack":"shop","updated":2.0,"version":2}')


def test_unknown_fields_are_ignored_and_optional_ones_default() -> None:
    data = TASK.to_dict() | {"from_a_newer_agent": True, "node": None, "container_id": None, "message": None}
    task = TaskRecord.from_dict(data)
    assert (task.node, task.container_id, task.message) == (None, None, "")


def test_an_integer_timestamp_is_read_as_a_float() -> None:
    assert AgentRecord.from_dict(AGENT.to_dict() | {"started": 5}).started == 5.0


@pytest.mark.parametrize(("cls", "base", "change", "expected"), [
    (TaskRecord, TASK, {"state": "exploded"}, "task record: field 'state' must be one of pending, assigned"),
    (TaskRecord, TASK, {"id": "XYZ"}, "task record: field 'id' must be 12 lowercase hex"),
    (TaskRecord, TASK, {"slot": "1"}, "task record: field 'slot' must be an integer >= 0"),
    (TaskRecord, TASK, {"slot": True}, "task record: field 'slot' must be an integer"),
    (TaskRecord, TASK, {"slot": -1}, "task record: field 'slot' must be an integer >= 0"),
    (TaskRecord, TASK, {"node": "../etc"}, "task record: field 'node' must be a name without '/'"),
    (ServiceRecord, SERVICE, {"mode": "daemonset"}, "service record: field 'mode' must be one of"),
    (ServiceRecord, SERVICE, {"service": "a/b"}, "service record: field 'service' must be a name"),
    (StackRecord, STACK, {"document": []}, "stack record: field 'document' must be an object"),
    (StackRecord, STACK, {"images": {"x": 1}}, "stack record: field 'images' must be an object of strings"),
    (NodeRecord, NODE, {"cpus": float("nan")}, "node record: field 'cpus' must be a non-negative number"),
    (NodeRecord, NODE, {"labels": ["a"]}, "node record: field 'labels' must be an object of strings"),
    (AgentRecord, AGENT, {"role": "king"}, "agent record: field 'role' must be one of leader, standby"),
], ids=lambda v: v if isinstance(v, str) else "")
def test_a_malformed_record_is_refused_naming_the_field(cls: Any, base: Any, change: dict[str, Any],
                                                       expected: str) -> None:
    with pytest.raises(StateError, match="^" + expected.replace("(", r"\(")) as info:
        cls.from_dict(base.to_dict() | change)
    assert "\n" not in str(info.value)


def test_missing_field_and_non_object_and_non_json() -> None:
    data = NODE.to_dict()
    del data["address"]
    with pytest.raises(StateError, match="^node record: missing field 'address'$"):
        NodeRecord.from_dict(data)
    with pytest.raises(StateError, match="^agent record: expected a JSON object, got list$"):
        AgentRecord.from_json(b"[1]")
    with pytest.raises(ClusterError, match="^stack record: not JSON"):
        StackRecord.from_json(b"\xff{")


def test_names_fit_for_one_key_segment() -> None:
    assert valid_name("web-1") and valid_name("node_a.b")
    assert not any(valid_name(n) for n in ("", "a/b", ".", "..", "a\nb", "x" * 300))
