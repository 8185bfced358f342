"""Relative paths made absolute, as compose-go v2.9.1's ``paths.ResolveRelativePaths`` does it.

Pure: the working directory and the home directory are arguments. compose-go also resolves a symbolic
link in a ``develop.watch`` path (the first linked component, fully); that reads the file system, so it is
done only through the optional ``resolve_symlink(path) -> path`` callable the caller passes.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable
from typing import Any

from stackctl.composefile._tree import ITEM, Path, Patterns, pattern, plain_copy
from stackctl.composefile.syntax.volumes import clean_path
from stackctl.errors import SpecError

REMOTE_CONTEXT_PREFIXES = ("https://", "http://", "git://", "ssh://", "github.com/", "git@")


class _Resolver:
    def __init__(self, working_dir: str, home: str | None,
                 resolve_symlink: Callable[[str], str] | None = None) -> None:
        self.working_dir = working_dir
        self.home = home
        self.resolve_symlink = resolve_symlink

    def expand_user(self, path: str) -> str:
        if path.startswith("~") and self.home is not None:
            return clean_path(posixpath.join(self.home, path[1:].lstrip("/")) if path[1:] else self.home)
        return path

    def abs_path(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.abs_path(v) for v in value]
        if not isinstance(value, str):
            return value
        value = self.expand_user(value)
        if posixpath.isabs(value) or not value:
            return value
        return clean_path(posixpath.join(self.working_dir, value))

    def watch_path(self, value: Any) -> Any:
        value = self.abs_path(value)
        if isinstance(value, str) and self.resolve_symlink is not None:
            return self.resolve_symlink(value)
        return value

    def unix_path(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        value = self.expand_user(value)
        if posixpath.isabs(value) or _is_windows_abs(value):
            return value
        return clean_path(posixpath.join(self.working_dir, value))

    def context_path(self, value: Any) -> Any:
        if not isinstance(value, str) or "://" in value or value.startswith("service:"):
            return value
        if value.startswith(REMOTE_CONTEXT_PREFIXES):
            return value
        return self.abs_path(value)

    def volume_mount(self, value: Any) -> Any:
        if not isinstance(value, dict) or value.get("type") != "bind":
            return value
        if "source" not in value:
            raise SpecError('invalid mount config for type "bind": field Source must not be empty')
        return {**value, "source": self.unix_path(value["source"])}

    def volume_driver_opts(self, value: Any) -> Any:
        if not isinstance(value, dict) or value.get("driver") != "local":
            return value
        opts = value.get("driver_opts")
        if isinstance(opts, dict) and opts.get("o") == "bind" and "device" in opts:
            return {**value, "driver_opts": {**opts, "device": self.unix_path(opts["device"])}}
        return value


def _is_windows_abs(path: str) -> bool:
    if path.startswith("\\\\"):
        return True
    return len(path) >= 3 and path[0].isalpha() and path[1] == ":" and path[2] in "\\/"


def resolve_relative_paths(doc: dict[str, Any], *, working_dir: str, home: str | None,
                           resolve_symlink: Callable[[str], str] | None = None) -> dict[str, Any]:
    """A copy of ``doc`` with build contexts, bind sources, env/label files, secret/config files... absolute."""
    r = _Resolver(working_dir, home, resolve_symlink)
    table: dict[Path, Callable[[Any], Any]] = {
        pattern("services.*.build.context"): r.context_path,
        pattern("services.*.build.additional_contexts.*"): r.context_path,
        pattern("services.*.build.ssh.*"): r.unix_path,
        pattern("services.*.env_file.*.path"): r.abs_path,
        pattern("services.*.label_file.*"): r.abs_path,
        pattern("services.*.extends.file"): r.abs_path,
        pattern("services.*.develop.watch.*.path"): r.watch_path,
        pattern("services.*.volumes.*"): r.volume_mount,
        pattern("configs.*.file"): r.unix_path,
        pattern("secrets.*.file"): r.unix_path,
        pattern("volumes.*"): r.volume_driver_opts,
    }
    resolved: dict[str, Any] = _walk(plain_copy(doc), (), table, _PATTERNS)
    return resolved


_PATTERNS = Patterns(pattern(p) for p in (
    "services.*.build.context", "services.*.build.additional_contexts.*", "services.*.build.ssh.*",
    "services.*.env_file.*.path", "services.*.label_file.*", "services.*.extends.file",
    "services.*.develop.watch.*.path", "services.*.volumes.*", "configs.*.file", "secrets.*.file", "volumes.*"))


def _walk(value: Any, path: Path, table: dict[Path, Callable[[Any], Any]], patterns: Patterns) -> Any:
    found = patterns.match(path)
    if found is not None:
        return table[found](value)
    if not patterns.below(path):
        return value
    if isinstance(value, dict):
        return {k: _walk(v, (*path, k), table, patterns) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, (*path, ITEM), table, patterns) for v in value]
    return value
