"""``extends``: a service built on another one, in the same file or another file.

Follows compose-go v2.9.1 ``loader/extends.go``: the base service is resolved first (recursively), a deep
copy of it is merged under the extending service with the multi-file merge rules, and ``extends`` is dropped.
A service met twice on the same chain is a cycle. File access goes through an injected ``load_base``.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from stackctl.composefile.yaml12 import Override, ResetType
from stackctl.errors import Problem, SpecError

# (file as written in `extends.file`, name of the extending service) -> services of that file, its name
LoadBase = Callable[[str, str, str], "BaseFile"]
MergeService = Callable[[dict[str, Any], dict[str, Any]], dict[str, Any]]


@dataclass(frozen=True)
class BaseFile:
    """The services of a file named by ``extends.file``, loaded (interpolated, paths rebased)."""

    name: str
    services: dict[str, Any]


@dataclass(frozen=True)
class _Chain:
    """The (file, service) pairs met so far on one extends chain."""

    seen: list[tuple[str, str]] = field(default_factory=list)
    members: set[tuple[str, str]] = field(default_factory=set)

    def add(self, file: str, service: str, *, report_file: str) -> _Chain:
        """The chain with one more step (the chain is walked once, so it grows in place)."""
        ref = (file, service)
        if ref in self.members:
            steps = [f"{self.seen[0][1]} in {self.seen[0][0]}"]
            steps += [f"extends {s} in {f}" for f, s in (*self.seen[1:], ref)]
            raise SpecError(Problem(report_file, "", "Circular reference: " + ", ".join(steps)))
        self.seen.append(ref)
        self.members.add(ref)
        return self


def apply_extends(doc: dict[str, Any], *, file: str, load_base: LoadBase,
                  merge_service: MergeService) -> dict[str, Any]:
    """Resolve every ``extends`` of ``doc['services']`` in place and return ``doc``."""
    services = _unmarked(doc.get("services"))
    if (services is None and "services" not in doc) or isinstance(services, ResetType):
        return doc  # `services: !reset` empties them when files merge
    if not isinstance(services, dict):
        raise SpecError(Problem(file, "services", "services must be a mapping"))
    ctx = _Context(file=file, load_base=load_base, merge_service=merge_service)
    for name in list(services):
        services[name] = ctx.resolve(name, services, file, _Chain())
    return doc


def _unmarked(value: Any) -> Any:
    """The mapping under an ``!override`` marker (extends resolve inside it; the merge replaces)."""
    return value.value if isinstance(value, Override) else value


@dataclass(frozen=True)
class _Context:
    file: str
    load_base: LoadBase
    merge_service: MergeService

    def resolve(self, name: str, services: dict[str, Any], filename: str, chain: _Chain) -> Any:
        """The service with its whole ``extends`` chain merged in, walked without recursion (chains of
        thousands of services are fine); each service on the chain is replaced by its merged form.
        ``name: !reset`` (a service dropped when files merge) comes back as it is; ``name: !override
        {...}`` replaces a service and is extended all the same (it stays marked)."""
        current = services.get(name)
        if current is None or isinstance(current, ResetType):
            return current
        pending: list[tuple[str, dict[str, Any], dict[str, Any], bool]] = []  # name, its services, service, marked
        while True:
            overridden = isinstance(current, Override)
            service = _unmarked(current)
            if not isinstance(service, dict):
                raise SpecError(Problem(self.file, f"services.{name}", f"services.{name} must be a mapping"))
            if "extends" not in service:
                base: Any = service
                break
            ref, other = self._reference(name, service["extends"])
            owner = services
            if other is not None:
                base_file = self.load_base(other, name, filename)
                if ref not in base_file.services:
                    raise SpecError(Problem(self.file, f"services.{name}.extends", f'cannot extend service '
                                            f'"{name}" in {filename}: service "{ref}" not found in {other}'))
                services, filename = base_file.services, other
            elif ref not in services or isinstance(services[ref], ResetType):  # a `!reset` service is gone
                raise SpecError(Problem(self.file, f"services.{name}.extends",
                                        f'cannot extend service "{name}" in {filename}: service "{ref}" not found'))
            chain = chain.add(filename, name, report_file=self.file)
            pending.append((name, owner, service, overridden))
            name, current = ref, services.get(ref)
            if current is None or isinstance(current, ResetType):
                base = None
                break
        result: Any = Override(base) if overridden and not pending else base
        for name, owner, service, marked in reversed(pending):
            if base is None:
                base = result = service
                continue
            merged = self.merge_service(copy.deepcopy(base), service)
            merged.pop("extends", None)
            owner[name] = result = Override(merged) if marked else merged
            base = merged
        return result

    def _reference(self, name: str, extends: Any) -> tuple[str, str | None]:
        if isinstance(extends, str):
            return extends, None
        if isinstance(extends, dict):
            ref = extends.get("service")
            if not isinstance(ref, str):
                raise SpecError(Problem(self.file, f"services.{name}.extends",
                                        f"extends.{name}.service is required"))
            other = extends.get("file")
            if other is not None and not isinstance(other, str):
                raise SpecError(Problem(self.file, f"services.{name}.extends.file", "must be a string"))
            return ref, other
        raise SpecError(Problem(self.file, f"services.{name}.extends",
                                "must be a string or a mapping with `service`"))
