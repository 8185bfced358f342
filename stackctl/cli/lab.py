"""`stackctl lab …`: a multi-node cluster on this Linux machine (namespaced nodes with sshd + dockerd).

Environment: ``STACKCTL_LAB_ROOT`` (default /var/lib/stackctl-lab) holds the labs' files,
``STACKCTL_LAB_RUN`` (default /run/stackctl/lab) their persistent namespaces; named clusters go to
``STACKCTL_HOME`` like ``stackctl cluster``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

DEFAULT_NAME = "lab"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("lab", help="a multi-node cluster on this machine (Linux, root)")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])
    verbs = p.add_subparsers(dest="verb", metavar="VERB")

    def verb(name: str, func: Any, help: str) -> argparse.ArgumentParser:
        v: argparse.ArgumentParser = verbs.add_parser(name, help=help)
        v.add_argument("--name", default=DEFAULT_NAME, help=f"lab name (default {DEFAULT_NAME})")
        v.set_defaults(func=func)
        return v

    v = verb("up", _up, "create the lab's nodes (harmless when it is already up)")
    v.add_argument("--nodes", type=int, default=3, help="number of nodes (default 3)")
    v.add_argument("--managers", type=int, default=1, help="nodes with the manager role in the inventory "
                   "(`cluster init` runs etcd and the agent there; default 1)")
    v.add_argument("--subnet", help="private IPv4 /24 for the nodes (default derived from the name)")
    v.add_argument("--timeout", type=float, default=60, help="seconds to wait for the nodes")
    verb("down", _down, "remove everything the lab made")
    verb("status", _status, "state of each node").add_argument("--format", choices=["table", "json"],
                                                             default="table")
    verbs.add_parser("ls", help="list labs").set_defaults(func=_ls)
    v = verb("ssh", _ssh, "open a shell (or run CMD) on a node over SSH")
    v.add_argument("node")
    v.add_argument("cmd", nargs=argparse.REMAINDER)
    verb("stop", _stop, "kill a node: sshd, engine, containers, etcd, agent").add_argument("node")
    verb("start", _start, "start a stopped node again").add_argument("node")
    verb("partition", _partition, "cut a node off the lab network").add_argument("node")
    verb("heal", _heal, "reconnect every partitioned node")
    v = verb("load", _load, "load local images into the nodes' engines")
    v.add_argument("images", nargs="+", metavar="IMAGE")
    v.add_argument("--node", dest="nodes", action="append", default=[], help="only this node (repeatable)")


def _roots() -> Any:
    import os
    import pathlib
    import sys

    from stackctl.cli.cluster import store_from_env
    from stackctl.lab.lab import Roots, check_host

    check_host(platform=sys.platform, euid=os.geteuid() if hasattr(os, "geteuid") else -1)
    return Roots(state=pathlib.Path(os.environ.get("STACKCTL_LAB_ROOT", "/var/lib/stackctl-lab")),
                 run=pathlib.Path(os.environ.get("STACKCTL_LAB_RUN", "/run/stackctl/lab")),
                 clusters=store_from_env())


def _layout(args: argparse.Namespace) -> Any:
    from stackctl.lab import lab

    return lab.load(args.name, _roots())


def _up(args: argparse.Namespace) -> int:
    from stackctl.lab import lab

    result = lab.up(name=args.name, nodes=args.nodes, managers=args.managers, subnet=args.subnet,
                    roots=_roots(), timeout=args.timeout)
    layout = result.layout
    verb = "created" if result.created else "already up"
    print(f"lab {layout.name}: {len(layout.nodes)} nodes {verb} in {result.seconds:.1f} s "
          f"(subnet {layout.subnet}, bridge {layout.bridge})")
    for node in layout.nodes:
        print(f"  {node.name:<8} {node.address:<15} {node.role}")
    print(f"inventory: {layout.inventory_file} (current cluster: {layout.name})")
    return 0


def _down(args: argparse.Namespace) -> int:
    from stackctl.lab import lab

    lab.down(name=args.name, roots=_roots())
    print(f"lab {args.name}: removed")
    return 0


def _status(args: argparse.Namespace) -> int:
    from stackctl.lab import lab

    rows = lab.status(_layout(args))
    if args.format == "json":
        print(json.dumps(rows, indent=2))
        return 0
    print(f"{'NODE':<8} {'ADDRESS':<15} {'ROLE':<8} {'SSHD':<5} {'ENGINE':<7} {'ETCD':<5} {'AGENT':<5} NETWORK")

    def mark(v: object) -> str:
        return "-" if v is None else ("up" if v else "down")

    for r in rows:
        print(f"{r['name']:<8} {r['address']:<15} {r['role']:<8} {mark(r['sshd']):<5} "
              f"{mark(r['engine']):<7} {mark(r['etcd']):<5} {mark(r['agent']):<5} "
              f"{'partitioned' if r['partitioned'] else 'ok'}")
    return 0 if all(r["sshd"] and r["engine"] for r in rows) else 3


def _ls(args: argparse.Namespace) -> int:
    from stackctl.lab import lab

    roots = _roots()
    for name in lab.names(roots):
        layout = lab.load(name, roots)
        print(f"{name:<10} {len(layout.nodes)} nodes  {layout.subnet:<16} {layout.inventory_file}")
    return 0


def _ssh(args: argparse.Namespace) -> int:
    import os

    from stackctl.lab import lab

    argv = lab.ssh_argv(_layout(args), args.node, args.cmd)
    os.execvp(argv[0], argv)
    return 127  # pragma: no cover


def _stop(args: argparse.Namespace) -> int:
    from stackctl.lab import lab

    lab.stop_node(_layout(args), args.node)
    print(f"lab {args.name}: {args.node} stopped")
    return 0


def _start(args: argparse.Namespace) -> int:
    from stackctl.lab import lab

    lab.start_node(_layout(args), args.node)
    print(f"lab {args.name}: {args.node} started")
    return 0


def _partition(args: argparse.Namespace) -> int:
    from stackctl.lab import lab

    lab.partition(_layout(args), args.node)
    print(f"lab {args.name}: {args.node} partitioned")
    return 0


def _heal(args: argparse.Namespace) -> int:
    from stackctl.lab import lab

    lab.heal(_layout(args))
    print(f"lab {args.name}: network healed")
    return 0


def _load(args: argparse.Namespace) -> int:
    from stackctl.lab import lab

    layout = _layout(args)
    lab.load_images(layout, args.images, nodes=args.nodes)
    print(f"lab {args.name}: loaded {' '.join(args.images)} into "
          f"{', '.join(args.nodes) if args.nodes else 'every node'}")
    return 0
