"""Which balancer a compose command drives, from the engine address (``-H`` / DOCKER_HOST).

A published port belongs to the engine's host, so the balancer of replicas behind one fixed port
runs where the engine runs:

- local engine (no ``-H``, ``unix://``): here, files in $XDG_STATE_HOME/stackctl;
- ``ssh://user@host``: on that host, over SSH with the trust rules of ``-H ssh://``; stackctl is
  installed there first when missing, after a y/N question on a terminal (``--yes`` skips it;
  without a terminal and without ``--yes``: one line saying what is missing, exit 1, nothing changed);
- ``tcp://``: none. stackctl has no way to run a process on that host, so several replicas behind
  one fixed port are refused with one line before anything changes (one replica publishes as usual).
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from stackctl.errors import UsageError


def engine_host(args: argparse.Namespace) -> str:
    return str(getattr(args, "host", None) or os.environ.get("DOCKER_HOST") or "")


def balancer(args: argparse.Namespace) -> Any:
    """The project balancer control for the engine ``args`` name (see the module docstring)."""
    host = engine_host(args)
    if host.startswith("ssh://"):
        from stackctl.drivers.ssh_balancer import RemoteBalancer

        return RemoteBalancer(host, confirm=lambda found, size: _consent(args, host, found, size))
    if host and not host.startswith("unix://"):
        from stackctl.lb.balancers import NoBalancer

        return NoBalancer(host, tcp_refusal(host))
    from stackctl.cli.compose_common import state_dir
    from stackctl.lb.balancers import LocalBalancer

    return LocalBalancer(state_dir())


def tcp_refusal(host: str) -> str:
    return (f"{host}: several replicas behind one fixed published port need stackctl's load balancer on "
            "the engine's host, which it can only start over SSH; use -H ssh://USER@HOST, a port range "
            "(\"8080-8082:80\"), or one replica")


def _consent(args: argparse.Namespace, host: str, found: Any, size: int) -> bool:
    """Whether to install stackctl on ``host`` (see the module docstring). Raises when nobody can say."""
    from stackctl import __version__

    what = (f"stackctl {__version__} is not installed on {host}, where the balancer of replicas behind a "
            f"fixed port must run: installing means copying {size // 1024} KiB into {found.dir} (run with "
            f"its {found.python}, Python {found.python_version})")
    if getattr(args, "yes", False):
        print(f"{what}: installing (--yes)", file=sys.stderr, flush=True)
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"{what}; run again with --yes to install it (nothing was changed)")
    sys.stderr.write(f"{what}. Install it? [y/N] ")
    sys.stderr.flush()
    return sys.stdin.readline().strip().lower() in ("y", "yes")


def add_yes(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--yes", action="store_true",
                        help="answer yes to questions (installing stackctl on an ssh:// engine's host for "
                             "its balancer)")


def up_fronted(engine: Any, project: Any, request: Any, *, args: argparse.Namespace) -> Any:
    """`up`/`scale` with the balancer of the engine's host (see compose.fronted); an event loop only
    when there is something to change."""
    from stackctl.cli.compose_common import reporter, run
    from stackctl.compose import fronted

    plan = fronted.prepare(engine, project, request, lb=balancer(args))
    result = fronted.finished(plan) or run(fronted.apply(plan, reporter=None if args.dry_run else reporter(args)))
    fronted.settle(plan)
    return result
