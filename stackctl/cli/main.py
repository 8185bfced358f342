"""Entry point of the ``stackctl`` command.

This is the only place that prints errors and chooses exit codes. Command groups live in one small
module each (``stackctl.cli.<group>``) exposing ``register(subparsers)``; each sets ``func`` on its
parsers, a callable ``(args) -> int``. Heavy libraries are imported inside those callables, never at
module import, so that ``stackctl --help`` stays fast.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from stackctl import __version__
from stackctl.errors import StackctlError, printable

# Command groups, in the order ``--help`` lists them.
GROUPS: tuple[str, ...] = ("compose", "stack", "service", "lb", "lab", "node", "cluster", "agent")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stackctl",
        description="Run a Compose file on one Docker engine or on a swarm of machines.",
    )
    parser.add_argument("--version", action="version", version=f"stackctl {__version__}")
    sub = parser.add_subparsers(dest="group", metavar="COMMAND")
    for name in GROUPS:
        importlib.import_module(f"stackctl.cli.{name}").register(sub)
    return parser



def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 0
    try:
        return int(func(args) or 0)
    except StackctlError as exc:
        for line in exc.lines():
            print(f"stackctl: {printable(line)}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("stackctl: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # stdout closed early (e.g. `stackctl compose config | head`); not an error for the user.
        # Point stdout at /dev/null so that Python's flush at exit does not fail again.
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
