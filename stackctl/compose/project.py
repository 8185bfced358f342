"""A loaded project as the laptop verbs use it: name, normalized document, label context."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from stackctl.engine.container_config import ProjectContext, image_ref


@dataclass(frozen=True)
class Project:
    name: str
    doc: Mapping[str, Any]
    ctx: ProjectContext
    # services of the file left out by profiles or because others were named: their containers are
    # neither planned nor orphans
    disabled: frozenset[str] = field(default_factory=frozenset)

    @property
    def services(self) -> Mapping[str, Mapping[str, Any]]:
        return self.doc.get("services") or {}

    def image_of(self, service: str) -> str:
        return image_ref(self.name, service, self.services[service])

    def known_services(self) -> set[str]:
        return set(self.services) | set(self.disabled)


def runtime_document(value: Any) -> Any:
    """The project as docker compose holds it in memory: ``config`` prints every ``$`` of a value as
    ``$$``; containers (and the config hash) get the single ``$``. Keys are left alone."""
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, Mapping):
        return {k: runtime_document(v) for k, v in value.items()}
    if isinstance(value, list):
        return [runtime_document(v) for v in value]
    return value


def from_document(doc: Mapping[str, Any], *, working_dir: str = "", files: tuple[str, ...] = (),
                  environment_file: str | None = None, disabled: frozenset[str] = frozenset()) -> Project:
    """From the document `config --format json` prints (``$`` escaped as ``$$``)."""
    name = str(doc["name"])
    return Project(name, runtime_document(doc), ProjectContext(name, working_dir, files, environment_file),
                   disabled)


def from_loaded(loaded: Any, *, env_files: tuple[str, ...] = ()) -> Project:
    """From ``stackctl.composefile.loader.LoadedProject``."""
    doc = dict(loaded.document)
    doc.setdefault("name", loaded.name)
    return from_document(doc, working_dir=loaded.working_dir, files=tuple(loaded.files),
                         environment_file=",".join(env_files) or None,
                         disabled=frozenset(getattr(loaded, "disabled", {}) or {})
                         | frozenset(getattr(loaded, "unselected", ()) or ()))
