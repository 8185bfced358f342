"""`stackctl node ls|inspect`: the cluster's machines, measured over SSH in parallel."""

from __future__ import annotations

import argparse
import json
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


def _probe(inventory: Any, names: list[str] | None, timeout: float) -> list[Any]:
    import asyncio

    from stackctl.drivers.ssh import SshTransport, probe_nodes

    async def go() -> list[Any]:
        async with SshTransport(inventory.nodes, connect_timeout=timeout, retries=0) as transport:
            return await probe_nodes(transport, names=names, timeout=timeout)

    return asyncio.run(go())


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

    statuses = _probe(inventory_from_args(args), None, args.timeout)
    if args.format == "json":
        print(json.dumps([s.to_dict() for s in statuses], indent=2))
        return 0
    print(f"{'NAME':<12} {'ADDRESS':<16} {'ROLE':<8} {'STATUS':<12} {'ENGINE':<16} {'CPUS':>4} "
          f"{'MEMORY':>10} {'CONTAINERS':>10}  LABELS")
    for s in statuses:
        labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items())) or "-"
        print(f"{s.name:<12} {s.address:<16} {s.role:<8} {s.status:<12} {s.engine_version or '-':<16} "
              f"{s.cpus if s.cpus is not None else '-':>4} {_human_bytes(s.memory):>10} "
              f"{s.containers if s.containers is not None else '-':>10}  {labels}")
    return 0


def _inspect(args: argparse.Namespace) -> int:
    from stackctl.cli.cluster import inventory_from_args

    inventory = inventory_from_args(args)
    inventory.node(args.node)  # unknown name: a clear error before any connection
    (status,) = _probe(inventory, [args.node], args.timeout)
    print(json.dumps(status.to_dict(), indent=2))
    return 0
