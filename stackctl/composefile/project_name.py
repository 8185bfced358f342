"""Project name rules, as docker compose v2 (compose-go v2.9.1 ``loader.projectName``) applies them.

Precedence: ``-p`` > ``COMPOSE_PROJECT_NAME`` > the last top-level ``name:`` of the files (interpolated) >
the base name of the project directory. Names given imperatively (``-p``, ``COMPOSE_PROJECT_NAME``) must
already be normalized; names taken from a file or a directory are normalized.
"""

from __future__ import annotations

import json
import re

_ALLOWED = re.compile(r"[a-z0-9_-]")


def normalize_project_name(name: str) -> str:
    """Lowercase, keep only ``[a-z0-9_-]``, trim leading ``_``/``-`` (``My App`` -> ``myapp``)."""
    return "".join(_ALLOWED.findall(name.lower())).lstrip("_-")


def invalid_name_message(name: str) -> str:
    quoted = json.dumps(name)
    return (f"invalid project name {quoted}: must consist only of lowercase alphanumeric characters, "
            "hyphens, and underscores as well as start with a letter or number")


def check_imperative_name(name: str) -> str | None:
    """The error message for a ``-p``/``COMPOSE_PROJECT_NAME`` value that is not normalized, else None."""
    if normalize_project_name(name) != name:
        return invalid_name_message(name)
    return None


def choose_project_name(*, flag: str | None, env_name: str | None, file_name: str | None,
                        directory_name: str, normalize: bool = True) -> tuple[str, bool]:
    """The project name and whether it was set imperatively (flag or environment).

    ``file_name`` is the last non-empty top-level ``name:`` across the files, already interpolated
    (None when no file names the project); it may come out empty, which the caller rejects. An
    imperative name must pass :func:`check_imperative_name`. ``normalize=False`` (``--no-normalize``)
    keeps a file's name as written.
    """
    if flag:
        return flag, True
    if env_name:
        return env_name, True
    if file_name is not None:
        return (normalize_project_name(file_name) if normalize else file_name), False
    return normalize_project_name(directory_name), False
