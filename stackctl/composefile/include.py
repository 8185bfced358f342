"""``include``: other compose projects whose resources are copied into this one.

Follows compose-go v2.9.1 ``loader/include.go``: each entry is loaded as its own project (its own project
directory and ``.env``, the including environment winning), recursively; a resource defined on both sides
must be identical, else it is a conflict. A file already on the include chain is a cycle. Loading the
included files goes through an injected ``load_model`` (the loader's own per-file pipeline).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stackctl.errors import Problem, SpecError

RESOURCES = ("services", "volumes", "networks", "secrets", "configs", "models")
MAX_DEPTH = 32  # files on one include chain (loading an included file recurses)


@dataclass(frozen=True)
class IncludeRequest:
    """One ``include`` entry, resolved to absolute paths."""

    files: tuple[str, ...]
    project_dir: str          # absolute: where the included project's files and .env live
    relative_dir: str         # project_dir relative to the including project's directory
    env_files: tuple[str, ...]


# (request, chain of files already included) -> the included model (paths resolved against relative_dir)
LoadModel = Callable[[IncludeRequest, Sequence[str]], dict[str, Any]]


def parse_entries(raw: Any, *, file: str) -> list[dict[str, Any]]:
    """The long form of every ``include`` entry (a string becomes ``{path: [string]}``)."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise SpecError(Problem(file, "include", f"`include` must be a list, got {raw}"))
    entries = []
    for i, item in enumerate(raw):
        entry = {"path": item} if isinstance(item, str) else item
        if not isinstance(entry, dict) or "path" not in entry:
            raise SpecError(Problem(file, f"include[{i}]", "must be a path or a mapping with `path`"))
        entries.append({"path": _strings(entry["path"], file, f"include[{i}].path"),
                        "env_file": _strings(entry.get("env_file"), file, f"include[{i}].env_file"),
                        "project_directory": entry.get("project_directory")})
    return entries


def _strings(value: Any, file: str, path: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    raise SpecError(Problem(file, path, "must be a string or a list of strings"))


def make_request(entry: Mapping[str, Any], *, base_dir: str, file: str,
                 included: Sequence[str]) -> IncludeRequest:
    """Absolute files, project directory and env files of one entry; refuses include cycles."""
    files = tuple(_absolute(p, base_dir) for p in entry["path"])
    if not files:
        raise SpecError(Problem(file, "include", "`path` must name at least one file"))
    project_dir = entry.get("project_directory")
    project_dir = _absolute(project_dir, base_dir) if project_dir else os.path.dirname(files[0])
    if files[0] in included:
        chain = [*included, files[0]]
        raise SpecError(Problem(file, "include", "include cycle detected: " + " -> ".join(chain)))
    if len(included) >= MAX_DEPTH:
        raise SpecError(Problem(file, "include", f"includes nested more than {MAX_DEPTH} files deep "
                                                 f"(from {included[0]})"))
    env_files = tuple(_env_file(f, base_dir, file) for f in entry["env_file"])
    if not env_files and os.path.isfile(os.path.join(project_dir, ".env")):
        env_files = (os.path.join(project_dir, ".env"),)
    return IncludeRequest(files=files, project_dir=project_dir,
                          relative_dir=os.path.relpath(project_dir, base_dir), env_files=env_files)


def _absolute(path: str, base_dir: str) -> str:
    return os.path.normpath(os.path.join(base_dir, path))


def _env_file(path: str, base_dir: str, file: str) -> str:
    if os.path.isabs(path):
        return path
    full = os.path.normpath(os.path.join(base_dir, path))
    if not os.path.exists(full):
        raise SpecError(Problem(file, "include", f"env file {full} not found: no such file or directory"))
    if os.path.isdir(full):
        raise SpecError(Problem(file, "include", f"{full} is not a file"))
    return full


def apply_include(model: dict[str, Any], *, file: str, base_dir: str, included: Sequence[str],
                  load_model: LoadModel) -> dict[str, Any]:
    """Load every included project and copy its resources into ``model`` (in place); drop ``include``."""
    for entry in parse_entries(model.get("include"), file=file):
        request = make_request(entry, base_dir=base_dir, file=file, included=included)
        import_resources(load_model(request, included), model, file=file)
    model.pop("include", None)
    return model


def import_resources(source: Mapping[str, Any], target: dict[str, Any], *, file: str) -> None:
    """Copy each resource of ``source`` into ``target``; the same name with another definition is an error."""
    problems = []
    for kind in RESOURCES:
        incoming = source.get(kind)
        if not incoming:
            continue
        existing = target.get(kind)
        merged: dict[str, Any] = dict(existing) if isinstance(existing, dict) else {}
        for name, value in incoming.items():
            if name in merged and merged[name] != value:
                problems.append(Problem(file, f"{kind}.{name}", f"{kind}.{name} conflicts with imported resource"))
                continue
            merged[name] = value
        target[kind] = merged
    if problems:
        raise SpecError(problems)
