"""`stackctl compose up|down|ps|logs|start|stop|restart|kill|rm|scale|exec|build|pull|port|wait|ls|images`.

Flags as docker compose spells them. ``-H``/DOCKER_HOST choose the engine (``ssh://user@host`` too);
COMPOSE_PARALLEL_LIMIT, COMPOSE_IGNORE_ORPHANS and COMPOSE_REMOVE_ORPHANS are honoured.
Heavy imports happen inside the handlers.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from stackctl.cli.compose_common import (
    driver,
    limit,
    load,
    parse_scale,
    print_plan,
    reporter,
    run,
    target,
    truthy,
    warn,
)
from stackctl.cli.compose_common import engine_options as _common
from stackctl.errors import UsageError


def register(verbs: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from stackctl.cli import compose_engine_more as more

    _register_up(verbs)
    p = _common(verbs.add_parser("down", help="stop and remove containers, networks (and volumes with -v)"))
    p.add_argument("-v", "--volumes", action="store_true")
    p.add_argument("--remove-orphans", action="store_true")
    p.add_argument("-t", "--timeout", type=int)
    p.set_defaults(func=run_down)
    more.register(verbs)


def _register_up(verbs: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from stackctl.cli import compose_balancer

    for verb in ("up", "create"):
        p = _common(verbs.add_parser(verb, help="create and start containers" if verb == "up"
                                     else "create containers without starting them"))
        p.add_argument("services", nargs="*", metavar="SERVICE")
        if verb == "up":
            p.add_argument("-d", "--detach", action="store_true")
            p.add_argument("--wait", action="store_true")
            p.add_argument("--wait-timeout", type=float)
            p.add_argument("--no-start", action="store_true")
            p.add_argument("--no-log-prefix", action="store_true")
            p.add_argument("--no-color", action="store_true")
        p.add_argument("--scale", action="append", default=[], metavar="SERVICE=N")
        p.add_argument("--build", action="store_true")
        p.add_argument("--no-build", action="store_true")
        p.add_argument("--pull", choices=("always", "missing", "never", "policy"), default="policy")
        p.add_argument("--force-recreate", action="store_true")
        p.add_argument("--no-recreate", action="store_true")
        p.add_argument("--always-recreate-deps", action="store_true")
        p.add_argument("--no-deps", action="store_true")
        p.add_argument("--remove-orphans", action="store_true")
        p.add_argument("-t", "--timeout", type=int)
        compose_balancer.add_yes(p)
        p.set_defaults(func=run_up, verb_name=verb)


# ---------------------------------------------------------------------------------------------
# up / down


def up_request(args: argparse.Namespace, *, scale: dict[str, int] | None = None) -> Any:
    from stackctl.compose.up import UpRequest
    from stackctl.plan.diff import UpOptions

    if args.force_recreate and args.no_recreate:
        raise UsageError("--force-recreate and --no-recreate are incompatible")
    if args.build and args.no_build:
        raise UsageError("--build and --no-build are incompatible")
    recreate = "force" if args.force_recreate else "never" if args.no_recreate else "diverged"
    remove_orphans = args.remove_orphans or truthy("COMPOSE_REMOVE_ORPHANS")
    if remove_orphans and truthy("COMPOSE_IGNORE_ORPHANS"):
        raise UsageError("COMPOSE_IGNORE_ORPHANS and --remove-orphans cannot be combined")
    options = UpOptions(
        services=tuple(args.services), no_deps=args.no_deps, recreate=recreate,
        deps_recreate="force" if args.always_recreate_deps else "diverged",
        scale=scale if scale is not None else parse_scale(args.scale), remove_orphans=remove_orphans,
        ignore_orphans=truthy("COMPOSE_IGNORE_ORPHANS"),
        start=not getattr(args, "no_start", False) and args.verb_name != "create", timeout=args.timeout)
    build = True if args.build else False if args.no_build else None
    return UpRequest(options=options, pull=args.pull, build=build, dry_run=args.dry_run,
                     wait=getattr(args, "wait", False), wait_timeout=getattr(args, "wait_timeout", None),
                     limit=limit(), timeout=args.timeout)


def run_up(args: argparse.Namespace) -> int:
    import time

    began = time.time()  # attached `up` shows what containers print from now on, not older runs' output
    project = load(args, tuple(args.services))
    engine = driver(args)
    from stackctl.cli.compose_balancer import up_fronted

    result = up_fronted(engine, project, up_request(args), args=args)
    warn(result.warnings)
    if args.dry_run:
        if result.images.actions:
            print_plan(result.images)
            print("(then, once the images are there:)")
        print_plan(result.plan)
        return 0
    detached = args.verb_name == "create" or args.detach or args.wait or getattr(args, "no_start", False)
    if detached:
        return 0
    return attach(engine, project, args, since=began)


def attach(engine: Any, project: Any, args: argparse.Namespace, *, since: float | None = None) -> int:
    """`up` without -d: stream every service's logs until Ctrl-C, then stop the containers."""
    from stackctl.compose.control import Target, stop_like
    from stackctl.compose.logs import stream_logs

    chosen = tuple(args.services)
    containers = [c for c in engine.observe(project.name).containers
                  if not c.oneoff and (not chosen or c.service in chosen)
                  and project.services.get(c.service, {}).get("attach", True) is not False]
    import signal

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)  # SIGTERM stops the project like Ctrl-C

    def stop() -> None:
        services = _attached_services(project, args)
        print("Gracefully stopping... (press Ctrl+C again to force)", file=sys.stderr)
        try:
            run(stop_like(engine, Target(project.name, project), "stop_container", services=services,
                          timeout=args.timeout, limit=limit(), reporter=reporter(args)))
        except KeyboardInterrupt:
            run(stop_like(engine, Target(project.name, project), "kill_container", services=services,
                          limit=limit(), reporter=reporter(args)))

    local = str(getattr(engine, "host", "")).startswith("unix://")  # the same clock as the engine's
    print("Attaching to " + ", ".join(sorted(c.replica for c in containers)), flush=True)
    interrupted = stream_logs(
        engine, containers, follow=True, tail="all", colour=sys.stdout.isatty() and not args.no_color,
        no_prefix=args.no_log_prefix, since=f"{since:.6f}" if since and local else None, on_interrupt=stop,
        ended=lambda c: print(f"{c.replica} exited with code {engine.wait_container(c.id)}", flush=True))
    return 130 if interrupted else 0  # as docker compose after Ctrl-C


def _attached_services(project: Any, args: argparse.Namespace) -> tuple[str, ...]:
    """What an interrupted `up SERVICE…` stops: those services and (unless --no-deps) their
    dependencies, as docker compose does; every service when none was named."""
    if not args.services:
        return ()
    from stackctl.compose.up import chosen_services
    from stackctl.plan.diff import UpOptions

    return tuple(chosen_services(project, UpOptions(services=tuple(args.services), no_deps=args.no_deps)))


def run_down(args: argparse.Namespace) -> int:
    from stackctl.compose import frontdoor
    from stackctl.compose.control import down_plan, run_plan

    tgt = target(args)
    engine = driver(args)
    plan = down_plan(engine, tgt, volumes=args.volumes, timeout=args.timeout,
                     remove_orphans=args.remove_orphans or truthy("COMPOSE_REMOVE_ORPHANS"))
    if plan.actions and not args.dry_run:
        run(run_plan(engine, plan, limit=limit(), timeout=args.timeout, reporter=reporter(args)))
    warn(plan.warnings)
    if args.dry_run:
        print_plan(plan, empty="nothing to do: nothing to remove")
    else:
        from stackctl.cli.compose_balancer import balancer

        frontdoor.stop(tgt.name, lb=balancer(args))
    return 0
