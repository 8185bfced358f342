"""What the engine verbs of `stackctl compose` share: their common flags, the engine, the loaded
project, progress, the parallelism limit, plan printing, and the one place that starts an event loop.

A leaf of the CLI: it imports no other ``stackctl.cli.compose_*`` module. Heavy imports happen
inside the functions, so `stackctl --help` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Coroutine, Mapping
from typing import Any, TypeVar

from stackctl.errors import UsageError

T = TypeVar("T")


def engine_options(p: argparse.ArgumentParser) -> argparse.ArgumentParser:
    p.add_argument("-H", "--host", help="Docker engine (unix://, tcp:// or ssh://user@host); default DOCKER_HOST")
    p.add_argument("--dry-run", action="store_true", help="print the plan with reasons, change nothing")
    p.add_argument("--progress", choices=("auto", "tty", "plain", "quiet"), default=None,
                   help="progress output (default: COMPOSE_PROGRESS, else auto)")
    return p


def run(coro: Coroutine[Any, Any, T]) -> T:
    """Run an effect to its end on a new event loop whose worker threads match the limit (engine
    calls are blocking and run in those threads). The only ``asyncio.run`` of `stackctl compose`."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    async def main() -> T:
        asyncio.get_running_loop().set_default_executor(
            ThreadPoolExecutor(max_workers=max(4, limit() + 2), thread_name_prefix="stackctl"))
        return await coro

    return asyncio.run(main())


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
    return int(value) if value.isdigit() and 0 < int(value) <= 1024 else 8


def reporter(args: argparse.Namespace) -> Any:
    from stackctl.compose.progress import reporter_for

    mode = getattr(args, "progress", None) or os.environ.get("COMPOSE_PROGRESS") or "auto"
    return reporter_for(sys.stderr, mode=mode if mode in ("auto", "tty", "plain", "quiet") else "auto")


def state_dir() -> Any:
    """Where the project's load balancer keeps its files: $XDG_STATE_HOME/stackctl (~/.local/state)."""
    from pathlib import Path

    base = os.environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local", "state")
    return Path(base) / "stackctl"


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
        if not sep or not count.isdigit() or len(count) > 6:
            raise UsageError(f"invalid scale {item!r}: expected SERVICE=N (N at most 999999)")
        out[name] = int(count)
    return out


def env_flags(values: list[str], environ: Mapping[str, str]) -> dict[str, str]:
    """`-e NAME=value` sets; `-e NAME` passes this process's value, or nothing when it is unset (as
    docker compose does; it never becomes an empty string)."""
    out: dict[str, str] = {}
    for item in values:
        name, eq, value = item.partition("=")
        if eq:
            out[name] = value
        elif name in environ:
            out[name] = environ[name]
    return out


def stdin_fd() -> int | None:
    """Standard input's descriptor when there is one to forward (docker compose exec is interactive)."""
    try:
        fd = sys.stdin.fileno()
    except (AttributeError, ValueError, OSError):
        return None
    return fd


def confirm(message: str) -> bool:
    """Ask on stdout, read one line of stdin: only `y` or `yes` agrees (end of input says no)."""
    sys.stdout.write(f"{message}? [yN] ")
    sys.stdout.flush()
    answer = sys.stdin.readline()
    if not answer.endswith("\n"):
        sys.stdout.write("\n")
    return answer.strip().lower() in ("y", "yes")
