"""`stackctl stack deploy|ls|ps|services|rm`: a Compose file as a stack on the cluster (docker's verbs)."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from stackctl.cli._swarm import Progress, add_format_flag, outcome, print_rows, with_cluster
from stackctl.cli.cluster import add_cluster_flag

if TYPE_CHECKING:
    from stackctl.cluster.client import ClusterClient
    from stackctl.cluster.deploy import Prepared

DEFAULT_TIMEOUT = 120.0


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("stack", help="deploy and manage stacks on the cluster")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    v = verbs.add_parser("deploy", help="deploy a new stack or update an existing one, and wait until it runs")
    v.add_argument("-c", "--compose-file", dest="files", action="append", required=True, metavar="FILE",
                   help="compose file (repeat to merge several)")
    v.add_argument("-d", "--detach", action="store_true", help="return once the desired state is written")
    v.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                   help=f"seconds to wait for convergence (default {DEFAULT_TIMEOUT:g})")
    v.add_argument("--env-file", dest="env_files", action="append", metavar="FILE", help="alternate .env file")
    v.add_argument("name", metavar="STACK")
    add_cluster_flag(v)
    v.set_defaults(func=_deploy)
    v = verbs.add_parser("ls", help="list stacks")
    add_format_flag(v)
    add_cluster_flag(v)
    v.set_defaults(func=_ls)
    v = verbs.add_parser("ps", help="list the tasks of a stack")
    v.add_argument("name", metavar="STACK")
    v.add_argument("--no-trunc", action="store_true", help="do not truncate the error")
    v.add_argument("-q", "--quiet", action="store_true", help="only task IDs")
    add_format_flag(v)
    add_cluster_flag(v)
    v.set_defaults(func=_ps)
    v = verbs.add_parser("services", help="list the services of a stack")
    v.add_argument("name", metavar="STACK")
    v.add_argument("-q", "--quiet", action="store_true", help="only service IDs")
    add_format_flag(v)
    add_cluster_flag(v)
    v.set_defaults(func=_services)
    v = verbs.add_parser("rm", help="remove stacks (their tasks are stopped by the leader)")
    v.add_argument("names", nargs="+", metavar="STACK")
    add_cluster_flag(v)
    v.set_defaults(func=_rm)


# --- deploy -----------------------------------------------------------------------------------------

def load_for_cluster(args: argparse.Namespace) -> Prepared:
    """Load, validate and check the compose files locally (before any connection)."""
    from stackctl.cli._project import options_from_args, print_warnings
    from stackctl.cluster.deploy import check_stack_name, prepare
    from stackctl.composefile.loader import load_project

    check_stack_name(args.name)
    project = load_project(options_from_args(args, project_name=args.name))
    print_warnings(project.warnings)
    prepared = prepare(args.name, project.document, file=project.files[0] if project.files else "")
    print_warnings(prepared.warnings)
    return prepared


def _deploy(args: argparse.Namespace) -> int:
    import time

    from stackctl.cluster.deploying import deploy, wait_converged
    from stackctl.cluster.views import service_name

    prepared = load_for_cluster(args)
    started = time.time()

    async def work(cc: ClusterClient) -> None:
        result = await deploy(cc, prepared, name=args.name, now=started)
        _print_warnings(result.warnings)
        for shipped in result.shipped:
            if shipped.shipped:
                print(f"Shipped image {shipped.image} to {', '.join(shipped.shipped)}", flush=True)
        if result.changed:
            for svc in result.services:
                print(f"Deploying service {service_name(args.name, svc.service)}", flush=True)
        else:
            print(f"Stack {args.name} is up to date", flush=True)
        if args.detach:
            return
        state = await wait_converged(cc.store, args.name, since=started, timeout=args.timeout, report=Progress())
        outcome(args.name, state, timeout=args.timeout, what="deploy")

    with_cluster(args, work)
    return 0


def _print_warnings(lines: list[str]) -> None:
    from stackctl.errors import printable

    for line in lines:
        print(f"stackctl: warning: {printable(line)}", file=sys.stderr)


# --- listings ---------------------------------------------------------------------------------------

def _ls(args: argparse.Namespace) -> int:
    import asyncio

    from stackctl.cluster.views import stack_rows, stack_table

    async def work(cc: ClusterClient) -> list[dict[str, str]]:
        stacks, services = await asyncio.gather(cc.store.stacks(), cc.store.services())
        return stack_rows(stacks, services)

    print_rows(with_cluster(args, work), args.format, stack_table)
    return 0


async def _stack_records(cc: ClusterClient, name: str) -> tuple[Any, list[Any], list[Any]]:
    import asyncio

    from stackctl.errors import ClusterError

    stack, services, tasks = await asyncio.gather(cc.store.stack(name), cc.store.services(name),
                                                  cc.store.tasks(name))
    if stack is None:
        raise ClusterError(f"nothing found in stack: {name}")
    return stack, services, tasks


def _ps(args: argparse.Namespace) -> int:
    import time

    from stackctl.cluster.views import task_rows, task_table

    async def work(cc: ClusterClient) -> list[dict[str, str]]:
        stack, _, tasks = await _stack_records(cc, args.name)
        return task_rows(tasks, [stack], now=time.time(), trunc=not args.no_trunc)

    rows = with_cluster(args, work)
    if args.quiet:
        print("".join(r["ID"] + "\n" for r in rows), end="")
        return 0
    print_rows(rows, args.format, task_table)
    return 0


def _services(args: argparse.Namespace) -> int:
    from stackctl.cluster.views import service_rows, service_table

    async def work(cc: ClusterClient) -> list[dict[str, str]]:
        stack, services, tasks = await _stack_records(cc, args.name)
        return service_rows([stack], services, tasks)

    rows = with_cluster(args, work)
    if args.quiet:
        print("".join(r["ID"] + "\n" for r in rows), end="")
        return 0
    print_rows(rows, args.format, service_table)
    return 0


def _rm(args: argparse.Namespace) -> int:
    from stackctl.cluster.views import service_name
    from stackctl.errors import printable

    async def work(cc: ClusterClient) -> int:
        for name in args.names:
            stack, services = await cc.store.stack(name), await cc.store.services(name)
            if stack is None:
                print(f"Nothing found in stack: {printable(name)}", file=sys.stderr)
                continue
            for svc in sorted(services, key=lambda s: s.service):
                print(f"Removing service {service_name(name, svc.service)}")
            await cc.store.remove_stack(name)
        return 0

    return with_cluster(args, work)
