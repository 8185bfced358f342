"""`stack deploy`'s decisions, before anything is written: what a cluster refuses, what it ignores, which
images a stack needs, and the records (StackRecord + ServiceRecords) a deploy writes.

Pure: the loaded canonical document, the local image IDs and the clock reading come in as arguments.
A refusal is a :class:`~stackctl.errors.SpecError` naming the file and key path (one line each), raised
before any connection, so a file the cluster cannot run changes nothing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from stackctl.cluster.scheduler import requirements
from stackctl.cluster.state import ServiceRecord, StackRecord, valid_name
from stackctl.cluster.traffic import check_service
from stackctl.errors import Problem, SchedulingError, SpecError
from stackctl.model.reading import replicas_of
from stackctl.plan.hashing import service_hash

# Keys of a service that a cluster task does not use; like `docker stack deploy`, a warning names them.
IGNORED_KEYS = ("build", "container_name", "restart", "links", "external_links", "cgroup_parent", "userns_mode")
# `build:` is built on the CLI machine (cluster/building.py) and then dropped from the stored document.
HANDLED_KEYS = ("build",)
STACK_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,62}$")


@dataclass(frozen=True)
class Prepared:
    """A document ready for the cluster: ``images`` maps each service to its image reference."""

    document: dict[str, Any]
    images: dict[str, str]
    warnings: list[str]
    builds: dict[str, dict[str, Any]] = field(default_factory=dict)  # service -> its `build:` (built on this machine)


def check_stack_name(name: str) -> None:
    if not STACK_NAME.match(name) or not valid_name(name):
        raise SpecError(Problem("", "", f"invalid stack name {name!r}: lowercase letters, digits, '_' and '-', "
                                        "starting with a letter or digit"))


def prepare(name: str, document: Mapping[str, Any], *, file: str) -> Prepared:
    """Check that a cluster can run ``document`` and return it as stored: ``build`` and the other ignored
    keys dropped, a build-only service given compose's image name ``<stack>-<service>``."""
    check_stack_name(name)
    problems: list[Problem] = []
    warnings: list[str] = []
    services: dict[str, Any] = {}
    builds: dict[str, dict[str, Any]] = {}
    for svc_name, svc in (document.get("services") or {}).items():
        where = f"services.{svc_name}"
        problems += _service_problems(svc, where=where, file=file)
        ignored = [k for k in IGNORED_KEYS if svc.get(k) is not None and k not in HANDLED_KEYS]
        if svc.get("build") is not None:
            builds[svc_name] = json.loads(json.dumps(svc["build"]))
        if ignored:
            warnings.append(f"{where}: ignoring what a cluster does not use: {', '.join(ignored)}")
        kept = {k: v for k, v in svc.items() if k not in IGNORED_KEYS}
        kept["image"] = svc.get("image") or f"{name}-{svc_name}"
        services[svc_name] = kept
    if not services:
        problems.append(Problem(file, "services", "the stack has no service"))
    if problems:
        raise SpecError(sorted(problems))
    doc = {k: v for k, v in document.items() if k != "services"}
    doc["services"] = services
    doc = json.loads(json.dumps(doc))  # plain JSON values, as they come back from etcd
    return Prepared(document=doc, images={s: str(v["image"]) for s, v in services.items()}, warnings=warnings,
                    builds=builds)


