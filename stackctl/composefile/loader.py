"""Load a Compose project: files -> the document ``docker compose config --format json`` prints.

The order is compose-go v2.9.1's (``cli/options.go`` then ``loader/loader.go``), as docker compose v2.40.3
runs it for ``config``:

1. project directory, environment (OS env wins over ``--env-file``/``.env``), compose files (``-f``,
   ``COMPOSE_FILE``, discovery), profiles (``--profile`` or ``COMPOSE_PROFILES``), project name;
2. per file, per YAML document: interpolate -> ``extends`` -> ``include`` -> merge into the accumulated
   model -> uniqueness -> schema validation -> drop ``version`` (warning) -> canonical (long) syntax ->
   uniqueness again (:mod:`stackctl.composefile.fileload`);
3. defaults, semantic validation, absolute paths, environment resolution and normalization
   (:func:`stackctl.composefile.normalize.normalize`);
4. profiles, consistency checks, ``env_file`` folded into ``environment``, services named on the
   command line (with their dependencies), unused resources dropped.

``extends`` (:mod:`stackctl.composefile.extends`), ``include`` (:mod:`stackctl.composefile.include`), discovery
(:mod:`stackctl.composefile.discovery`), profiles (:mod:`stackctl.composefile.profiles`) and the project name
(:mod:`stackctl.composefile.project_name`) live in their own modules.

The code reads files (through :mod:`stackctl.composefile.fileload`) but never ``os.environ``, the clock or
stdin: the caller passes ``environ``, ``cwd`` and the text of ``-``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from stackctl.composefile import discovery, profiles
from stackctl.composefile.fileload import FileLoader, LoadContext, SourceFile, read_sources
from stackctl.composefile.project_name import check_imperative_name, choose_project_name
from stackctl.errors import Problem, SpecError, UsageError


@dataclass(frozen=True, kw_only=True)
class ProjectOptions:
    """Everything a load depends on; the CLI fills it from flags and ``os.environ``."""

    cwd: str
    files: tuple[str, ...] = ()
    project_name: str | None = None
    project_directory: str | None = None
    env_files: tuple[str, ...] = ()
    profiles: tuple[str, ...] = ()
    environ: Mapping[str, str] = field(default_factory=dict)
    stdin: str | None = None              # the text of `-f -`
    services: tuple[str, ...] = ()        # services named on the command line
    interpolate: bool = True
    normalize: bool = True
    resolve_paths: bool = True
    consistency: bool = True
    resolve_env: bool = True              # fold env_file into environment
    all_resources: bool = False
    model_only: bool = False              # stop after normalization (`config --no-interpolate`)


@dataclass(frozen=True)
class LoadedProject:
    """A loaded project. ``document`` is the normalized model (:func:`stackctl.composefile.serialize.to_json`
    prints it as ``docker compose config --format json`` does): enabled, selected services only.
    ``disabled`` holds the services the active ``profiles`` leave out; ``warnings`` are for the CLI to
    print (``environment`` is what interpolation saw, COMPOSE_PROJECT_NAME included)."""

    name: str
    working_dir: str
    files: tuple[str, ...]
    document: dict[str, Any]
    environment: dict[str, str]
    warnings: list[str]
    profiles: tuple[str, ...] = ()
    disabled: dict[str, Any] = field(default_factory=dict)
    unselected: tuple[str, ...] = ()  # enabled services left out because others were named


def load_project(options: ProjectOptions) -> LoadedProject:
    """Load, merge, validate and normalize a project; raises SpecError naming every problem."""
    warnings: list[str] = []
    setup = _prepare(options, warnings)
    ctx = LoadContext(environment=setup.environment, warn=warnings.append, interpolate=options.interpolate)
    raw = FileLoader(ctx).load_files(setup.sources, base_dir=setup.working_dir, included=())
    if not raw:
        raise SpecError(Problem(setup.sources[0].name, "", "empty compose file"))
    if not setup.name:
        raise SpecError(Problem(setup.sources[-1].name, "name", "project name must not be empty"))
    active = profiles.active_profiles(options.profiles, setup.environment)
    if options.model_only:
        document = _model(raw, options, setup)
        split = profiles.split_services(document.get("services") or {}, active)
    else:
        document = _normalize(raw, options, setup)
        document, split = _apply_profiles(document, options, active, setup.sources[0].name)
        document = _finish(document, options, setup.environment, os.path.abspath(options.cwd))
    return LoadedProject(name=setup.name, working_dir=setup.working_dir,
                         files=tuple(s.name for s in setup.sources), document=document,
                         environment=setup.environment, warnings=_unique(warnings), profiles=split.profiles,
                         disabled=split.disabled,
                         unselected=tuple(n for n in split.enabled if n not in (document.get("services") or {})))


@dataclass(frozen=True)
class _Setup:
    """What is known before the files are loaded."""

    working_dir: str
    environment: dict[str, str]
    sources: list[SourceFile]
    name: str


def _prepare(options: ProjectOptions, warnings: list[str]) -> _Setup:
    """Environment, compose files, project directory and project name (compose-go ``cli/options.go``)."""
    cwd = os.path.abspath(options.cwd)
    environ = dict(options.environ)
    environ.setdefault("PWD", cwd)
    env_files = tuple(discovery.absolute(f, cwd) for f in options.env_files)
    # compose-go reads a first .env where -f points (or --project-directory, or the cwd), before it knows
    # the files COMPOSE_FILE or discovery may add
    start_dir = discovery.first_dir(options.files, project_directory=options.project_directory, cwd=cwd)
    environment = _environment(environ, env_files, start_dir, cwd, warnings.append)
    found = discovery.choose_files(options.files, environment, cwd=cwd,
                                   project_directory=options.project_directory)
    warnings += found.warnings
    working_dir = discovery.first_dir(found.files, project_directory=options.project_directory, cwd=cwd)
    if working_dir != start_dir:  # a .env next to the files counts too; what is already set wins
        environment = {**_environment(environ, env_files, working_dir, cwd, warnings.append), **environment}
    sources = read_sources(found.files, stdin=options.stdin)
    name = _project_name(options, environment, sources, working_dir, warnings.append)
    environment["COMPOSE_PROJECT_NAME"] = name
    return _Setup(working_dir, environment, sources, name)


def _environment(environ: Mapping[str, str], env_files: tuple[str, ...], project_dir: str, cwd: str,
                 warn: Callable[[str], None]) -> dict[str, str]:
    from stackctl.composefile.environment import project_environment

    return dict(project_environment(environ=environ, env_files=env_files, project_dir=project_dir, cwd=cwd,
                                    warn=warn))


def _project_name(options: ProjectOptions, environment: Mapping[str, str], sources: list[SourceFile],
                  working_dir: str, warn: Callable[[str], None]) -> str:
    flag = options.project_name or None
    env_name = environment.get("COMPOSE_PROJECT_NAME") or None
    file_name = None if (flag or env_name) else _name_in_files(sources, environment, options.interpolate)
    name, imperative = choose_project_name(flag=flag, env_name=env_name, file_name=file_name,
                                           directory_name=os.path.basename(working_dir),
                                           normalize=options.normalize)
    if not (flag or env_name or file_name is not None):
        _warn_symlink(working_dir, warn)
    if imperative:
        message = check_imperative_name(name)
        if message:
            raise UsageError(message)
    return name


def _warn_symlink(working_dir: str, warn: Callable[[str], None]) -> None:
    dirname = os.path.basename(working_dir)
    if os.path.basename(os.path.realpath(working_dir)) != dirname:
        warn(f'project has been loaded without an explicit name from a symlink. Using name "{dirname}"')


def _name_in_files(sources: list[SourceFile], environment: Mapping[str, str], interpolate: bool) -> str | None:
    """The last non-empty top-level ``name:`` of the files, interpolated; None if no file has one."""
    found = None
    for source in sources:
        for doc in source.documents:
            value = doc.data.get("name") if isinstance(doc.data, dict) else None
            if isinstance(value, str) and value:
                found = value
    if found is None or not interpolate:
        return found
    from stackctl.composefile.interpolate import interpolate as run_interpolation

    result = run_interpolation({"name": found}, environment, file=sources[0].name, warn=None)
    return str(result["name"])


def _normalize(raw: dict[str, Any], options: ProjectOptions, setup: _Setup) -> dict[str, Any]:
    """Defaults, paths, environment, compose-go's Normalize and type binding (env files come later)."""
    from stackctl.composefile.normalize import normalize

    return normalize(raw, project_name=setup.name, working_dir=setup.working_dir,
                     environment=dict(setup.environment), resolve_paths=options.resolve_paths,
                     resolve_env=False, drop_unused=False, apply_normalization=options.normalize,
                     file=setup.sources[0].name)


