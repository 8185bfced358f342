"""The other engine verbs of `stackctl compose`: ps, logs, start/stop/restart/kill/rm, scale, exec,
run, build, pull, port, wait, ls, images. Registered by ``compose_engine``."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from stackctl.cli import compose_common as cc
from stackctl.cli.compose_common import engine_options as common
from stackctl.errors import UsageError

STOP_KINDS = {"stop": "stop_container", "start": "start_container", "restart": "restart_container",
              "kill": "kill_container", "rm": "remove_container"}


def register(verbs: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = common(verbs.add_parser("ps", help="list the project's containers"))
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.add_argument("--services", dest="list_services", action="store_true")
    p.add_argument("--format", choices=("table", "json"), default="table")
    p.add_argument("--no-trunc", action="store_true")
    p.set_defaults(func=run_ps)
    p = common(verbs.add_parser("logs", help="show the containers' output"))
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.add_argument("-f", "--follow", action="store_true")
    p.add_argument("-n", "--tail", default="all")
    p.add_argument("-t", "--timestamps", action="store_true")
    p.add_argument("--no-log-prefix", action="store_true")
    p.add_argument("--no-color", action="store_true")
    p.set_defaults(func=run_logs)
    for verb, kind in STOP_KINDS.items():
        p = common(verbs.add_parser(verb, help=f"{verb} the services' containers"))
        p.add_argument("services", nargs="*", metavar="SERVICE")
        if verb in ("stop", "restart"):
            p.add_argument("-t", "--timeout", type=int)
        if verb == "kill":
            p.add_argument("-s", "--signal", default="SIGKILL")
        if verb == "rm":
            p.add_argument("-f", "--force", action="store_true")
            p.add_argument("-s", "--stop", action="store_true")
            p.add_argument("-v", "--volumes", action="store_true")
        p.set_defaults(func=run_stop_like, kind=kind)
    p = common(verbs.add_parser("scale", help="set the number of containers of services"))
    p.add_argument("pairs", nargs="+", metavar="SERVICE=N")
    p.add_argument("--no-deps", action="store_true")
    from stackctl.cli.compose_balancer import add_yes

    add_yes(p)
    p.set_defaults(func=run_scale)
    _register_tools(verbs)


def _register_tools(verbs: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = common(verbs.add_parser("exec", help="run a command in a running container"))
    p.add_argument("-T", "--no-tty", action="store_true")
    p.add_argument("-d", "--detach", action="store_true")
    p.add_argument("-u", "--user")
    p.add_argument("-w", "--workdir")
    p.add_argument("-e", "--env", action="append", default=[])
    p.add_argument("--index", type=int, default=1)
    p.add_argument("service")
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    p.set_defaults(func=run_exec)
    for verb in ("build", "pull"):
        p = common(verbs.add_parser(verb, help=f"{verb} the services' images"))
        p.add_argument("services", nargs="*", metavar="SERVICE")
        p.set_defaults(func=run_images_verb, mode=verb)
    p = common(verbs.add_parser("port", help="print the public port of a port binding"))
    p.add_argument("service")
    p.add_argument("private_port", type=int)
    p.add_argument("--protocol", default="tcp")
    p.add_argument("--index", type=int, default=1)
    p.set_defaults(func=run_port)
    p = common(verbs.add_parser("wait", help="block until the services' containers stop; exit with their code"))
    p.add_argument("services", nargs="+", metavar="SERVICE")
    p.set_defaults(func=run_wait)
    p = common(verbs.add_parser("ls", help="list the projects on the engine"))
    p.add_argument("-a", "--all", action="store_true")
    p.add_argument("-q", "--quiet", action="store_true")
    p.set_defaults(func=run_ls)
    p = common(verbs.add_parser("images", help="list the images the containers use"))
    p.add_argument("services", nargs="*", metavar="SERVICE")
    p.set_defaults(func=run_images)
    from stackctl.cli import compose_run

    compose_run.register(verbs)


def _containers(args: argparse.Namespace, *, oneoff: bool = False) -> tuple[Any, Any, list[Any]]:
    """The target, the driver and the project's containers (``oneoff``: with those of `run`)."""
    tgt = cc.target(args)
    if tgt.project is not None:
        named = [*(getattr(args, "services", ()) or ()), *([args.service] if getattr(args, "service", None) else [])]
        unknown = [s for s in named if s not in tgt.project.services]
        if unknown:
            raise UsageError(f"no such service: {', '.join(unknown)}")
    engine = cc.driver(args)
    found = [c for c in engine.observe(tgt.name).containers if oneoff or not c.oneoff]
    return tgt, engine, found


