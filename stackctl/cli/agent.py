"""`stackctl agent --config /etc/stackctl/agent.json`: the manager's long-running agent (campaigns, and
reconciles the cluster while it leads). SIGTERM or SIGINT resigns the leadership at once and exits 0."""

from __future__ import annotations

import argparse

DEFAULT_CONFIG = "/etc/stackctl/agent.json"


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("agent", help="run the cluster agent of this manager (started by cluster init)")
    p.add_argument("--config", default=DEFAULT_CONFIG, help=f"agent config (default {DEFAULT_CONFIG})")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning"])
    p.set_defaults(func=_agent)


def _agent(args: argparse.Namespace) -> int:
    import asyncio
    import logging
    import signal
    import sys

    from stackctl.cluster.agent import AgentConfig, run

    config = AgentConfig.load(args.config)
    logging.basicConfig(stream=sys.stderr, level=args.log_level.upper(),
                        format=f"%(asctime)s agent {config.node}: %(message)s")
    for noisy in ("asyncssh", "asyncio", "urllib3", "docker"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run(config, stop=stop)

    asyncio.run(main())
    return 0
