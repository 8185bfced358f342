"""From parsed ``stackctl compose`` flags to :class:`stackctl.composefile.loader.ProjectOptions`.

This is the CLI edge: the only place the compose loader's inputs are read from ``os.environ``,
the current directory and standard input.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stackctl.composefile.loader import ProjectOptions


def options_from_args(args: argparse.Namespace, **overrides: Any) -> ProjectOptions:
    """ProjectOptions for the global compose flags of ``args``, with this process's environment, current
    directory and standard input; ``overrides`` set any other field."""
    files = tuple(getattr(args, "files", None) or ())
    stdin = _read_stdin() if "-" in files else None
    cwd = logical_cwd(os.getcwd(), os.environ)
    return options_from_values(args, cwd=cwd, environ=os.environ, stdin=stdin, **overrides)


def _read_stdin() -> str:
    """``-f -``: the compose file on standard input, capped like any file."""
    from stackctl.composefile.readers import decode, read_stream

    return decode(read_stream(sys.stdin.buffer), file="-")


def logical_cwd(physical: str, environ: Mapping[str, str]) -> str:
    """The working directory as Go's ``os.Getwd`` gives it: ``$PWD`` when it names the same directory
    (so a project entered through a symbolic link is named after the link), else the physical path."""
    pwd = environ.get("PWD")
    if pwd and os.path.isabs(pwd):
        try:
            if os.path.samefile(pwd, physical):
                return pwd
        except OSError:
            pass
    return physical


def options_from_values(args: argparse.Namespace, *, cwd: str, environ: Mapping[str, str],
                        stdin: str | None = None, **overrides: Any) -> ProjectOptions:
    """Like :func:`options_from_args` with the environment, cwd and stdin given (tests call this)."""
    from stackctl.composefile.loader import ProjectOptions

    env_files = tuple(getattr(args, "env_files", None) or ())
    if not env_files and environ.get("COMPOSE_ENV_FILES"):
        env_files = tuple(f for f in environ["COMPOSE_ENV_FILES"].split(",") if f)
    fields: dict[str, Any] = {
        "cwd": cwd,
        "files": tuple(getattr(args, "files", None) or ()),
        "project_name": getattr(args, "project_name", None) or None,
        "project_directory": getattr(args, "project_directory", None) or None,
        "env_files": env_files,
        "profiles": tuple(getattr(args, "profiles", None) or ()),
        "all_resources": bool(getattr(args, "all_resources", False)),
        "environ": dict(environ),
        "stdin": stdin,
    }
    fields.update(overrides)
    return ProjectOptions(**fields)


def print_warnings(warnings: list[str]) -> None:
    """Loader warnings go to stderr, one line each."""
    from stackctl.errors import printable

    for line in warnings:
        print(f"stackctl: warning: {printable(line)}", file=sys.stderr)