def run_ps(args: argparse.Namespace) -> int:
    from stackctl.compose import views

    tgt, _, found = _containers(args, oneoff=args.all)  # as docker compose: -a adds `run` containers
    rows = views.ps_rows(found, all=args.all, services=tuple(args.services))
    if args.list_services:  # as docker compose: the services of the listed (running, or -a) containers
        print("\n".join(dict.fromkeys(c.service for c in rows)))
        return 0
    import time

    if args.quiet:
        print("\n".join(c.id for c in rows))
    elif args.format == "json":
        sys.stdout.write(views.ps_json(rows, tgt.name, now=time.time(), trunc=not args.no_trunc))
    else:
        sys.stdout.write(views.ps_table(rows, now=time.time(), trunc=not args.no_trunc))
        _print_balancer(tgt.name, args)
    return 0


def _print_balancer(project: str, args: argparse.Namespace) -> None:
    """The project's load balancer (listeners and backends with their health), when one runs."""
    from stackctl.cli.compose_balancer import balancer
    from stackctl.cli.lb import format_stats

    lb = balancer(args)
    listeners = lb.balancer_stats(project)
    if listeners:
        where = "" if lb.where == "this machine" else f" on {lb.where}"
        sys.stdout.write(f"\nload balancer of {project}{where}\n" + format_stats(listeners))


def run_logs(args: argparse.Namespace) -> int:
    from stackctl.compose.logs import stream_logs

    _, engine, found = _containers(args)
    chosen = sorted((c for c in found if not args.services or c.service in args.services),
                    key=lambda c: (c.service, c.number))
    stream_logs(engine, chosen, follow=args.follow, tail=str(args.tail), timestamps=args.timestamps,
                colour=sys.stdout.isatty() and not args.no_color, no_prefix=args.no_log_prefix)
    return 0


def run_stop_like(args: argparse.Namespace) -> int:
    from stackctl.compose.control import run_plan, stop_like_plan

    tgt = cc.target(args)
    engine = cc.driver(args)
    kind = args.kind
    if kind == "start_container" and not any(not c.oneoff for c in engine.observe(tgt.name).containers):
        raise UsageError(f'no container found for project "{tgt.name}"')  # as docker compose
    if kind == "remove_container" and not args.dry_run:
        return _remove(args, tgt, engine)
    timeout = getattr(args, "timeout", None)
    plan = stop_like_plan(engine, tgt, kind, services=tuple(args.services), timeout=timeout,
                          signal=getattr(args, "signal", None), volumes=getattr(args, "volumes", False))
    if args.dry_run:
        cc.print_plan(plan, empty=f"nothing to do: no container to {kind.split('_')[0]}")
    elif plan.actions:
        cc.run(run_plan(engine, plan, limit=cc.limit(), timeout=timeout, reporter=cc.reporter(args)))
    return 0


def _remove(args: argparse.Namespace, tgt: Any, engine: Any) -> int:
    """rm as docker compose: -s stops first; the stopped containers are named, and removed once the
    user says yes (-f: without asking)."""
    from stackctl.compose.control import run_plan, stop_like, stop_like_plan

    services = tuple(args.services)
    if args.stop:
        cc.run(stop_like(engine, tgt, "stop_container", services=services, limit=cc.limit(),
                         reporter=cc.reporter(args)))
    plan = stop_like_plan(engine, tgt, "remove_container", services=services, volumes=args.volumes)
    if not plan.actions:
        print("No stopped containers", file=sys.stderr)
        return 0
    message = "Going to remove " + ", ".join(a.target for a in plan.actions)
    if args.force:
        print(message, flush=True)
    elif not cc.confirm(message):
        return 0
    cc.run(run_plan(engine, plan, limit=cc.limit(), reporter=cc.reporter(args)))
    return 0


