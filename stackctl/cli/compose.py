"""`stackctl compose …`: the laptop verbs. Global options as docker compose spells them.

Verbs live in their own modules (``stackctl.cli.compose_<part>``), each exposing ``register(verbs)``
that adds sub-parsers to the ``compose`` group and sets ``func(args) -> int`` on them.
"""

from __future__ import annotations

import argparse
import importlib

# Modules that add verbs to `stackctl compose`, in the order --help lists them.
VERB_MODULES: tuple[str, ...] = ("config", "graph", "engine")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("compose", help="run a Compose project on one Docker engine")
    p.add_argument("-f", "--file", dest="files", action="append", default=[], metavar="FILE",
                   help="compose file (repeatable; '-' reads standard input)")
    p.add_argument("-p", "--project-name", dest="project_name", metavar="NAME")
    p.add_argument("--project-directory", metavar="DIR")
    p.add_argument("--env-file", dest="env_files", action="append", default=[], metavar="FILE")
    p.add_argument("--profile", dest="profiles", action="append", default=[], metavar="PROFILE")
    p.add_argument("--all-resources", action="store_true", help="keep resources no service uses")
    p.set_defaults(func=lambda args: (p.print_help(), 0)[1])
    verbs = p.add_subparsers(dest="verb", metavar="VERB")
    for name in VERB_MODULES:
        importlib.import_module(f"stackctl.cli.compose_{name}").register(verbs)
