"""The per-file part of the loader (compose-go v2.9.1 ``loadYamlFile``/``loadYamlModel``).

For each YAML document of each file, in order: interpolate -> ``extends`` -> ``include`` -> merge into the
accumulated model -> uniqueness -> schema validation -> drop ``version`` (warning) -> canonical syntax ->
omit empty ``dns`` -> uniqueness again. Included projects go through the same steps, then get their own
defaults, relative paths and environment resolved.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stackctl.composefile import extends, include
from stackctl.composefile.discovery import STDIN
from stackctl.errors import Problem, SpecError


@dataclass(frozen=True)
class SourceFile:
    """A compose file as read: its name (absolute path or ``-``), text and YAML documents."""

    name: str
    text: str
    documents: list[Any]


def read_text(path: str, *, stdin: str | None = None) -> str:
    """A compose file's text (``-``: the standard input the CLI read), through the one capped reader."""
    from stackctl.composefile.readers import read_text as read_capped

    if path == STDIN:
        return _universal_newlines(stdin or "")
    return _universal_newlines(read_capped(path))


def _universal_newlines(text: str) -> str:
    return text.replace("\r\n", "\n").replace("\r", "\n") if "\r" in text else text


def parse(name: str, text: str) -> SourceFile:
    from stackctl.composefile.yaml12 import load_yaml

    return SourceFile(name, text, list(load_yaml(text, file=name)))


def read_sources(files: Sequence[str], *, stdin: str | None = None) -> list[SourceFile]:
    return [parse(f, read_text(f, stdin=stdin)) for f in files]


@dataclass(frozen=True)
class LoadContext:
    environment: Mapping[str, str]
    warn: Callable[[str], None]
    interpolate: bool = True
    validate: bool = True
    apply_extends: bool = True
    apply_include: bool = True


class FileLoader:
    """Runs the per-file pipeline of one project (or of an included or extended one)."""

    def __init__(self, ctx: LoadContext) -> None:
        self.ctx = ctx

    def load_files(self, sources: Sequence[SourceFile], *, base_dir: str,
                   included: Sequence[str]) -> dict[str, Any]:
        model: dict[str, Any] = {}
        for source in sources:
            for doc in source.documents:
                model = self._document(model, doc, source.name, base_dir, [*included, source.name])
        return model

    def _document(self, model: dict[str, Any], doc: Any, file: str, base_dir: str,
                  included: list[str]) -> dict[str, Any]:
        from stackctl.composefile.canonical import canonicalize
        from stackctl.composefile.merge import enforce_unicity, merge

        if not isinstance(doc.data, dict):  # an empty document (`---` alone) is not a mapping either
            raise SpecError(Problem(file, "", "top-level object must be a mapping"))
        if self.ctx.interpolate:  # a new document: the parsed one stays as read
            data = self._interpolate(doc.data, file, getattr(doc, "lines", None))
        else:
            data = copy.deepcopy(doc.data)
        if self.ctx.apply_extends:
            extends.apply_extends(data, file=file, merge_service=merge_service,
                                  load_base=lambda other, name, current: self._extends_base(
                                      other, name, current, base_dir))
        if self.ctx.apply_include:
            include.apply_include(data, file=file, base_dir=base_dir, included=included,
                                  load_model=self._included_model)
        model = enforce_unicity(merge(model, data, file=file), file=file)
        if self.ctx.validate:
            self._validate(model, file, doc)
        _warn_external_name(model, self.ctx.warn)
        model = canonicalize(model, file=file, lenient=not self.ctx.interpolate)
        return enforce_unicity(_omit_empty_dns(model), file=file)

    def _interpolate(self, data: dict[str, Any], file: str, lines: Any) -> dict[str, Any]:
        from stackctl.composefile.interpolate import interpolate

        return dict(interpolate(data, self.ctx.environment, file=file, warn=self.ctx.warn, lines=lines))

    def _validate(self, model: dict[str, Any], file: str, doc: Any) -> None:
        from stackctl.composefile.validate import validate_schema

        problems = validate_schema(model, file=file, lines=getattr(doc, "lines", None))
        if problems:
            raise SpecError(problems)
        if "version" in model:
            self.ctx.warn(f"{file}: the attribute `version` is obsolete, it will be ignored, "
                          "please remove it to avoid potential confusion")
            del model["version"]

    def _extends_base(self, other: str, name: str, current: str, base_dir: str) -> extends.BaseFile:
        """The services of another file named by ``extends.file``, paths rebased on ``base_dir``."""
        from stackctl.composefile.paths import resolve_relative_paths

        path = os.path.normpath(os.path.join(base_dir, other))
        source = parse(path, read_text(path))
        ctx = LoadContext(environment=self.ctx.environment, warn=self.ctx.warn,
                          interpolate=self.ctx.interpolate, validate=False, apply_extends=False,
                          apply_include=False)
        model = FileLoader(ctx).load_files([source], base_dir=os.path.dirname(path), included=())
        for doc in source.documents:
            _restore_resets(model, doc.data)
        services = model.get("services")
        if "services" not in model:
            raise SpecError(Problem(current, f"services.{name}.extends",
                                    f'cannot extend service "{name}" in {path}: no services section'))
        if not isinstance(services, dict):
            raise SpecError(Problem(current, f"services.{name}.extends",
                                    f'cannot extend service "{name}" in {path}: services must be a mapping'))
        relative = os.path.relpath(os.path.dirname(path), base_dir)
        model = resolve_relative_paths(model, working_dir=relative, home=self.ctx.environment.get("HOME"))
        return extends.BaseFile(other, model["services"])

    def _included_model(self, request: include.IncludeRequest, included: Sequence[str]) -> dict[str, Any]:
        from stackctl.composefile.environment import read_env_file
        from stackctl.composefile.normalize import resolve_environment, set_defaults
        from stackctl.composefile.paths import resolve_relative_paths

        environment = dict(self.ctx.environment)
        for env_file in request.env_files:
            values = read_env_file(env_file, lookup=environment)
            for key, value in values.items():
                if value is not None:
                    environment.setdefault(key, value)
        ctx = LoadContext(environment=environment, warn=self.ctx.warn, interpolate=self.ctx.interpolate)
        sources = read_sources(request.files)
        model = FileLoader(ctx).load_files(sources, base_dir=request.project_dir, included=included)
        model = set_defaults(model)
        model = resolve_relative_paths(model, working_dir=request.relative_dir, home=environment.get("HOME"))
        return resolve_environment(model, environment)