def _service_problems(svc: Mapping[str, Any], *, where: str, file: str) -> list[Problem]:
    out: list[Problem] = []
    deploy = svc.get("deploy") or {}
    mode = deploy.get("mode") or "replicated"
    if mode not in ("replicated", "global"):
        out.append(Problem(file, f"{where}.deploy.mode", f"{mode!r} cannot be deployed to a cluster yet "
                                                         "(replicated or global)"))
    if deploy.get("endpoint_mode") == "dnsrr":
        out.append(Problem(file, f"{where}.deploy.endpoint_mode", "dnsrr cannot work in a stackctl cluster: "
                                                                  "every service is reached through its virtual IP "
                                                                  "(remove it, or use vip)"))
    if mode == "global" and deploy.get("replicas") is not None:
        out.append(Problem(file, f"{where}.deploy.replicas", "replicas can only be used with replicated mode"))
    try:
        requirements(svc, path=where)  # the scheduler's own reading: constraints, spread, reservations
    except SchedulingError as exc:
        out.append(Problem(file, "", str(exc)))
    network_mode = str(svc.get("network_mode") or "")
    if network_mode.startswith(("service:", "container:")):
        out.append(Problem(file, f"{where}.network_mode", f"{network_mode!r} cannot work in a cluster: the other "
                                                          "container may run on another node"))
    if svc.get("volumes_from"):
        out.append(Problem(file, f"{where}.volumes_from", "cannot work in a cluster: the other container may run "
                                                          "on another node"))
    for key in ("secrets", "configs"):
        if svc.get(key):
            out.append(Problem(file, f"{where}.{key}", f"{key} are not supported by stack deploy yet (the files "
                                                       "are on this machine, not on the nodes)"))
    out += [Problem(file, key, message) for key, message in check_service(svc, where=where)]
    if not svc.get("image") and not svc.get("build"):
        out.append(Problem(file, where, "has no image"))
    return out


def mode_of(svc: Mapping[str, Any]) -> str:
    return str((svc.get("deploy") or {}).get("mode") or "replicated")


def spec_hash(svc: Mapping[str, Any], image_id: str | None) -> str:
    """The service's spec hash, with its image pinned to the ID it had on the CLI machine at deploy, so that
    re-deploying a rebuilt image under the same tag replaces the tasks."""
    pinned = dict(svc)
    if image_id:
        pinned["image"] = f"{svc['image']}@{image_id}"
    return service_hash(pinned)


def _previous(stack: StackRecord | None, was: ServiceRecord | None) -> dict[str, Any] | None:
    """What a changed service rolls back to: its spec (document entry and image ID) before this deploy."""
    if stack is None or was is None:
        return None
    doc = (stack.document.get("services") or {}).get(was.service)
    if not isinstance(doc, dict):
        return None
    ref = str(doc.get("image") or "")
    return {"spec_hash": was.spec_hash, "service": doc,
            "images": {ref: stack.images[ref]} if ref in stack.images else {}}


def records(prepared: Prepared, *, name: str, image_ids: Mapping[str, str], now: float,
            previous: StackRecord | None, previous_services: Sequence[ServiceRecord]) -> tuple[
                StackRecord, list[ServiceRecord], bool]:
    """The StackRecord and ServiceRecords a deploy writes, and whether anything changed since ``previous``.

    ``image_ids`` maps an image reference to its ID on the CLI machine (images not there are absent: a node
    pulls them). Versions grow only for what changed; a service left as it was keeps its record.
    """
    images = {ref: image_ids[ref] for ref in sorted(set(prepared.images.values())) if ref in image_ids}
    old = {s.service: s for s in previous_services}
    services: list[ServiceRecord] = []
    for svc_name, svc in sorted(prepared.document["services"].items()):
        mode = mode_of(svc)
        replicas = 0 if mode == "global" else replicas_of(svc)
        new = ServiceRecord(stack=name, service=svc_name, version=1, spec_hash=spec_hash(svc, images.get(svc["image"])),
                            mode="global" if mode == "global" else "replicated", replicas=replicas, updated=now)
        was = old.get(svc_name)
        if was is not None and (was.spec_hash, was.mode, was.replicas) == (new.spec_hash, new.mode, new.replicas):
            services.append(was)
        elif was is not None and was.spec_hash == new.spec_hash:  # only the mode or replicas changed
            services.append(replace(was, version=was.version + 1, mode=new.mode, replicas=new.replicas, updated=now))
        else:
            services.append(ServiceRecord(stack=name, service=svc_name, version=(was.version + 1 if was else 1),
                                          spec_hash=new.spec_hash, mode=new.mode, replicas=new.replicas, updated=now,
                                          previous=_previous(previous, was)))
    same_stack = previous is not None and previous.document == prepared.document and previous.images == images
    same_services = sorted(old) == [s.service for s in services] and all(s is old[s.service] for s in services)
    if previous is not None and same_stack and same_services:
        return previous, list(previous_services), False
    stack = StackRecord(name=name, document=prepared.document, version=(previous.version + 1 if previous else 1),
                        images=images, created=previous.created if previous else now, updated=now)
    return stack, services, True