def _model(raw: dict[str, Any], options: ProjectOptions, setup: _Setup) -> dict[str, Any]:
    """The model as compose-go's LoadModel returns it (no type binding): `config --no-interpolate`."""
    from stackctl.composefile.normalize import normalize_model, resolve_environment, set_defaults
    from stackctl.composefile.paths import resolve_relative_paths

    # docker compose v2.40.3 hands LoadModel no environment: nothing is resolved from it
    environment = {"COMPOSE_PROJECT_NAME": setup.name}
    doc = set_defaults(raw)
    if options.resolve_paths:
        doc = resolve_relative_paths(doc, working_dir=setup.working_dir, home=setup.environment.get("HOME"))
    doc = resolve_environment(doc, environment)
    if options.normalize:
        doc = normalize_model(doc, project_name=setup.name, environment=environment)
    return doc


def _apply_profiles(document: dict[str, Any], options: ProjectOptions, active: tuple[str, ...],
                    file: str) -> tuple[dict[str, Any], profiles.ServiceSplit]:
    services = document.get("services") or {}
    split = profiles.split_services(services, active)
    if options.consistency:
        _check_consistency({**document, "services": split.enabled}, split, file)
    split = profiles.enable_services(split, options.services)
    selected = profiles.select_services(split.enabled, options.services)
    return {**document, "services": selected}, split


