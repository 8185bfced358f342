"""The cluster state in etcd: the key layout of the contract, reads, the user's intent, the leader's writes.

Keys under ``P = /stackctl/<cluster>/``: ``election`` (the leader key is ``election/<lease hex>``),
``stacks/<stack>``, ``services/<stack>/<service>``, ``tasks/<stack>/<service>/<slot or node>/<task id>``,
``nodes/<node>``, ``agents/<node>`` (on the agent's lease).

User intent (the CLI) is written with compare-and-swap on each key's mod revision, so two deploys never
interleave (the last one wins whole); the leader's writes are fenced: each transaction also compares the
leader key's create revision, and when that compare fails the write raises :class:`Deposed`.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

from stackctl.cluster.etcd import KV, Compare, Etcd, Event, Op, TxnResult
from stackctl.cluster.state import (
    AVAILABILITIES,
    AgentRecord,
    Availability,
    NodeRecord,
    ServiceRecord,
    StackRecord,
    TaskRecord,
    valid_name,
)
from stackctl.errors import ClusterError, Deposed, StateError

# etcd refuses a transaction of more than 128 operations (--max-txn-ops) or 1.5 MiB (--max-request-bytes)
MAX_TXN_OPS = 120
MAX_TXN_BYTES = 1024 * 1024
_RETRIES = 5
R = TypeVar("R", StackRecord, ServiceRecord, TaskRecord, NodeRecord, AgentRecord)


def _now(now: float | None) -> float:
    return time.time() if now is None else now


def _name(kind: str, name: str) -> str:
    if not valid_name(name):
        raise ClusterError(f"invalid {kind} name {name!r}: it must not contain '/' or control characters")
    return name


@dataclass(frozen=True)
class Snapshot:
    """Everything under the prefix, read at one revision (watch from ``revision + 1`` to miss nothing)."""

    revision: int
    stacks: list[StackRecord] = field(default_factory=list)
    services: list[ServiceRecord] = field(default_factory=list)
    tasks: list[TaskRecord] = field(default_factory=list)
    nodes: list[NodeRecord] = field(default_factory=list)
    agents: list[AgentRecord] = field(default_factory=list)
    leader: str | None = None
    leader_revision: int = 0  # the create revision of the leader key (0: no leader)


class Store:
    def __init__(self, etcd: Etcd, cluster: str) -> None:
        self.etcd = etcd
        self.cluster = _name("cluster", cluster)
        self.prefix = f"/stackctl/{cluster}/"

    # -- keys ------------------------------------------------------------------------------------
    @property
    def election(self) -> str:
        return self.prefix + "election"

    def stack_key(self, stack: str) -> str:
        return f"{self.prefix}stacks/{_name('stack', stack)}"

    def service_key(self, stack: str, service: str) -> str:
        return f"{self.prefix}services/{_name('stack', stack)}/{_name('service', service)}"

    def task_key(self, task: TaskRecord) -> str:
        where = task.node if task.slot == 0 and task.node else str(task.slot)
        return f"{self.prefix}tasks/{_name('stack', task.stack)}/{_name('service', task.service)}/{where}/{task.id}"

    def node_key(self, node: str) -> str:
        return f"{self.prefix}nodes/{_name('node', node)}"

    def agent_key(self, node: str) -> str:
        return f"{self.prefix}agents/{_name('node', node)}"

    # -- reads -----------------------------------------------------------------------------------
    async def _records(self, prefix: str, parse: type[R]) -> list[R]:
        return [_parse(kv, parse) for kv in await self.etcd.range(prefix)]

    async def stacks(self) -> list[StackRecord]:
        return await self._records(self.prefix + "stacks/", StackRecord)

    async def stack(self, name: str) -> StackRecord | None:
        kv = await self.etcd.get(self.stack_key(name))
        return _parse(kv, StackRecord) if kv else None

    async def services(self, stack: str | None = None) -> list[ServiceRecord]:
        under = f"{_name('stack', stack)}/" if stack is not None else ""
        return await self._records(f"{self.prefix}services/{under}", ServiceRecord)

    async def tasks(self, stack: str | None = None, service: str | None = None) -> list[TaskRecord]:
        under = f"{_name('stack', stack)}/" if stack is not None else ""
        if stack is not None and service is not None:
            under += f"{_name('service', service)}/"
        tasks = await self._records(f"{self.prefix}tasks/{under}", TaskRecord)
        return tasks if service is None or stack is not None else [t for t in tasks if t.service == service]

    async def nodes(self) -> list[NodeRecord]:
        return await self._records(self.prefix + "nodes/", NodeRecord)

    async def agents(self) -> list[AgentRecord]:
        return await self._records(self.prefix + "agents/", AgentRecord)

    async def leader(self) -> str | None:
        """The node name of the current leader."""
        kv = await self.etcd.leader(self.election)
        return kv.value.decode("utf-8", "replace") if kv else None

    async def snapshot(self, *, serializable: bool = False) -> Snapshot:
        """The whole state in one read (the leader's full pass); ``serializable``: the answering member's
        own copy, read without a raft leader too (``cluster status``)."""
        revision, kvs = await self.etcd.range_at(self.prefix, serializable=serializable)
        kinds: dict[str, list[KV]] = {}
        for kv in kvs:
            kinds.setdefault(kv.key[len(self.prefix):].split("/", 1)[0], []).append(kv)
        election = sorted(kinds.get("election", []), key=lambda kv: kv.create_revision)
        return Snapshot(revision=revision,
                        stacks=[_parse(kv, StackRecord) for kv in kinds.get("stacks", [])],
                        services=[_parse(kv, ServiceRecord) for kv in kinds.get("services", [])],
                        tasks=[_parse(kv, TaskRecord) for kv in kinds.get("tasks", [])],
                        nodes=[_parse(kv, NodeRecord) for kv in kinds.get("nodes", [])],
                        agents=[_parse(kv, AgentRecord) for kv in kinds.get("agents", [])],
                        leader=election[0].value.decode("utf-8", "replace") if election else None,
                        leader_revision=election[0].create_revision if election else 0)

    async def watch(self, *, start_revision: int = 0,
                    kinds: Iterable[str] = ("stacks", "services", "nodes")) -> AsyncIterator[list[Event]]:
        """Changes under the given kinds of keys (default: the user's intent, which wakes the leader)."""
        wanted = tuple(f"{self.prefix}{kind}/" for kind in kinds)
        async for events in self.etcd.watch(self.prefix, start_revision=start_revision):
            mine = [e for e in events if e.kv.key.startswith(wanted)]
            if mine:
                yield mine

    # -- user intent (compare-and-swap, no fence) -------------------------------------------------
    async def put_stack(self, stack: StackRecord, services: Sequence[ServiceRecord], *,
                        now: float | None = None) -> bool:
        """Writes the stack and its services in one transaction, removing services no longer in it.
        Versions are the store's: a record whose content did not change keeps its version (and is not
        written), a changed one gets the stored version + 1. Returns whether anything changed."""
        at = _now(now)
        stack_key = self.stack_key(stack.name)
        services_prefix = f"{self.prefix}services/{stack.name}/"
        for service in services:
            if service.stack != stack.name:
                raise ClusterError(f"service {service.service} belongs to stack {service.stack}, not {stack.name}")
        for _ in range(_RETRIES):
            read = await self.etcd.txn([], [Op.get(stack_key), Op.get(services_prefix, prefix=True)])
            old_kvs = {kv.key: kv for kv in read.responses[1].kvs}
            compare = [_unchanged(stack_key, read.responses[0].kvs)]
            ops = _stack_ops(stack_key, stack, read.responses[0].kvs, at)
            for service in services:
                key = self.service_key(stack.name, service.service)
                old = old_kvs.pop(key, None)
                compare.append(_unchanged(key, (old,) if old else ()))
                ops += _service_ops(key, service, old, at)
            for key, kv in old_kvs.items():  # services no longer in the stack
                compare.append(Compare.mod_revision(key, kv.mod_revision))
                ops.append(Op.delete(key))
            if not ops:
                return False
            if (await self.etcd.txn(compare, ops)).succeeded:
                return True
        raise ClusterError(f"stack {stack.name} keeps being changed by another deploy; try again")

    async def remove_stack(self, name: str) -> bool:
        """Removes the stack and its services (the leader then removes its tasks). False: no such stack."""
        key = self.stack_key(name)
        result = await self.etcd.txn([Compare.version(key, 0, ">")],
                                     [Op.delete(key), Op.delete(f"{self.prefix}services/{name}/", prefix=True)])
        return result.succeeded

    async def scale(self, stack: str, service: str, replicas: int, *, now: float | None = None) -> ServiceRecord:
        if replicas < 0:
            raise ClusterError(f"invalid replicas value for {stack}_{service}: {replicas}")
        key = self.service_key(stack, service)

        def change(record: ServiceRecord) -> ServiceRecord:
            if record.mode != "replicated":
                raise ClusterError(f"scale can only be used with replicated mode ({stack}_{service} is global)")
            if record.replicas == replicas:
                return record
            return dataclasses.replace(record, replicas=replicas, version=record.version + 1, updated=_now(now))
        return await self._update(key, ServiceRecord, change, f"service {stack}_{service} not found")

    async def update_node(self, name: str, *, availability: Availability | None = None,
                          labels_add: Mapping[str, str] | None = None, labels_rm: Iterable[str] = ()) -> NodeRecord:
        if availability is not None and availability not in AVAILABILITIES:
            raise ClusterError(f"invalid availability {availability!r}: expected active, pause or drain")
        removed = set(labels_rm)

        def change(record: NodeRecord) -> NodeRecord:
            labels = {k: v for k, v in record.labels.items() if k not in removed} | dict(labels_add or {})
            return dataclasses.replace(record, availability=availability or record.availability, labels=labels)
        return await self._update(self.node_key(name), NodeRecord, change, f"node {name} not found")

    async def add_nodes(self, nodes: Sequence[NodeRecord]) -> list[str]:
        """Adds the nodes that are not in the state yet (``cluster init``); the names added."""
        for _ in range(_RETRIES):
            known = {record.name for record in await self.nodes()}
            new = [node for node in nodes if node.name not in known]
            if not new:
                return []
            result = await self.etcd.txn([Compare.version(self.node_key(n.name), 0) for n in new],
                                         [Op.put(self.node_key(n.name), n.to_json()) for n in new])
            if result.succeeded:
                return [n.name for n in new]
        raise ClusterError("the nodes keep being changed meanwhile; try again")

    async def register_agent(self, agent: AgentRecord, *, lease: int) -> None:
        """The agent's record, attached to its lease (it goes when the agent does)."""
        await self.etcd.put(self.agent_key(agent.node), agent.to_json(), lease=lease)

    async def _update(self, key: str, parse: type[R], change: Callable[[R], R], missing: str) -> R:
        for _ in range(_RETRIES):
            kv = await self.etcd.get(key)
            if kv is None:
                raise ClusterError(missing)
            old = _parse(kv, parse)
            new = change(old)
            if new == old:
                return old
            if (await self.etcd.txn([Compare.mod_revision(key, kv.mod_revision)], [Op.put(key, new.to_json())])).succeeded:
                return new
        raise ClusterError(f"{key} keeps being changed meanwhile; try again")

    # -- leader writes (fenced) ------------------------------------------------------------------
    async def write_tasks(self, fence: Sequence[Compare], put: Sequence[TaskRecord],
                          delete: Sequence[TaskRecord] = ()) -> None:
        """Puts and deletes task records, each transaction guarded by ``fence``; raises :class:`Deposed`
        when the fence fails. More than 120 operations (etcd's transaction limit) go in several
        transactions, each fenced, in order: a deposed leader's write stops at the first refused one."""
        ops = [Op.put(self.task_key(task), task.to_json()) for task in put]
        ops += [Op.delete(self.task_key(task)) for task in delete]
        for batch in _batches(ops):
            await self._fenced(fence, [], batch)

    async def write_nodes(self, fence: Sequence[Compare], nodes: Sequence[NodeRecord]) -> None:
        """The leader's view of nodes (state, message, last seen, capacity, engine version); what the user
        set (availability, labels) is kept from the stored record, compared by mod revision."""
        for _ in range(_RETRIES):
            stored = {kv.key: kv for kv in await self.etcd.range(self.prefix + "nodes/")}
            compare: list[Compare] = []
            ops: list[Op] = []
            for node in nodes:
                key = self.node_key(node.name)
                kv = stored.get(key)
                if kv is None:
                    compare.append(Compare.version(key, 0))
                    ops.append(Op.put(key, node.to_json()))
                    continue
                old = _parse(kv, NodeRecord)
                merged = dataclasses.replace(node, availability=old.availability, labels=old.labels)
                compare.append(Compare.mod_revision(key, kv.mod_revision))
                if merged != old:
                    ops.append(Op.put(key, merged.to_json()))
            if not ops or await self._fenced(fence, compare, ops):
                return
        raise ClusterError("the nodes keep being changed meanwhile; try again")

    async def write_services(self, fence: Sequence[Compare], services: Sequence[ServiceRecord],
                             stacks: Sequence[StackRecord] = (), *, revision: int) -> bool:
        """The leader's update statuses (and, on a rollback, the stack and service put back on their previous
        spec), fenced, and only if none of these keys changed after ``revision`` (the snapshot the leader
        decided on: a deploy meanwhile wins, the next pass decides again). False when they had changed."""
        keys = [self.stack_key(s.name) for s in stacks] + [self.service_key(s.stack, s.service) for s in services]
        ops = [Op.put(self.stack_key(s.name), s.to_json()) for s in stacks]
        ops += [Op.put(self.service_key(s.stack, s.service), s.to_json()) for s in services]
        if not ops:
            return True
        return await self._fenced(fence, [Compare.mod_revision(k, revision + 1, "<") for k in keys], ops)

    async def rollback(self, stack: str, service: str, change: Callable[[StackRecord, ServiceRecord],
                                                                       tuple[StackRecord, ServiceRecord]]) -> ServiceRecord:
        """``service rollback``: ``change`` makes the previous spec current; compare-and-swap on both keys."""
        skey, vkey = self.stack_key(stack), self.service_key(stack, service)
        for _ in range(_RETRIES):
            read = await self.etcd.txn([], [Op.get(skey), Op.get(vkey)])
            if not read.responses[0].kvs or not read.responses[1].kvs:
                raise ClusterError(f"service {stack}_{service} not found")
            skv, vkv = read.responses[0].kvs[0], read.responses[1].kvs[0]
            new_stack, new_svc = change(_parse(skv, StackRecord), _parse(vkv, ServiceRecord))
            ok = await self.etcd.txn([Compare.mod_revision(skey, skv.mod_revision),
                                      Compare.mod_revision(vkey, vkv.mod_revision)],
                                     [Op.put(skey, new_stack.to_json()), Op.put(vkey, new_svc.to_json())])
            if ok.succeeded:
                return new_svc
        raise ClusterError(f"service {stack}_{service} keeps being changed meanwhile; try again")

    async def _fenced(self, fence: Sequence[Compare], compare: list[Compare], ops: list[Op]) -> bool:
        """One transaction guarded by ``fence`` (+ ``compare``); False when only ``compare`` failed."""
        result = await self.etcd.txn([*fence, *compare], ops, [Op.get(c.key) for c in fence])
        if result.succeeded:
            return True
        if not _fence_holds(fence, result):
            raise Deposed("this agent is no longer the leader: its write was refused")
        return False


def _parse(kv: KV, parse: type[R]) -> R:
    try:
        return parse.from_json(kv.value)
    except StateError as exc:
        raise StateError(f"{kv.key}: {exc}") from exc


def _unchanged(key: str, kvs: Sequence[KV]) -> Compare:
    return Compare.mod_revision(key, kvs[0].mod_revision) if kvs else Compare.version(key, 0)


def _stack_ops(key: str, stack: StackRecord, old_kvs: Sequence[KV], at: float) -> list[Op]:
    old = _parse(old_kvs[0], StackRecord) if old_kvs else None
    if old is not None and (old.document, old.images) == (stack.document, stack.images):
        return []
    record = dataclasses.replace(stack, version=old.version + 1 if old else 1,
                                 created=old.created if old else at, updated=at)
    return [Op.put(key, record.to_json())]


def _service_ops(key: str, service: ServiceRecord, old_kv: KV | None, at: float) -> list[Op]:
    old = _parse(old_kv, ServiceRecord) if old_kv else None
    if old is not None and (old.spec_hash, old.mode, old.replicas) == (service.spec_hash, service.mode,
                                                                       service.replicas):
        return []
    record = dataclasses.replace(service, version=old.version + 1 if old else 1, updated=at)
    return [Op.put(key, record.to_json())]


def _batches(ops: list[Op]) -> Iterable[list[Op]]:
    batch: list[Op] = []
    size = 0
    for op in ops:
        if batch and (len(batch) >= MAX_TXN_OPS or size + len(op.value) > MAX_TXN_BYTES):
            yield batch
            batch, size = [], 0
        batch.append(op)
        size += len(op.value) + len(op.key)
    if batch:
        yield batch


def _fence_holds(fence: Sequence[Compare], result: TxnResult) -> bool:
    for compare, response in zip(fence, result.responses, strict=False):
        kv = response.kvs[0] if response.kvs else None
        if compare.target == "CREATE" and (kv.create_revision if kv else 0) != compare.value:
            return False
    return True
