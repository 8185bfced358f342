"""Pull or build the images of the selected services before planning (as docker compose does)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Protocol

from stackctl import labels as L
from stackctl.engine.container_config import ProjectContext
from stackctl.errors import PlanError
from stackctl.plan.actions import Action, BuildSpec, Plan, Reason


class Project(Protocol):
    """A loaded project as the engine layer reads it: its name, normalized document and label
    context (the laptop's ``compose.project.Project`` is one)."""

    @property
    def name(self) -> str: ...
    @property
    def doc(self) -> Mapping[str, Any]: ...
    @property
    def ctx(self) -> ProjectContext: ...
    @property
    def services(self) -> Mapping[str, Mapping[str, Any]]: ...
    def image_of(self, service: str) -> str: ...


def plan_images(project: Project, services: list[str], present: Mapping[str, str | None], *,
                pull: str = "policy", build: bool | None = None) -> Plan:
    """pull_image/build_image actions. ``pull``: policy|always|missing|never; ``build``: --build/--no-build."""
    actions: dict[str, Action] = {}
    for name in services:
        svc = project.services[name]
        ref = project.image_of(name)
        act = _image_action(name, svc, ref, present.get(ref), pull=pull, build=build)
        if act is not None:
            actions.setdefault(act.id, act)
    return Plan(tuple(actions.values()))


def _image_action(name: str, svc: Mapping[str, Any], ref: str, have: str | None, *, pull: str,
                  build: bool | None) -> Action | None:
    policy = str(svc.get("pull_policy") or "missing") if pull == "policy" else pull
    if svc.get("build") and build is not False and (build or have is None or policy == "build"):
        why = Reason("--build") if build else Reason("missing" if have is None else "pull_policy build")
        return Action("build_image", ref, why, name)
    if policy == "always" or (policy in ("missing", "if_not_present", "build") and have is None):
        return Action("pull_image", ref, Reason("missing" if have is None else "pull_policy always"), name)
    if have is None:
        raise PlanError(f'service "{name}": image {ref} not found and pull_policy is {policy}')
    return None


def build_spec(project: Project, name: str) -> BuildSpec:
    svc = project.services[name]
    b = svc.get("build") or {}
    context = str(b.get("context") or ".")
    if not os.path.isabs(context):
        context = os.path.join(project.ctx.working_dir, context)
    labels = {str(k): str(v) for k, v in (b.get("labels") or {}).items()}
    labels.update({L.PROJECT: project.name, L.SERVICE: name, L.VERSION: "stackctl"})
    return BuildSpec(tag=project.image_of(name), context=context, dockerfile=b.get("dockerfile"),
                     args={str(k): str(v) for k, v in (b.get("args") or {}).items() if v is not None},
                     target=b.get("target"), labels=labels, no_cache=bool(b.get("no_cache")),
                     pull=bool(b.get("pull")))
