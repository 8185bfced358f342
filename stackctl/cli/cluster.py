"""`stackctl cluster …`: named clusters (inventories), like docker contexts.

Also the helpers every cluster-facing command uses to find its inventory: ``--cluster FILE`` >
``$STACKCTL_CLUSTER`` (file or name) > the current cluster.
"""

from __future__ import annotations

import argparse
import json
from typing import Any


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("cluster", help="named clusters (inventories) and the current one")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    v = verbs.add_parser("ls", help="list named clusters (* marks the current one)")
    v.add_argument("--format", choices=["table", "json"], default="table")
    v.set_defaults(func=_ls)
    v = verbs.add_parser("use", help="make a named cluster the current one")
    v.add_argument("name")
    v.set_defaults(func=_use)
    v = verbs.add_parser("add", help="name an inventory file")
    v.add_argument("name")
    v.add_argument("inventory", metavar="FILE")
    v.add_argument("--use", action="store_true", help="also make it the current cluster")
    v.set_defaults(func=_add)
    v = verbs.add_parser("rm", help="forget a named cluster (the inventory file stays)")
    v.add_argument("name")
    v.set_defaults(func=_rm)
    v = verbs.add_parser("show", help="print the resolved inventory")
    add_cluster_flag(v)
    v.set_defaults(func=_show)
    v = verbs.add_parser("init", help="make the inventory's nodes a cluster: stackctl, etcd (TLS peers), "
                                      "the cluster SSH key and the agent on the managers (safe to run again)")
    v.add_argument("--vip-range", metavar="CIDR", default="10.240.0.0/16",
                   help="private range the services' virtual IPs come from (default 10.240.0.0/16; it must not "
                        "overlap the nodes' or their engines' networks)")
    add_cluster_flag(v)
    v.set_defaults(func=_init)
    v = verbs.add_parser("status", help="etcd members, the leader, the agents and the nodes; exit 0 healthy, "
                                        "3 degraded")
    v.add_argument("--format", choices=["table", "json"], default="table")
    add_cluster_flag(v)
    v.set_defaults(func=_status)


def add_cluster_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cluster", metavar="FILE",
                        help="inventory file (default: $STACKCTL_CLUSTER, else the current cluster)")


def store_from_env() -> Any:
    import os
    import pathlib

    from stackctl.cluster.inventory import ClusterStore, default_home

    return ClusterStore(default_home(os.environ, pathlib.Path.home()))


def inventory_from_args(args: argparse.Namespace) -> Any:
    """The Inventory a cluster command works on."""
    import os

    from stackctl.cluster.inventory import load_inventory, resolve_inventory_path

    path = resolve_inventory_path(flag=getattr(args, "cluster", None), env=os.environ,
                                  store=store_from_env())
    return load_inventory(path)


def _ls(args: argparse.Namespace) -> int:
    entries = store_from_env().entries()
    if args.format == "json":
        print(json.dumps([{"name": e.name, "inventory": str(e.inventory), "current": e.current}
                          for e in entries], indent=2))
        return 0
    print(f"  {'NAME':<16} INVENTORY")
    for e in entries:
        print(f"{'*' if e.current else ' '} {e.name:<16} {e.inventory}")
    return 0


def _use(args: argparse.Namespace) -> int:
    store_from_env().use(args.name)
    print(f"current cluster: {args.name}")
    return 0


def _add(args: argparse.Namespace) -> int:
    import pathlib

    from stackctl.cluster.inventory import load_inventory

    path = pathlib.Path(args.inventory)
    load_inventory(path)  # refuse a broken inventory now, not at first use
    store_from_env().register(args.name, path, make_current=args.use)
    print(f"cluster {args.name}: {path.resolve()}")
    return 0


def _rm(args: argparse.Namespace) -> int:
    store = store_from_env()
    store.inventory_of(args.name)
    store.remove(args.name)
    print(f"cluster {args.name}: removed")
    return 0


def _show(args: argparse.Namespace) -> int:
    inv = inventory_from_args(args)
    print(json.dumps({"name": inv.name, "file": inv.file, "etcd": list(inv.etcd_endpoints),
                      "nodes": [{"name": n.name, "address": n.address, "role": n.role,
                                 "labels": dict(n.labels), "user": n.ssh.user, "port": n.ssh.port}
                                for n in inv.nodes]}, indent=2))
    return 0


def _init(args: argparse.Namespace) -> int:
    import asyncio
    import datetime
    import sys

    from stackctl.cluster.setup import init_cluster

    inv = inventory_from_args(args)
    managers = len(inv.managers)
    print(f"cluster {inv.name}: {len(inv.nodes)} nodes, {managers} manager{'s' if managers != 1 else ''}",
          flush=True)

    def log(line: str) -> None:
        print(f"  {line}", file=sys.stderr, flush=True)

    report = asyncio.run(init_cluster(inv, now=datetime.datetime.now(datetime.UTC), log=log,
                                     vip_range=args.vip_range))
    for node, changes in sorted(report.changes.items()):
        wrote = [c for c in changes if c.startswith("wrote ")]
        said = [c for c in changes if not c.startswith("wrote ")]
        if wrote:
            said.insert(1 if said and said[0].startswith("installed") else 0,
                        f"wrote {len(wrote)} file{'s' if len(wrote) != 1 else ''}")
        print(f"  {node}: {'; '.join(said)}")
    for note in report.notes:
        print(f"  note: {note}")
    members = f"etcd {len(report.members)} member{'s' if len(report.members) != 1 else ''} healthy"
    if report.changed:
        print(f"cluster {inv.name}: ready ({members}, agent on {managers} manager{'s' if managers != 1 else ''}) "
              f"in {report.seconds:.1f} s")
    else:
        print(f"cluster {inv.name}: nothing changed ({members}, agents running) in {report.seconds:.1f} s")
    return 0


def _status(args: argparse.Namespace) -> int:
    import asyncio
    import sys
    import time

    from stackctl.cluster.client import ClusterClient
    from stackctl.cluster.status import text
    from stackctl.cluster.status_read import read_status
    from stackctl.errors import printable

    inventory = inventory_from_args(args)

    async def go() -> dict[str, Any]:
        async with ClusterClient.open(inventory, need_leader=False) as cc:
            return await read_status(cc, now=time.time())

    doc = asyncio.run(go())
    if args.format == "json":
        print(json.dumps(doc, indent=2))
    else:
        sys.stdout.write("".join(printable(line) + "\n" for line in text(doc).splitlines()))
    return 0 if doc["healthy"] else 3