def merge_service(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Merge one service over another with the multi-file merge rules (compose-go ``ExtendService``)."""
    from stackctl.composefile.merge import merge

    merged = merge({"services": {"x": base}}, {"services": {"x": override}})
    return dict(merged["services"]["x"])


def _restore_resets(model: dict[str, Any], raw: Any) -> None:
    """Put back the ``!reset`` markers of a base file's services that loading consumed.

    compose-go keeps a file's reset paths and applies them again when a service of that file extends
    another one, so ``command: !reset`` in the base removes the command it would inherit."""
    from stackctl.composefile.yaml12 import Reset

    services = raw.get("services") if isinstance(raw, dict) else None
    loaded = model.get("services")
    if not isinstance(services, dict) or not isinstance(loaded, dict):
        return
    for name, service in services.items():
        if isinstance(service, dict) and isinstance(loaded.get(name), dict):
            for key, value in service.items():
                if value is Reset:
                    loaded[name][key] = Reset


def _warn_external_name(model: Mapping[str, Any], warn: Callable[[str], None]) -> None:
    """compose-go's canonical transform warns about the deprecated ``external: {name: x}``."""
    for kind in ("networks", "volumes", "secrets", "configs"):
        resources = model.get(kind)
        for key, resource in (resources.items() if isinstance(resources, dict) else ()):
            external = resource.get("external") if isinstance(resource, dict) else None
            if isinstance(external, dict) and "name" in external:
                warn(f"{kind}.{key}: external.name is deprecated. Please set name and external: true")


def _omit_empty_dns(model: dict[str, Any]) -> dict[str, Any]:
    """compose-go ``OmitEmpty``: empty items of ``services.*.dns`` are dropped."""
    for service in (model.get("services") or {}).values():
        if isinstance(service, dict) and isinstance(service.get("dns"), list):
            service["dns"] = [d for d in service["dns"] if d not in (None, "")]
    return model
