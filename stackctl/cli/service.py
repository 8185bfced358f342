"""`stackctl service ls|ps|inspect|scale|logs`: the services of the cluster's stacks (docker's verbs).

A service is named as docker names it, ``<stack>_<service>`` (or by a unique prefix of its ID).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from stackctl.cli._swarm import Progress, add_format_flag, add_wait_flags, outcome, print_rows, with_cluster
from stackctl.cli.cluster import add_cluster_flag

if TYPE_CHECKING:
    from stackctl.cluster.client import ClusterClient
    from stackctl.cluster.state import ServiceRecord


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("service", help="the services of the cluster's stacks")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    v = verbs.add_parser("ls", help="list services")
    v.add_argument("-q", "--quiet", action="store_true", help="only service IDs")
    add_format_flag(v)
    add_cluster_flag(v)
    v.set_defaults(func=_ls)
    v = verbs.add_parser("ps", help="list the tasks of services (where they run, and why not)")
    v.add_argument("services", nargs="+", metavar="SERVICE")
    v.add_argument("--no-trunc", action="store_true", help="do not truncate the error")
    v.add_argument("-q", "--quiet", action="store_true", help="only task IDs")
    add_format_flag(v)
    add_cluster_flag(v)
    v.set_defaults(func=_ps)
    v = verbs.add_parser("inspect", help="services in detail (JSON)")
    v.add_argument("services", nargs="+", metavar="SERVICE")
    add_cluster_flag(v)
    v.set_defaults(func=_inspect)
    v = verbs.add_parser("rollback", help="put a service back on its previous spec (as swarm does) and wait")
    v.add_argument("service", metavar="SERVICE")
    add_wait_flags(v, written="the rollback")
    add_cluster_flag(v)
    v.set_defaults(func=_rollback)
    v = verbs.add_parser("scale", help="set the replicas of services (SERVICE=N …) and wait until they run")
    v.add_argument("pairs", nargs="+", metavar="SERVICE=REPLICAS")
    add_wait_flags(v, written="the new count")
    add_cluster_flag(v)
    v.set_defaults(func=_scale)
    v = verbs.add_parser("logs", help="the logs of every task of a service, on every node")
    v.add_argument("service", metavar="SERVICE")
    v.add_argument("-f", "--follow", action="store_true", help="follow the output")
    v.add_argument("-n", "--tail", metavar="N", help="lines from the end of each task's log (default all)")
    v.add_argument("-t", "--timestamps", action="store_true", help="show timestamps")
    v.add_argument("--no-task-ids", action="store_true", help="accepted for docker compatibility (IDs are not shown)")
    add_cluster_flag(v)
    v.set_defaults(func=_logs)


def _find(services: list[ServiceRecord], name: str) -> ServiceRecord:
    from stackctl.cluster.views import find_service
    from stackctl.errors import ClusterError

    found = find_service(services, name)
    if found is None:
        raise ClusterError(f"no such service: {name}")
    return found


def _ls(args: argparse.Namespace) -> int:
    import asyncio

    from stackctl.cluster.views import service_rows, service_table

    async def work(cc: ClusterClient) -> list[dict[str, str]]:
        stacks, services, tasks = await asyncio.gather(cc.store.stacks(), cc.store.services(), cc.store.tasks())
        return service_rows(stacks, services, tasks)

    rows = with_cluster(args, work)
    if args.quiet:
        print("".join(r["ID"] + "\n" for r in rows), end="")
    else:
        print_rows(rows, args.format, service_table)
    return 0


async def _records(cc: ClusterClient, names: list[str]) -> tuple[list[Any], list[ServiceRecord], list[Any]]:
    import asyncio

    stacks, services, tasks = await asyncio.gather(cc.store.stacks(), cc.store.services(), cc.store.tasks())
    return stacks, [_find(services, n) for n in names], tasks


def _ps(args: argparse.Namespace) -> int:
    import time

    from stackctl.cluster.views import task_rows, task_table, update_line

    async def work(cc: ClusterClient) -> tuple[list[dict[str, str]], list[str]]:
        stacks, chosen, tasks = await _records(cc, args.services)
        keys = {(s.stack, s.service) for s in chosen}
        return (task_rows([t for t in tasks if (t.stack, t.service) in keys], stacks, now=time.time(),
                          trunc=not args.no_trunc), [line for s in chosen if (line := update_line(s))])

    rows, updates = with_cluster(args, work)
    if args.quiet:
        print("".join(r["ID"] + "\n" for r in rows), end="")
    else:
        if args.format != "json":
            from stackctl.errors import printable

            print("".join(printable(line) + "\n" for line in updates), end="")
        print_rows(rows, args.format, task_table)
    return 0


def _rollback(args: argparse.Namespace) -> int:
    import time

    from stackctl.cluster.deploying import wait_converged
    from stackctl.cluster.updates import rolled_back
    from stackctl.errors import ClusterError

    started = time.time()

    async def work(cc: ClusterClient) -> None:
        svc = _find(await cc.store.services(), args.service)
        if svc.previous is None:
            raise ClusterError(f"service {svc.stack}_{svc.service} has no previous spec to roll back to")

        def change(stack: Any, record: ServiceRecord) -> tuple[Any, ServiceRecord]:
            if record.previous is None:
                raise ClusterError(f"service {svc.stack}_{svc.service} has no previous spec to roll back to")
            return rolled_back(stack, record, now=started, status=None)
        await cc.store.rollback(svc.stack, svc.service, change)
        print(f"{svc.stack}_{svc.service}: rollback to the previous spec started", flush=True)
        if args.detach:
            return
        state = await wait_converged(cc.store, svc.stack, services=[svc.service], since=started,
                                     timeout=args.timeout, report=Progress(), rollback_ok=True)
        outcome(svc.stack, state, timeout=args.timeout, what="rollback")

    with_cluster(args, work)
    return 0


def _inspect(args: argparse.Namespace) -> int:
    import json

    from stackctl.cluster.views import service_inspect

    async def work(cc: ClusterClient) -> list[dict[str, Any]]:
        stacks, chosen, tasks = await _records(cc, args.services)
        by_name = {s.name: s for s in stacks}
        return [service_inspect(by_name[s.stack], s, tasks) for s in chosen if s.stack in by_name]

    print(json.dumps(with_cluster(args, work), indent=4))
    return 0


def _parse_pairs(pairs: list[str]) -> list[tuple[str, int]]:
    from stackctl.errors import UsageError

    out = []
    for pair in pairs:
        name, sep, count = pair.partition("=")
        if not sep or not name or not count.isdigit():
            raise UsageError(f"invalid scale specifier {pair!r}: expected SERVICE=REPLICAS (e.g. shop_web=3)")
        out.append((name, int(count)))
    return out


def _scale(args: argparse.Namespace) -> int:
    import time

    from stackctl.cluster.deploying import wait_converged
    from stackctl.errors import ClusterError

    pairs = _parse_pairs(args.pairs)
    started = time.time()

    async def work(cc: ClusterClient) -> None:
        services = await cc.store.services()
        chosen = [(_find(services, name), n) for name, n in pairs]  # every name checked before any change
        for svc, _ in chosen:
            if svc.mode != "replicated":
                raise ClusterError(f"{svc.stack}_{svc.service}: scale can only be used with replicated mode")
        for svc, n in chosen:
            await cc.store.scale(svc.stack, svc.service, n)
            print(f"{svc.stack}_{svc.service} scaled to {n}", flush=True)
        if args.detach:
            return
        for stack in sorted({svc.stack for svc, _ in chosen}):
            names = [svc.service for svc, _ in chosen if svc.stack == stack]
            state = await wait_converged(cc.store, stack, services=names, since=started, timeout=args.timeout,
                                         report=Progress())
            outcome(stack, state, timeout=args.timeout, what="scale")

    with_cluster(args, work)
    return 0


def _logs(args: argparse.Namespace) -> int:
    from stackctl.cluster.logs import prefix_of, stream_logs, tasks_with_logs
    from stackctl.errors import printable

    async def work(cc: ClusterClient) -> list[str]:
        services, tasks = await cc.store.services(), await cc.store.tasks()
        svc = _find(services, args.service)
        mine = [t for t in tasks if (t.stack, t.service) == (svc.stack, svc.service)]
        width = max((len(prefix_of(t)) for t in tasks_with_logs(mine)), default=0)

        def emit(prefix: str, line: str, stderr: bool) -> None:
            stream = sys.stderr if stderr else sys.stdout
            stream.write(f"{prefix.ljust(width)} | {printable(line)}\n")
            stream.flush()

        return await stream_logs(cc.transport, mine, follow=args.follow, tail=args.tail,
                                 timestamps=args.timestamps, emit=emit)

    for problem in with_cluster(args, work):
        print(f"stackctl: warning: {printable(problem)}", file=sys.stderr)
    return 0
