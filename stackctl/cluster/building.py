"""`build:` services of a stack, built on the CLI machine before a deploy (as `compose build` does).

Each one gets a content-derived tag: ``<repo>:<first 12 hex of the hash of its context files, Dockerfile,
args and target>`` (``<repo>`` is the service's ``image`` repository, else ``<stack>-<service>``), so the
same sources give the same tag and changed ones a new tag (and a new spec hash: the tasks are updated).
The image then goes to the nodes like any other, by image ID and only where missing (deploying.ship_images).
A build failure raises :class:`BuildFailed` with the builder's last lines, before the cluster is touched.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

from stackctl import labels as L
from stackctl.cluster.deploy import Prepared
from stackctl.drivers.docker_engine import DockerEngine
from stackctl.errors import ClusterError, DriverError
from stackctl.plan.actions import BuildSpec

LAST_LINES = 10


class BuildFailed(ClusterError):
    """A `build:` service did not build; nothing was deployed. ``lines``: the builder's last output."""

    def __init__(self, message: str, output: list[str]) -> None:
        super().__init__(message)
        self.output = output

    def lines(self) -> list[str]:
        return [str(self), *(f"  | {line}" for line in self.output)]


@dataclass(frozen=True)
class Built:
    service: str
    tag: str
    image_id: str


def context_digest(context: str, build: Mapping[str, Any]) -> str:
    """The hash of what a build reads: every file under the context (path, mode, content) and the options."""
    h = hashlib.sha256()
    for key in ("dockerfile", "dockerfile_inline", "target", "args"):
        h.update(f"{key}={build.get(key)!r}\n".encode())
    for root, dirs, files in os.walk(context):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(root, name)
            rel = os.path.relpath(path, context)
            if rel.startswith(".git" + os.sep):
                continue
            try:
                st = os.stat(path)
                with open(path, "rb") as fh:
                    data = fh.read()
            except OSError:
                continue
            h.update(f"{rel}\0{st.st_mode & 0o777}\0{len(data)}\0".encode())
            h.update(data)
    return h.hexdigest()


def build_tag(stack: str, service: str, svc: Mapping[str, Any], digest: str) -> str:
    image = str(svc.get("image") or "")
    repo = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    return f"{repo or f'{stack}-{service}'}:{digest[:12]}"


def _spec(stack: str, service: str, build: Mapping[str, Any], tag: str, working_dir: str) -> BuildSpec:
    context = str(build.get("context") or ".")
    if not os.path.isabs(context):
        context = os.path.join(working_dir, context)
    labels = {str(k): str(v) for k, v in (build.get("labels") or {}).items()}
    labels.update({L.STACK: stack, L.SERVICE: service})
    return BuildSpec(tag=tag, context=context, dockerfile=build.get("dockerfile"),
                     args={str(k): str(v) for k, v in (build.get("args") or {}).items() if v is not None},
                     target=build.get("target"), labels=labels, no_cache=bool(build.get("no_cache")),
                     pull=bool(build.get("pull")))


def _build_one(engine: DockerEngine, spec: BuildSpec, service: str) -> str:
    last: deque[str] = deque(maxlen=LAST_LINES)
    try:
        return engine.build_image(spec, on_line=last.append)
    except DriverError as exc:
        raise BuildFailed(f"service {service}: the build failed, nothing was deployed: {exc}", list(last)) from exc


async def build_services(prepared: Prepared, *, stack: str, builds: Mapping[str, Mapping[str, Any]],
                         working_dir: str) -> tuple[Prepared, list[Built]]:
    """Builds each ``build:`` service locally (one after the other, as the engine would anyway) and returns
    the document with the content-derived tags as images."""
    if not builds:
        return prepared, []
    engine = DockerEngine()
    out: list[Built] = []
    services = dict(prepared.document["services"])
    try:
        for name, build in sorted(builds.items()):
            spec0 = _spec(stack, name, build, "", working_dir)
            if not os.path.isdir(spec0.context):
                raise BuildFailed(f"service {name}: build context {spec0.context} is not a directory", [])
            digest = await asyncio.to_thread(context_digest, spec0.context, build)
            tag = build_tag(stack, name, services[name], digest)
            image_id = await asyncio.to_thread(_build_one, engine, replace(spec0, tag=tag), name)
            services[name] = {**services[name], "image": tag}
            out.append(Built(name, tag, image_id))
    finally:
        engine.close()
    document = {**prepared.document, "services": services}
    images = {**prepared.images, **{b.service: b.tag for b in out}}
    return replace(prepared, document=document, images=images), out
