"""What the cluster verbs (`stack`, `service`, `node`) share: reaching the cluster, printing progress."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable, Sequence
from typing import IO, TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from stackctl.cluster.client import ClusterClient
    from stackctl.cluster.converge import ServiceProgress

T = TypeVar("T")


def add_wait_flags(parser: argparse.ArgumentParser, *, written: str) -> None:
    """`-d/--detach` (return once ``written`` is in the cluster state) and `--timeout` of the waiting verbs."""
    parser.add_argument("-d", "--detach", action="store_true", help=f"return once {written} is written")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds to wait (default 120)")


def add_format_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", choices=["table", "json"], default="table",
                        help="table (default) or json: one JSON object per line, docker's keys")


def with_cluster(args: argparse.Namespace, work: Callable[[ClusterClient], Awaitable[T]]) -> T:
    """Open the cluster of ``args`` (``--cluster``, $STACKCTL_CLUSTER or the current one) and run ``work``."""
    from stackctl.cli.cluster import inventory_from_args
    from stackctl.cluster.client import ClusterClient

    inventory = inventory_from_args(args)

    async def go() -> T:
        async with ClusterClient.open(inventory) as cc:
            return await work(cc)

    return asyncio.run(go())


class Progress:
    """Per-service progress: redrawn in place on a terminal, a plain line per change otherwise."""

    def __init__(self, stream: IO[str] | None = None) -> None:
        self.stream = stream or sys.stdout
        self.tty = self.stream.isatty()
        self.drawn = 0
        self.last: dict[str, str] = {}

    def __call__(self, state: Sequence[ServiceProgress]) -> None:
        from stackctl.errors import printable

        lines = [printable(p.line()) for p in state]
        if self.tty:
            out = f"\x1b[{self.drawn}F" if self.drawn else ""
            out += "".join(f"\x1b[2K{line}\n" for line in lines)
            self.stream.write(out)
            self.drawn = len(lines)
        else:
            for p, line in zip(state, lines):
                if self.last.get(p.service) != line:
                    self.stream.write(line + "\n")
                    self.last[p.service] = line
        self.stream.flush()


def outcome(stack: str, state: Sequence[ServiceProgress], *, timeout: float, what: str) -> None:
    """Raise NotConverged with per-task reasons unless every service converged."""
    from stackctl.cluster.deploying import NotConverged

    if all(p.converged for p in state):
        return
    failed = [p for p in state if p.failed]
    stopped = [p for p in failed if p.update]
    if stopped:
        summary = f"{what} of {stack} failed: " + "; ".join(f"{p.service} {p.update}" for p in stopped)
    elif failed:
        summary = f"{what} of {stack} failed: {', '.join(p.service for p in failed)} kept failing"
    else:
        summary = f"{what} of {stack} did not converge within {timeout:g} s"
    reasons = [r for p in state if not p.converged for r in p.reasons]
    raise NotConverged(summary, reasons or ["no task reported a reason"])


def print_rows(rows: Sequence[dict[str, Any]], fmt: str, table: Callable[[Sequence[dict[str, Any]]], str]) -> None:
    from stackctl.cluster.views import json_lines
    from stackctl.errors import printable

    if fmt == "json":  # ASCII-escaped JSON: valid, and no control character reaches the terminal
        sys.stdout.write(json_lines(rows))
        return
    text = table(rows)
    sys.stdout.write("".join(printable(line) + "\n" for line in text.splitlines()))