def _finish(document: dict[str, Any], options: ProjectOptions, environment: Mapping[str, str],
            cwd: str) -> dict[str, Any]:
    """env_file folded into environment, then resources no service uses dropped."""
    from stackctl.composefile.environment import read_env_file
    from stackctl.composefile.normalize import drop_unused_resources, fold_env_files

    if options.resolve_env:
        document = fold_env_files(document, environment=environment, read_env_file=_env_file_reader(read_env_file, cwd))
    if not options.all_resources:
        document = drop_unused_resources(document)
    return document


def _check_consistency(document: dict[str, Any], split: profiles.ServiceSplit, file: str) -> None:
    from stackctl.composefile.consistency import check_consistency

    checked = {**document, "services": profiles.without_optional_disabled(split.enabled, split.disabled)}
    problems = check_consistency(checked, file=file)
    if problems:
        raise SpecError(problems)


def _env_file_reader(read_env_file: Callable[..., Any], cwd: str) -> Callable[..., Any]:
    """``read_env_file`` taking its ``lookup`` as a mapping or as a ``key -> value | None`` callable, and
    reading a relative path (left so by ``--no-path-resolution``) from ``cwd`` as compose does."""

    def read(path: str, *, lookup: Any, required: bool = True, fmt: str | None = None) -> Any:
        if not isinstance(lookup, Mapping):
            lookup = _LookupMapping(lookup)
        return read_env_file(os.path.join(cwd, path), lookup=lookup, required=required, fmt=fmt)

    return read


class _LookupMapping(Mapping[str, str]):
    """A read-only mapping over a lookup function (unset = None); it cannot be listed."""

    def __init__(self, lookup: Callable[[str], str | None]) -> None:
        self._lookup = lookup

    def __getitem__(self, key: str) -> str:
        value = self._lookup(key)
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))
