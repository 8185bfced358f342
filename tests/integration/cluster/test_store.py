"""The cluster state in a real etcd: the key layout, versions kept by the store, compare-and-swap user
intent, fenced leader writes (a deposed leader's write raises Deposed and changes nothing), what the user
set on a node surviving the leader's writes, large writes split under etcd's limits, snapshot and watch."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable

import pytest

from stackctl.cluster.etcd import Compare, Etcd
from stackctl.cluster.state import NodeRecord, ServiceRecord, StackRecord, TaskRecord
from stackctl.cluster.store import Store
from stackctl.errors import ClusterError, Deposed, StateError
from tests.support.etcd import EtcdCluster

DOC = {"services": {"web": {"image": "nginx"}, "db": {"image": "postgres"}}}


def run(etcd1: EtcdCluster, prefix: str, test: Callable[[Store], Awaitable[None]]) -> None:
    async def main() -> None:
        etcd = Etcd(etcd1.endpoints)
        try:
            await test(Store(etcd, prefix.strip("/").replace("/", "-")))
        finally:
            await etcd.aclose()
    asyncio.run(main())


def services(*specs: tuple[str, str, int]) -> list[ServiceRecord]:
    return [ServiceRecord(stack="shop", service=name, version=0, spec_hash=spec, replicas=n) for name, spec, n in specs]


async def leader_fence(store: Store, node: str = "n1") -> list[Compare]:
    lease = await store.etcd.lease_grant(10)
    key = await store.etcd.campaign(store.election, lease, node.encode())
    return [Compare.create_revision(key.key, key.rev)]


def test_deploy_versions_and_removed_services(etcd1: EtcdCluster, prefix: str) -> None:
    async def test(store: Store) -> None:
        stack = StackRecord(name="shop", document=DOC, version=0)
        assert await store.put_stack(stack, services(("web", "h1", 2), ("db", "h2", 1)), now=100.0)
        assert not await store.put_stack(stack, services(("web", "h1", 2), ("db", "h2", 1)), now=200.0)
        got = await store.stack("shop")
        assert got is not None and (got.version, got.created, got.updated) == (1, 100.0, 100.0)
        assert {(s.service, s.version) for s in await store.services("shop")} == {("web", 1), ("db", 1)}
        changed = {"services": {"web": {"image": "nginx:2"}}}
        assert await store.put_stack(dataclasses.replace(stack, document=changed), services(("web", "h3", 2)), now=300.0)
        got = await store.stack("shop")
        assert got is not None and (got.version, got.created, got.updated) == (2, 100.0, 300.0)
        assert [(s.service, s.version, s.spec_hash) for s in await store.services()] == [("web", 2, "h3")]
        assert [kv.key for kv in await store.etcd.range(store.prefix)] == [
            f"{store.prefix}services/shop/web", f"{store.prefix}stacks/shop"]
        assert await store.remove_stack("shop") and not await store.remove_stack("shop")
        assert await store.stacks() == [] and await store.services() == []
    run(etcd1, prefix, test)


def test_scale_and_node_update_are_compare_and_swap(etcd1: EtcdCluster, prefix: str) -> None:
    async def test(store: Store) -> None:
        await store.put_stack(StackRecord(name="shop", document=DOC, version=0), services(("web", "h", 1)))
        scaled = await store.scale("shop", "web", 5, now=5.0)
        assert (scaled.replicas, scaled.version, scaled.updated) == (5, 2, 5.0)
        results = await asyncio.gather(*(store.scale("shop", "web", n) for n in (7, 8, 9)))
        final = (await store.services("shop"))[0]
        assert final.version == 5 and final.replicas in {7, 8, 9} and final in results  # none lost
        with pytest.raises(ClusterError, match="^service shop_nope not found$"):
            await store.scale("shop", "nope", 1)
        await store.add_nodes([NodeRecord(name="n1", address="10.0.0.1", labels={"a": "1", "b": "2"})])
        node = await store.update_node("n1", availability="drain", labels_add={"disk": "ssd"}, labels_rm=["a"])
        assert node.availability == "drain" and node.labels == {"b": "2", "disk": "ssd"}
        assert await store.nodes() == [node]
        with pytest.raises(ClusterError, match="^node n9 not found$"):
            await store.update_node("n9", availability="pause")
    run(etcd1, prefix, test)


def test_fenced_writes_and_a_deposed_leader(etcd1: EtcdCluster, prefix: str) -> None:
    async def test(store: Store) -> None:
        fence = await leader_fence(store)
        tasks = [TaskRecord(id=f"{i:012x}", stack="shop", service="web", slot=i + 1, node="n1") for i in range(300)]
        await store.write_tasks(fence, tasks)  # 300 puts: three transactions under etcd's 128-op limit
        assert len(await store.tasks("shop", "web")) == 300
        glob = TaskRecord(id="abcdefabcdef", stack="shop", service="agent", slot=0, node="n2")
        await store.write_tasks(fence, [glob], delete=tasks[100:])
        assert store.task_key(glob).endswith("/tasks/shop/agent/n2/abcdefabcdef")
        assert len(await store.tasks("shop")) == 101
        await store.etcd.delete(store.election, prefix=True)  # the leader key is gone: deposed
        await leader_fence(store, "n2")  # another leader
        before = await store.etcd.range(store.prefix + "tasks/")
        with pytest.raises(Deposed, match="^this agent is no longer the leader: its write was refused$"):
            await store.write_tasks(fence, [dataclasses.replace(tasks[0], state="running")], delete=[glob])
        with pytest.raises(Deposed):
            await store.write_nodes(fence, [NodeRecord(name="n1", address="a")])
        assert await store.etcd.range(store.prefix + "tasks/") == before  # nothing changed
    run(etcd1, prefix, test)


def test_leader_node_writes_keep_what_the_user_set(etcd1: EtcdCluster, prefix: str) -> None:
    async def test(store: Store) -> None:
        fence = await leader_fence(store)
        seen = NodeRecord(name="n1", address="10.0.0.1", state="ready", last_seen=1.0, cpus=2, memory=2**30)
        await store.write_nodes(fence, [seen])
        await store.update_node("n1", availability="pause", labels_add={"zone": "a"})
        await store.write_nodes(fence, [dataclasses.replace(seen, state="down", last_seen=2.0)])
        (node,) = await store.nodes()
        assert (node.state, node.last_seen, node.availability, node.labels) == ("down", 2.0, "pause", {"zone": "a"})
    run(etcd1, prefix, test)


def test_snapshot_watch_and_malformed_records(etcd1: EtcdCluster, prefix: str) -> None:
    async def test(store: Store) -> None:
        fence = await leader_fence(store, "n7")
        await store.put_stack(StackRecord(name="shop", document=DOC, version=0), services(("web", "h", 1)))
        await store.write_tasks(fence, [TaskRecord(id="0" * 12, stack="shop", service="web", slot=1)])
        snap = await store.snapshot()
        assert (len(snap.stacks), len(snap.services), len(snap.tasks), snap.leader) == (1, 1, 1, "n7")
        assert await store.leader() == "n7"
        seen: list[str] = []

        async def consume() -> None:
            async for events in store.watch(start_revision=snap.revision + 1):
                seen.extend(e.kv.key.removeprefix(store.prefix) for e in events)
                if len(seen) == 2:
                    return
        watcher = asyncio.create_task(consume())
        await store.write_tasks(fence, [TaskRecord(id="1" * 12, stack="shop", service="web", slot=2)])  # not watched
        await store.scale("shop", "web", 3)
        await store.add_nodes([NodeRecord(name="n1", address="a")])
        await asyncio.wait_for(watcher, 5)
        assert seen == ["services/shop/web", "nodes/n1"]
        await store.etcd.put(store.node_key("bad"), b'{"name": "bad"}')
        with pytest.raises(StateError, match=f"^{store.prefix}nodes/bad: node record: missing field 'address'$"):
            await store.nodes()
        with pytest.raises(ClusterError, match="^invalid stack name 'a/b'"):
            await store.stack("a/b")
    run(etcd1, prefix, test)
