"""Which compose files a project is made of, and where its project directory is.

compose-go v2.9.1 ``cli/options.go``: ``-f`` files, else ``COMPOSE_FILE`` (split on
``COMPOSE_PATH_SEPARATOR``, default ``:``), else the first of the default names in the working directory
or its nearest parent, plus the first override file next to it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from stackctl.errors import Problem, SpecError

DEFAULT_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
OVERRIDE_FILES = ("compose.override.yml", "compose.override.yaml", "docker-compose.override.yml",
                  "docker-compose.override.yaml")
STDIN = "-"


@dataclass(frozen=True)
class Discovered:
    files: tuple[str, ...]
    warnings: tuple[str, ...] = ()


def absolute(path: str, cwd: str) -> str:
    return os.path.normpath(os.path.join(cwd, path))


def first_dir(files: Sequence[str], *, project_directory: str | None, cwd: str) -> str:
    """The project directory: ``--project-directory``, else the first file's directory, else cwd."""
    if project_directory:
        return absolute(project_directory, cwd)
    for f in files:
        if f != STDIN:
            return os.path.dirname(absolute(f, cwd))
    return cwd


def files_from_env(environment: Mapping[str, str], *, cwd: str) -> tuple[str, ...]:
    """``COMPOSE_FILE`` as absolute paths (each must exist), or () when unset."""
    value = environment.get("COMPOSE_FILE")
    if value is None:
        return ()
    sep = environment.get("COMPOSE_PATH_SEPARATOR") or os.pathsep
    files = []
    for item in value.split(sep):
        if item == STDIN:
            files.append(item)
            continue
        path = absolute(item, cwd)
        if not os.path.exists(path):
            raise SpecError(Problem(path, "", f"COMPOSE_FILE names a file that does not exist: {path}"))
        files.append(path)
    return tuple(files)


def discover(start: str) -> Discovered:
    """The default compose file (and override) in ``start`` or its nearest parent that has one."""
    directory = start
    while True:
        found = [os.path.join(directory, n) for n in DEFAULT_FILES if os.path.exists(os.path.join(directory, n))]
        if found:
            warnings = _multiple("config", found)
            overrides = [os.path.join(directory, n) for n in OVERRIDE_FILES
                         if os.path.exists(os.path.join(directory, n))]
            warnings += _multiple("override", overrides)
            return Discovered(tuple(found[:1] + overrides[:1]), tuple(warnings))
        parent = os.path.dirname(directory)
        if parent == directory:
            return Discovered(())
        directory = parent


def _multiple(kind: str, found: list[str]) -> list[str]:
    if len(found) < 2:
        return []
    return [f"Found multiple {kind} files with supported names: {', '.join(found)}", f"Using {found[0]}"]


def choose_files(flags: Sequence[str], environment: Mapping[str, str], *, cwd: str,
                 project_directory: str | None) -> Discovered:
    """``-f`` files, else COMPOSE_FILE, else discovery from the project directory or cwd."""
    if flags:
        return Discovered(tuple(f if f == STDIN else absolute(f, cwd) for f in flags))
    from_env = files_from_env(environment, cwd=cwd)
    if from_env:
        return Discovered(from_env)
    start = absolute(project_directory, cwd) if project_directory else cwd
    found = discover(start)
    if not found.files:
        raise SpecError(Problem(start, "", "no configuration file provided: not found (looked for "
                                f"{', '.join(DEFAULT_FILES)} here and in the parent directories)"))
    return found
