"""The etcd client against a real etcd 3.4: keys, transactions, leases, watch, election calls, keep-alive
connection reuse, unix sockets, failover across members and the errors a user reads."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from stackctl.cluster.etcd import Compare, Etcd, Op
from stackctl.errors import EtcdError, EtcdUnavailable
from tests.support.etcd import EtcdCluster


def run(test: Callable[[Etcd], Awaitable[None]], endpoints: list[str], **kwargs: float) -> None:
    async def main() -> None:
        etcd = Etcd(endpoints, **kwargs)
        try:
            await test(etcd)
        finally:
            await etcd.aclose()
    asyncio.run(main())


async def raft_leader_index(cluster: EtcdCluster) -> int:
    for index, url in enumerate(cluster.endpoints):
        probe = Etcd([url])
        try:
            status = await probe.status()
        finally:
            await probe.aclose()
        if status["leader"] == status["header"]["member_id"]:
            return index
    raise AssertionError("no raft leader")


def test_put_get_range_delete(etcd1: EtcdCluster, prefix: str) -> None:
    async def test(etcd: Etcd) -> None:
        rev = await etcd.put(prefix + "a", b"1")
        await etcd.put(prefix + "b/x", b"\x00\xff binary")
        await etcd.put(prefix[:-1] + "0", b"outside")  # a sibling key that sorts right after the prefix
        kv = await etcd.get(prefix + "a")
        assert kv is not None and (kv.key, kv.value, kv.create_revision, kv.mod_revision) == (prefix + "a", b"1", rev, rev)
        assert await etcd.get(prefix + "missing") is None
        assert [(kv.key, kv.value) for kv in await etcd.range(prefix)] == [(prefix + "a", b"1"),
                                                                          (prefix + "b/x", b"\x00\xff binary")]
        later = await etcd.put(prefix + "a", b"2")
        kv = await etcd.get(prefix + "a")
        assert kv is not None and (kv.create_revision, kv.mod_revision, kv.version) == (rev, later, 2)
        assert await etcd.delete(prefix + "a") > later
        await etcd.delete(prefix, prefix=True)
        assert await etcd.range(prefix) == []
    run(test, etcd1.endpoints)


def test_txn_compares_and_answers(etcd1: EtcdCluster, prefix: str) -> None:
    async def test(etcd: Etcd) -> None:
        key = prefix + "k"
        created = await etcd.txn([Compare.version(key, 0)], [Op.put(key, b"v1"), Op.get(key)])
        assert created.succeeded and created.responses[1].kvs[0].value == b"v1"
        again = await etcd.txn([Compare.version(key, 0)], [Op.put(key, b"v2")], [Op.get(key)])
        assert not again.succeeded and again.responses[0].kvs[0].value == b"v1"
        kv = await etcd.get(key)
        assert kv is not None
        stale = await etcd.txn([Compare.mod_revision(key, kv.mod_revision - 1)], [Op.put(key, b"x")])
        assert not stale.succeeded
        ok = await etcd.txn([Compare.create_revision(key, kv.create_revision), Compare.value_is(key, b"v1")],
                            [Op.delete(prefix, prefix=True)])
        assert ok.succeeded and ok.responses[0].deleted == 1 and ok.revision > kv.mod_revision
    run(test, etcd1.endpoints)


def test_lease_keeps_a_key_until_it_expires(etcd1: EtcdCluster, prefix: str) -> None:
    async def test(etcd: Etcd) -> None:
        lease = await etcd.lease_grant(2)
        await etcd.put(prefix + "leased", b"x", lease=lease)
        for _ in range(6):  # 3 s of keepalives: the key outlives its TTL
            assert await etcd.lease_keepalive(lease) == 2
            await asyncio.sleep(0.5)
        kv = await etcd.get(prefix + "leased")
        assert kv is not None and kv.lease == lease
        start = time.monotonic()
        while await etcd.get(prefix + "leased") is not None:
            assert time.monotonic() - start < 4, "the key outlived its lease"
            await asyncio.sleep(0.1)
        assert 1.5 <= time.monotonic() - start
        assert await etcd.lease_keepalive(lease) == 0
        with pytest.raises(EtcdError, match="^etcd: etcdserver: requested lease not found$"):
            await etcd.put(prefix + "x", b"", lease=lease)
        await etcd.lease_revoke(lease)  # already gone: not an error
        other = await etcd.lease_grant(5)
        await etcd.put(prefix + "y", b"", lease=other)
        await etcd.lease_revoke(other)
        assert await etcd.get(prefix + "y") is None
    run(test, etcd1.endpoints)


def test_watch_sees_puts_and_deletes_from_a_revision(etcd1: EtcdCluster, prefix: str) -> None:
    async def test(etcd: Etcd) -> None:
        first = await etcd.put(prefix + "before", b"0")
        seen: list[tuple[str, str, bytes]] = []

        async def consume() -> None:
            async for events in etcd.watch(prefix, start_revision=first):
                seen.extend((e.type, e.kv.key, e.kv.value) for e in events)
                if len(seen) >= 3:
                    return
        watcher = asyncio.create_task(consume())
        await asyncio.sleep(0.2)
        await etcd.put(prefix + "a", b"1")
        await etcd.put("/elsewhere/" + prefix, b"not mine")
        await etcd.delete(prefix + "before")
        await asyncio.wait_for(watcher, 5)
        assert seen == [("put", prefix + "before", b"0"), ("put", prefix + "a", b"1"),
                        ("delete", prefix + "before", b"")]
    run(test, etcd1.endpoints)


def test_election_calls(etcd1: EtcdCluster, prefix: str) -> None:
    async def test(etcd: Etcd) -> None:
        name = prefix + "election"
        assert await etcd.leader(name) is None
        first, second = await etcd.lease_grant(5), await etcd.lease_grant(5)
        leader = await etcd.campaign(name, first, b"node-1")
        assert leader.key == f"{name}/{first:x}" and leader.lease == first and leader.rev > 0
        kv = await etcd.leader(name)
        assert kv is not None and kv.value == b"node-1" and kv.create_revision == leader.rev
        waiting = asyncio.create_task(etcd.campaign(name, second, b"node-2"))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        start = time.monotonic()
        await etcd.resign(leader)
        successor = await asyncio.wait_for(waiting, 5)
        assert time.monotonic() - start < 0.5
        assert successor.key == f"{name}/{second:x}" and successor.rev > leader.rev
        kv = await etcd.leader(name)
        assert kv is not None and kv.value == b"node-2"
        await etcd.lease_revoke(first)
        await etcd.lease_revoke(second)
    run(test, etcd1.endpoints)


def test_status_members_and_unix_socket_with_connection_reuse(etcd1: EtcdCluster, prefix: str) -> None:
    async def test(etcd: Etcd) -> None:
        status = await etcd.status()
        assert status["version"].startswith("3.4.")
        assert [m["name"] for m in await etcd.members()] == ["m0"]
        for i in range(20):
            await etcd.put(f"{prefix}{i}", b"x")
        assert len(await etcd.range(prefix)) == 20
        idle = [c for conns in etcd._idle.values() for c in conns]
        assert len(idle) == 1 and idle[0].uses == 23  # one kept-alive connection served them all
    run(test, etcd1.sockets)


def test_no_endpoint_names_every_endpoint_tried(tmp_path_factory: pytest.TempPathFactory) -> None:
    sock = tmp_path_factory.mktemp("none") / "etcd.sock"
    async def test(etcd: Etcd) -> None:
        with pytest.raises(EtcdUnavailable) as info:
            await etcd.get("/x")
        assert str(info.value) == ("no etcd endpoint answers (http://127.0.0.1:9: connection refused; "
                                   f"unix://{sock}: no such file or directory)")
    run(test, ["http://127.0.0.1:9", f"unix://{sock}"], timeout=0.5)


def test_failover_when_a_member_is_stopped_or_hangs(etcd3: EtcdCluster, prefix: str) -> None:
    async def test(etcd: Etcd) -> None:
        raft_leader = await raft_leader_index(etcd3)
        etcd._current = raft_leader  # the worst case: the member in use is the raft leader
        await etcd.put(prefix + "k", b"1")
        etcd3.stop(raft_leader)
        start = time.monotonic()
        await etcd.put(prefix + "k", b"2")  # another member, once the other two elected a raft leader
        assert etcd.endpoints[etcd._current].url != etcd3.endpoints[raft_leader]
        assert time.monotonic() - start < 4
        etcd3.start(raft_leader)  # back: the two others keep a quorum while one hangs
        hung = etcd._current
        etcd3.pause(hung)  # a member that accepts connections and answers nothing
        start = time.monotonic()
        kv = await etcd.get(prefix + "k")
        assert kv is not None and kv.value == b"2"
        assert time.monotonic() - start < 2.5  # a third of the timeout, then the last member
        etcd3.resume(hung)
    run(test, etcd3.endpoints)


def test_watch_resumes_on_another_member_without_losing_events(etcd3: EtcdCluster, prefix: str) -> None:
    async def test(etcd: Etcd) -> None:
        writer = Etcd([etcd3.endpoints[2]])
        seen: list[bytes] = []

        async def consume() -> None:
            async for events in etcd.watch(prefix):
                seen.extend(e.kv.value for e in events)
                if len(seen) >= 4:
                    return
        watcher = asyncio.create_task(consume())
        await asyncio.sleep(0.3)
        await writer.put(prefix + "k", b"1")
        await writer.put(prefix + "k", b"2")
        await asyncio.sleep(0.2)
        etcd3.stop(0)  # the member the watch streams from
        await writer.put(prefix + "k", b"3")
        await writer.put(prefix + "k", b"4")
        await asyncio.wait_for(watcher, 10)
        assert seen == [b"1", b"2", b"3", b"4"]
        await writer.aclose()
    run(test, etcd3.endpoints, timeout=1.0)


def test_quorum_lost_fails_in_one_line_while_status_still_answers(etcd3: EtcdCluster, prefix: str) -> None:
    async def test(etcd: Etcd) -> None:
        await etcd.put(prefix + "k", b"1")
        etcd3.stop(1)
        etcd3.stop(2)
        await asyncio.sleep(1.5)  # the last member notices it has no raft leader
        start = time.monotonic()
        with pytest.raises(EtcdUnavailable) as info:
            await etcd.put(prefix + "k", b"2")
        assert time.monotonic() - start < 2.5
        message = str(info.value)
        assert "\n" not in message and "etcdserver: no leader" in message, message
        status = await etcd.status()  # a member without a leader still tells how it is
        assert status["version"].startswith("3.4.") and int(status.get("leader", 0)) == 0
    run(test, [etcd3.endpoints[0]], timeout=2.0)
