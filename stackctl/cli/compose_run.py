"""`stackctl compose run SERVICE [CMD…]`: a one-off container (dependencies started first)."""

from __future__ import annotations

import argparse

from stackctl.cli.compose_common import engine_options


def register(verbs: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = engine_options(verbs.add_parser("run", help="run a one-off command in a new container of a service"))
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

    from stackctl.cli import compose_common as cc
    from stackctl.compose.oneoff import RunRequest, run_oneoff
    from stackctl.compose.up import UpRequest, prepare_resources, up
    from stackctl.errors import UsageError
    from stackctl.model.dependencies import dependencies
    from stackctl.plan.diff import UpOptions

    project = cc.load(args, (args.service,))
    if args.service not in project.services:
        raise UsageError(f"no such service: {args.service}")
    engine = cc.driver(args)
    deps = tuple(d.service for d in dependencies(project.services[args.service]) if d.service in project.services)
    request = UpRequest(options=UpOptions(services=deps, ignore_orphans=True), limit=cc.limit())

    async def ready() -> str | None:
        if deps and not args.no_deps:
            await up(engine, project, request, reporter=cc.reporter(args))
        return await prepare_resources(engine, project, args.service, reporter=cc.reporter(args))

    image = cc.run(ready())
    env = cc.env_flags(args.env, os.environ)
    run_request = RunRequest(service=args.service, command=tuple(args.cmd), env=env, user=args.user,
                         workdir=args.workdir, entrypoint=args.entrypoint, name=args.name, remove=args.rm,
                         detach=args.detach, service_ports=args.service_ports)
    stdin_fd = cc.stdin_fd()
    tty = not args.no_tty and stdin_fd is not None and os.isatty(stdin_fd) and sys.stdout.isatty()
    return run_oneoff(engine, project, run_request, slug=secrets.token_hex(32), image_id=image, stdin_fd=stdin_fd,
                      tty=tty)
