"""`stackctl node ls|inspect|update`: the cluster's machines, measured over SSH in parallel.

`ls` and `inspect` add the cluster state's fields (availability, the leader's view, tasks, the labels
that placement constraints see) when a manager's etcd answers; without one (no `cluster init` yet)
they show what SSH measured, with a warning. `update` changes availability and labels in the cluster
state (the inventory file is not touched).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from stackctl.cli.cluster import add_cluster_flag


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("node", help="the cluster's machines")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    v = verbs.add_parser("ls", help="every node: reachability, engine, CPUs, memory, role, labels")
    v.add_argument("--format", choices=["table", "json"], default="table")
    v.add_argument("--timeout", type=float, default=5.0, help="seconds per node (default 5)")
    add_cluster_flag(v)
    v.set_defaults(func=_ls)
    v = verbs.add_parser("inspect", help="one node in detail (JSON)")
    v.add_argument("node")
    v.add_argument("--timeout", type=float, default=5.0, help="seconds (default 5)")
    add_cluster_flag(v)
    v.set_defaults(func=_inspect)
    v = verbs.add_parser("update", help="set a node's availability or labels in the cluster state")
    v.add_argument("node")
    v.add_argument("--availability", choices=["active", "pause", "drain"],
                   help="active: takes tasks; pause: takes no new ones; drain: its tasks move away")
    v.add_argument("--label-add", action="append", default=[], metavar="KEY=VALUE", help="add or change a label")
    v.add_argument("--label-rm", action="append", default=[], metavar="KEY", help="remove a label")
    add_cluster_flag(v)
    v.set_defaults(func=_update)


def _probe(inventory: Any, names: list[str] | None, timeout: float) -> tuple[list[Any], dict[str, Any]]:
    """What SSH measures of each node, and the cluster state's fields of each (empty without a state)."""
    import asyncio

    from stackctl.drivers.ssh import SshTransport, probe_nodes

    async def go() -> tuple[list[Any], dict[str, Any]]:
        async with SshTransport(inventory.nodes, connect_timeout=timeout, retries=0) as transport:
            statuses, fields = await asyncio.gather(probe_nodes(transport, names=names, timeout=timeout),
                                                    _cluster_fields(inventory, transport, timeout))
            return list(statuses), fields

    return asyncio.run(go())


async def _cluster_fields(inventory: Any, transport: Any, timeout: float) -> dict[str, Any]:
    import asyncio

    from stackctl.cluster.client import ClusterClient
    from stackctl.cluster.views import node_fields
    from stackctl.errors import ClusterError, printable

    try:
        async with ClusterClient.open(inventory, transport=transport, etcd_timeout=timeout) as cc:
            records, leader, tasks = await asyncio.gather(cc.store.nodes(), cc.store.leader(), cc.store.tasks())
    except ClusterError as exc:
        print(f"stackctl: warning: no cluster state: {printable(str(exc))}", file=sys.stderr)
        return {}
    by_name = {r.name: r for r in records}
    return {n.name: node_fields(by_name.get(n.name), leader=leader, tasks=tasks) for n in inventory.nodes}


def _human_bytes(n: int | None) -> str:
    if n is None:
        return "-"
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n = n / 1024  # type: ignore[assignment]
    return "-"  # pragma: no cover


def _ls(args: argparse.Namespace) -> int:
    from stackctl.cli.cluster import inventory_from_args
    from stackctl.errors import printable

    statuses, fields = _probe(inventory_from_args(args), None, args.timeout)
    if args.format == "json":
        print(json.dumps([{**s.to_dict(), **fields.get(s.name, {})} for s in statuses], indent=2))
        return 0
    rows = [["NAME", "ADDRESS", "ROLE", "STATUS", "ENGINE", "CPUS", "MEMORY", "CONTAINERS", "AVAILABILITY",
             "MANAGER STATUS", "TASKS", "LABELS"]]
    for s in statuses:
        f = fields.get(s.name, {})
        labels = f.get("cluster_labels") if f.get("cluster_labels") is not None else s.labels
        rows.append([s.name, s.address, s.role, s.status, s.engine_version or "-",
                     str(s.cpus if s.cpus is not None else "-"), _human_bytes(s.memory),
                     str(s.containers if s.containers is not None else "-"), f.get("availability") or "-",
                     f.get("manager_status") or "", str(f["tasks"]) if f.get("tasks") is not None else "-",
                     ",".join(f"{k}={v}" for k, v in sorted(labels.items())) or "-"])
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    for r in rows:
        print(printable("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1]))
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from stackctl.cli.cluster import inventory_from_args

    inventory = inventory_from_args(args)
    inventory.node(args.node)  # unknown name: a clear error before any connection
    (status,), fields = _probe(inventory, [args.node], args.timeout)
    print(json.dumps({**status.to_dict(), **fields.get(args.node, {})}, indent=2))
    return 0


def _labels(adds: list[str]) -> dict[str, str]:
    from stackctl.errors import UsageError

    out = {}
    for item in adds:
        key, sep, value = item.partition("=")
        if not key:
            raise UsageError(f"invalid label {item!r}: expected KEY=VALUE")
        out[key] = value if sep else ""
    return out


def _update(args: argparse.Namespace) -> int:
    from stackctl.cli._swarm import with_cluster
    from stackctl.cli.cluster import inventory_from_args
    from stackctl.errors import UsageError

    if not (args.availability or args.label_add or args.label_rm):
        raise UsageError("node update: nothing to change (--availability, --label-add or --label-rm)")
    inventory_from_args(args).node(args.node)
    adds = _labels(args.label_add)

    async def work(cc: Any) -> None:
        await cc.store.update_node(args.node, availability=args.availability, labels_add=adds,
                                   labels_rm=tuple(args.label_rm))

    with_cluster(args, work)
    print(args.node)
    return 0
