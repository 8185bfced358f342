"""`stackctl compose run SERVICE [CMD…]`: a one-off container (dependencies started first)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any


def register(verbs: argparse._SubParsersAction, common: Callable[..., Any]) -> None:  # type: ignore[type-arg]
    p = common(verbs.add_parser("run", help="run a one-off command in a new container of a service"))
    p.add_argument("--rm", action="store_true")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("-u", "--user")
    p.add_argument("-w", "--workdir")
    p.add_argument("--entrypoint")
    p.add_argument("--name")
    p.add_argument("--no-deps", action="store_true")
    p.add_argument("-T", "--no-tty", action="store_true")
    p.add_argument("-P", "--service-ports", action="store_true")
    p.add_argument("service")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    p.set_defaults(func=run_run)


def run_run(args: argparse.Namespace) -> int:
    import os
    import secrets
    import sys

    from stackctl.cli import compose_engine as ce
    from stackctl.cli.compose_engine_more import _stdin_fd, env_flags
    from stackctl.compose.oneoff import RunRequest, run_oneoff
    from stackctl.compose.up import UpRequest, prepare_resources, up
    from stackctl.errors import UsageError
    from stackctl.model.dependencies import dependencies
    from stackctl.plan.diff import UpOptions

    project = ce.load(args, (args.service,))
    if args.service not in project.services:
        raise UsageError(f"no such service: {args.service}")
    engine = ce.driver(args)
    deps = tuple(d.service for d in dependencies(project.services[args.service]) if d.service in project.services)
    if deps and not args.no_deps:
        up(engine, project, UpRequest(options=UpOptions(services=deps, ignore_orphans=True), limit=ce.limit()),
           reporter=ce.reporter(args))
    image = prepare_resources(engine, project, args.service, reporter=ce.reporter(args))
    env = env_flags(args.env, os.environ)
    request = RunRequest(service=args.service, command=tuple(args.cmd), env=env, user=args.user,
                         workdir=args.workdir, entrypoint=args.entrypoint, name=args.name, remove=args.rm,
                         detach=args.detach, service_ports=args.service_ports)
    stdin_fd = _stdin_fd()
    tty = not args.no_tty and stdin_fd is not None and os.isatty(stdin_fd) and sys.stdout.isatty()
    return run_oneoff(engine, project, request, slug=secrets.token_hex(32), image_id=image, stdin_fd=stdin_fd,
                      tty=tty)
