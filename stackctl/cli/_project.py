"""From parsed ``stackctl compose`` flags to :class:`stackctl.spec.loader.ProjectOptions`.

This is the CLI edge: the only place the compose loader's inputs are read from ``os.environ``,
the current directory and standard input.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stackctl.spec.loader import ProjectOptions


def options_from_args(args: argparse.Namespace, **overrides: Any) -> ProjectOptions:
    """ProjectOptions for the global compose flags of ``args``; ``overrides`` set any other field."""
    from stackctl.spec.loader import ProjectOptions

    files = tuple(getattr(args, "files", None) or ())
    env_files = tuple(getattr(args, "env_files", None) or ())
    if not env_files and os.environ.get("COMPOSE_ENV_FILES"):
        env_files = tuple(f for f in os.environ["COMPOSE_ENV_FILES"].split(",") if f)
    fields: dict[str, Any] = {
        "cwd": os.getcwd(),
        "files": files,
        "project_name": getattr(args, "project_name", None) or None,
        "project_directory": getattr(args, "project_directory", None) or None,
        "env_files": env_files,
        "profiles": tuple(getattr(args, "profiles", None) or ()),
        "environ": dict(os.environ),
        "stdin": sys.stdin.read() if "-" in files else None,
    }
    fields.update(overrides)
    return ProjectOptions(**fields)


def print_warnings(warnings: list[str]) -> None:
    """Loader warnings go to stderr, one line each, as docker compose prints them."""
    for line in warnings:
        print(f"WARN[0000] {line}", file=sys.stderr)
