"""`stackctl compose up|down|ps|logs|start|stop|restart|kill|rm|scale|exec|build|pull|port|wait|ls|images`.

Flags as docker compose spells them. ``-H``/DOCKER_HOST choose the engine (``ssh://user@host`` too);
COMPOSE_PARALLEL_LIMIT, COMPOSE_IGNORE_ORPHANS and COMPOSE_REMOVE_ORPHANS are honoured.
Heavy imports happen inside the handlers.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from stackctl.errors import UsageError


def _common(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("-H", "--host", help="Docker engine (unix://, tcp:// or ssh://user@host); default DOCKER_HOST")
    p.add_argument("--dry-run", action="store_true", help="print the plan with reasons, change nothing")
    p.add_argument("--progress", choices=("auto", "tty", "plain", "quiet"), default=None,
                   help="progress output (default: COMPOSE_PROGRESS, else auto)")
    return p


def register(verbs: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from stackctl.cli import compose_engine_more as more

    _register_up(verbs)
    p = _common(verbs.add_parser("down", help="stop and remove containers, networks (and volumes with -v)"))
    p.add_argument("-v", "--volumes", action="store_true")
    p.add_argument("--remove-orphans", action="store_true")
    p.add_argument("-t", "--timeout", type=int)
    p.set_defaults(func=run_down)
    more.register(verbs, _common)


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
# shared helpers (also used by compose_engine_more)


def driver(args: argparse.Namespace) -> Any:
    from stackctl.drivers.docker_engine import DockerEngine

    return DockerEngine(host=getattr(args, "host", None) or os.environ.get("DOCKER_HOST") or None)


def load(args: argparse.Namespace, services: tuple[str, ...] = ()) -> Any:
    from stackctl.cli._project import options_from_args, print_warnings
    from stackctl.compose.project import from_loaded
    from stackctl.composefile.loader import load_project

    loaded = load_project(options_from_args(args, services=services))
    print_warnings(list(loaded.warnings))
    return from_loaded(loaded, env_files=tuple(os.path.abspath(f) for f in args.env_files or ()))


def target(args: argparse.Namespace) -> Any:
    """The loaded project, or (with -p and no compose file to load) the project name alone."""
    from stackctl.compose.control import Target
    from stackctl.errors import SpecError

    try:
        project = load(args)
    except SpecError:
        if args.project_name and not args.files:
            return Target(args.project_name)
        raise
    return Target(project.name, project)


def limit() -> int:
    """Engine calls in flight at once. 8 by default: on one engine, 20 parallel starts or removals
    finish no sooner than 8 at a time (bench/compose_up.py; the engine serializes much of the work)."""
    value = os.environ.get("COMPOSE_PARALLEL_LIMIT", "")
    return int(value) if value.isdigit() and int(value) > 0 else 8


def reporter(args: argparse.Namespace) -> Any:
    from stackctl.compose.progress import reporter_for

    mode = getattr(args, "progress", None) or os.environ.get("COMPOSE_PROGRESS") or "auto"
    return reporter_for(sys.stderr, mode=mode if mode in ("auto", "tty", "plain", "quiet") else "auto")


def state_dir() -> Any:
    """Where the project's load balancer keeps its files: $XDG_STATE_HOME/stackctl (~/.local/state)."""
    from pathlib import Path

    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "stackctl"


def balanced_options(project: Any, options: Any, *, lb: Any) -> Any:
    from dataclasses import replace

    from stackctl.compose import frontdoor

    return replace(options, ports_elsewhere=frontdoor.balanced(project, options.scale, lb=lb))


def up_with_balancer(engine: Any, project: Any, request: Any, *, args: argparse.Namespace) -> Any:
    """`up`/`scale`: the plan, with fixed published ports of replicated services behind the balancer."""
    from dataclasses import replace

    from stackctl.cli.compose_balancer import balancer
    from stackctl.compose import frontdoor
    from stackctl.compose.up import up

    lb = balancer(args)  # on the engine's host: here, over SSH, or none (tcp://)
    request = replace(request, options=balanced_options(project, request.options, lb=lb))
    if request.options.ports_elsewhere:
        lb.prepare(dry_run=args.dry_run)  # install (asking) or refuse, before anything changes
    result = up(engine, project, request, reporter=None if args.dry_run else reporter(args),
                before_apply=lambda plan: frontdoor.drain_removed(engine, project, request.options, plan, lb=lb))
    if not args.dry_run:
        frontdoor.sync(engine, project, request.options, lb=lb)
    return result


def truthy(name: str) -> bool:
    return os.environ.get(name, "").lower() in ("1", "true", "yes", "y")


def print_plan(plan: Any, *, empty: str | None = None) -> None:
    """The plan's lines (--dry-run); ``empty`` replaces the `up` wording when there is nothing to do."""
    for line in plan.lines() if plan.actions or empty is None else [empty]:
        print(line)


def warn(lines: Any) -> None:
    for line in lines:
        print(f"WARN[0000] {line}", file=sys.stderr)


def parse_scale(values: list[str]) -> dict[str, int]:
    out = {}
    for item in values:
        name, sep, count = item.partition("=")
        if not sep or not count.isdigit():
            raise UsageError(f"invalid scale {item!r}: expected SERVICE=N")
        out[name] = int(count)
    return out


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
    result = up_with_balancer(engine, project, up_request(args), args=args)
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
            stop_like(engine, Target(project.name, project), "stop_container", services=services,
                      timeout=args.timeout, limit=limit(), reporter=reporter(args))
        except KeyboardInterrupt:
            stop_like(engine, Target(project.name, project), "kill_container", services=services, limit=limit(),
                      reporter=reporter(args))

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
    from stackctl.compose.control import down

    tgt = target(args)
    engine = driver(args)
    plan = down(engine, tgt, volumes=args.volumes, remove_orphans=args.remove_orphans or truthy(
                "COMPOSE_REMOVE_ORPHANS"), timeout=args.timeout, dry_run=args.dry_run, limit=limit(),
                reporter=None if args.dry_run else reporter(args))
    warn(plan.warnings)
    if args.dry_run:
        print_plan(plan, empty="nothing to do: nothing to remove")
    else:
        from stackctl.cli.compose_balancer import balancer

        frontdoor.stop(tgt.name, lb=balancer(args))
    return 0
