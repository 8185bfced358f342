"""`stackctl agent --config FILE`: the long-running process `cluster init` starts on every manager.

PLACEHOLDER until the agent lands (branch ``agent`` replaces this module): it checks its configuration,
says who it is, and waits for SIGTERM/SIGINT, so that `cluster init` and the lab can start, supervise
and stop it. The entry stays ``python -m stackctl agent --config /etc/stackctl/agent.json``.
"""

from __future__ import annotations

import argparse
import json

DEFAULT_CONFIG = "/etc/stackctl/agent.json"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("agent", help="run the cluster agent (on a manager; `cluster init` starts it)")
    p.add_argument("--config", default=DEFAULT_CONFIG, metavar="FILE",
                   help=f"agent configuration (default {DEFAULT_CONFIG})")
    p.set_defaults(func=_run)


def _run(args: argparse.Namespace) -> int:
    import asyncio
    import signal
    import sys

    from stackctl.errors import ClusterError

    try:
        with open(args.config, encoding="utf-8") as f:
            config = json.load(f)
        node, cluster = config["node"], config["cluster"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ClusterError(f"{args.config}: not an agent configuration ({type(exc).__name__}: {exc})") from None
    print(f"stackctl agent (placeholder): node {node} of cluster {cluster}; waiting", file=sys.stderr, flush=True)

    async def wait() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()

    asyncio.run(wait())
    return 0