def run_scale(args: argparse.Namespace) -> int:
    from stackctl.cli.compose_balancer import up_fronted
    from stackctl.compose.up import UpRequest
    from stackctl.plan.diff import UpOptions

    scale = cc.parse_scale(args.pairs)
    project = cc.load(args, tuple(scale))
    unknown = [s for s in scale if s not in project.services]
    if unknown:
        raise UsageError(f"no such service: {', '.join(unknown)}")
    options = UpOptions(services=tuple(scale), no_deps=args.no_deps, scale=scale,
                        ignore_orphans=True)
    request = UpRequest(options=options, dry_run=args.dry_run, limit=cc.limit())
    result = up_fronted(cc.driver(args), project, request, args=args)
    if args.dry_run:
        cc.print_plan(result.plan)
    return 0


def run_exec(args: argparse.Namespace) -> int:
    _, engine, found = _containers(args)
    match = [c for c in found if c.service == args.service and c.number == args.index and c.running]
    if not match:
        raise UsageError(f"service {args.service!r} has no running container #{args.index}")
    if not args.cmd:
        raise UsageError("exec needs a command")
    env = cc.env_flags(args.env, os.environ)
    cid = match[0].id
    if args.detach:
        return int(engine.exec(cid, list(args.cmd), user=args.user, workdir=args.workdir, env=env, detach=True))
    stdin_fd = cc.stdin_fd()
    tty = not args.no_tty and stdin_fd is not None and os.isatty(stdin_fd) and sys.stdout.isatty()
    return int(engine.exec_attached(cid, list(args.cmd), tty=tty, user=args.user, workdir=args.workdir,
                                    env=env, stdin_fd=stdin_fd))


def run_images_verb(args: argparse.Namespace) -> int:
    from stackctl.compose.up import inspect_images, run_plan
    from stackctl.engine.apply import Applier
    from stackctl.engine.bind import bind
    from stackctl.engine.images import plan_images
    from stackctl.plan.actions import LOCAL

    project = cc.load(args, tuple(args.services))
    names = list(args.services) or list(project.services)
    engine = cc.driver(args)
    if args.mode == "build":
        names = [n for n in names if project.services[n].get("build")]
        plan = plan_images(project, names, {}, build=True)
    else:
        names = [n for n in names if not project.services[n].get("build") or project.services[n].get("image")]
        plan = plan_images(project, names, {}, pull="always", build=False)
    if args.dry_run:
        cc.print_plan(plan, empty=f"nothing to do: no image to {args.mode}")
        return 0
    if plan.actions:
        cc.run(run_plan(bind(plan, project, image_ids={}), Applier({LOCAL: engine}), limit=cc.limit(),
                        reporter=cc.reporter(args)))
    inspect_images(engine, {a.target for a in plan.actions})
    return 0


def run_port(args: argparse.Namespace) -> int:
    from stackctl.compose import views

    tgt, _, found = _containers(args)
    where = views.port_of(found, args.service, args.private_port, args.protocol, args.index)
    if where is None and tgt.project is not None:  # replicas behind the balancer share its port
        from stackctl.cli.compose_balancer import balancer
        from stackctl.compose.frontdoor import balanced_port

        where = balanced_port(tgt.project, args.service, args.private_port, args.protocol, lb=balancer(args))
    if where is None:
        raise UsageError(f"no port {args.private_port}/{args.protocol} published for service {args.service}")
    print(where)
    return 0


def run_wait(args: argparse.Namespace) -> int:
    tgt, engine, found = _containers(args)
    chosen = [c for c in found if c.service in args.services]
    if not chosen:
        raise UsageError(f'no containers for project "{tgt.name}"')
    codes: list[int] = []
    for c in chosen:  # as docker compose prints it
        codes.append(int(engine.wait_container(c.id)))
        print(f'container "{c.id}" exited with status code {codes[-1]}', flush=True)
    return max(codes)


def run_ls(args: argparse.Namespace) -> int:
    from stackctl.compose import views

    engine = cc.driver(args)
    projects = [(n, cs) for n, cs in engine.list_projects() if n]
    if args.quiet:
        print("\n".join(n for n, cs in projects if args.all or any(c.running for c in cs)))
    else:
        sys.stdout.write(views.ls_table(projects, all=args.all))
    return 0


def run_images(args: argparse.Namespace) -> int:
    from stackctl.compose import views

    _, engine, found = _containers(args)
    chosen = sorted((c for c in found if not args.services or c.service in args.services), key=lambda c: c.name)
    infos = {ref: engine.image_info(ref) or {} for ref in {c.image for c in chosen}}
    import time

    sys.stdout.write(views.images_table(chosen, infos, now=time.time()))
    return 0
