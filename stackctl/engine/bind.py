"""Binds engine requests into a plan: afterwards each action carries everything applying it needs.

A container action gets its full :class:`ContainerSpec`, a build its :class:`BuildSpec`, a network or
volume its create body and labels, and each action the engine it runs on. The plan is then plain data
(no compose document travels with it): it could be printed, stored or sent to another node. Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any

from stackctl.engine.container_config import (
    build_container_spec,
    endpoints,
    network_body,
    referenced_services,
    volume_body,
)
from stackctl.engine.images import Project, build_spec
from stackctl.plan.actions import LOCAL, Action, Plan


def bind(plan: Plan, project: Project, *, image_ids: Mapping[str, str | None],
         publish: Callable[[str], bool] = lambda service: True, engine: str = LOCAL) -> Plan:
    """``plan`` with every action bound for ``engine``. ``publish(service)``: whether its containers
    publish their fixed host ports themselves (False: something else serves them)."""
    return replace(plan, actions=tuple(bind_action(a, project, image_ids=image_ids, publish=publish, engine=engine)
                                       for a in plan.actions))


def bind_action(action: Action, project: Project, *, image_ids: Mapping[str, str | None],
                publish: Callable[[str], bool], engine: str) -> Action:
    binder = _BINDERS.get(action.kind)
    extra = binder(action, project, image_ids, publish) if binder else {}
    return replace(action, engine=engine, **extra)


def _container(action: Action, project: Project, image_ids: Mapping[str, str | None],
               publish: Callable[[str], bool], **kw: Any) -> dict[str, Any]:
    service = str(action.service)
    spec = build_container_spec(project.doc, project.ctx, service, int(action.number or 1),
                                image_id=image_ids.get(service), publish=publish(service), **kw)
    svc = project.services[service]
    named = referenced_services(svc)
    if not named:
        return {"spec": spec}
    # links and the config hash name the containers of these services, which this plan may create
    peers = {"services": list(named), "service": dict(svc), "project": project.name,
             "number": int(action.number or 1)}
    return {"spec": spec, "params": {**action.params, "peers": peers}}


def _recreate(action: Action, project: Project, image_ids: Mapping[str, str | None],
              publish: Callable[[str], bool]) -> dict[str, Any]:
    return _container(action, project, image_ids, publish, replace=f"{action.service}-{action.number}",
                      create_name=f"{action.params['old_id'][:12]}_{action.target}")


def _start(action: Action, project: Project, image_ids: Mapping[str, str | None],
           publish: Callable[[str], bool]) -> dict[str, Any]:
    svc = project.services.get(action.service or "") or {}
    return {"params": {**action.params, "ports": bool(svc.get("ports"))}}


def _build(action: Action, project: Project, image_ids: Mapping[str, str | None],
           publish: Callable[[str], bool]) -> dict[str, Any]:
    return {"build": build_spec(project, str(action.service))}


def _volume(action: Action, project: Project, image_ids: Mapping[str, str | None],
            publish: Callable[[str], bool]) -> dict[str, Any]:
    body, labels = volume_body(project.ctx, action.params["key"], action.params["config"])
    return {"params": {**action.params, "body": body, "labels": labels}}


def _network(action: Action, project: Project, image_ids: Mapping[str, str | None],
             publish: Callable[[str], bool]) -> dict[str, Any]:
    body, labels = network_body(project.ctx, action.params["key"], action.params["config"])
    params = {**action.params, "body": body, "labels": labels, "project": project.name}
    if action.kind == "recreate_network":
        params["endpoints"] = service_endpoints(project, action.target)
    return {"params": params}


def service_endpoints(project: Project, network: str) -> dict[str, dict[str, Any]]:
    """Per service on ``network``, the endpoint its containers get there, without the container's own
    name among the aliases (the applier puts each container's name first when it reconnects it)."""
    out = {}
    for name, svc in project.services.items():
        ep = endpoints(project.doc, project.ctx, name, svc, "").get(network)
        if ep is not None:
            out[name] = {**ep, "Aliases": list(ep.get("Aliases") or [])[1:]}
    return out


def _wait(action: Action, project: Project, image_ids: Mapping[str, str | None],
          publish: Callable[[str], bool]) -> dict[str, Any]:
    return {"params": {**action.params, "project": project.name}}


_BINDERS: dict[str, Callable[[Action, Project, Mapping[str, str | None], Callable[[str], bool]], dict[str, Any]]] = {
    "create_container": _container,
    "recreate_container": _recreate,
    "start_container": _start,
    "build_image": _build,
    "create_volume": _volume,
    "create_network": _network,
    "recreate_network": _network,
    "wait": _wait,
}
