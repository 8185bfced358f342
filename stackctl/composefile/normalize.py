"""What ``docker compose config`` does to the merged model, in compose-go v2.9.1's order.

``normalize(doc, project_name=..., working_dir=..., environment=...)`` takes the merged, canonical document
(every file already through :func:`~stackctl.composefile.canonical.canonicalize` and merged) and returns the
normalized model: the document ``docker compose config`` prints, with single ``$`` (the serializer escapes
them) and a little more than the JSON shows (x-* keys of services and nested objects, whole ``env_file``
entries, a secret's value read from the environment as ``content``); :mod:`stackctl.composefile.serialize` prints it.

1. defaults: build context ``.``, secret targets ``/run/secrets/<source>``, port protocol/mode,
   device request ``count: all``;
2. relative paths made absolute (unless ``resolve_paths=False``);
3. environment entries without a value resolved from the project environment, secrets/configs
   ``environment`` sources;
4. compose-go's Normalize: default network and its users, ``pull_policy`` alias, build dockerfile default,
   build args, implicit ``depends_on`` from links / volumes_from / ``service:`` namespaces, resource names;
5. binding to compose-go's types (:mod:`stackctl.composefile.gotypes`): shell-split commands, maps for lists...;
6. through the injected ``read_env_file(path, *, lookup: Mapping, required, fmt)`` callable: ``env_file``
   folded into ``environment`` (``resolve_env=True``) and ``label_file`` into ``labels`` (always);
7. top-level networks/volumes/secrets/configs/models no service uses dropped (``drop_unused=True``).
Profiles are applied by the loader between 5 and 7 (call :func:`drop_unused_resources` itself then).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from typing import Any

from stackctl.composefile._tree import plain_copy
from stackctl.composefile.gotypes import ENV_VALUE, bind, in_field_order
from stackctl.composefile.paths import resolve_relative_paths

ReadEnvFile = Callable[..., Mapping[str, "str | None"]]
_STARTED = "service_started"


def normalize(doc: dict[str, Any], *, project_name: str, working_dir: str, environment: Mapping[str, str],
              resolve_paths: bool = True, resolve_env: bool = True, read_env_file: ReadEnvFile | None = None,
              home: str | None = None, apply_normalization: bool = True, drop_unused: bool = True,
              cwd: str | None = None, resolve_symlink: Callable[[str], str] | None = None,
              file: str = "") -> dict[str, Any]:
    """The document ``docker compose config`` prints for the merged model ``doc`` (see the module doc)."""
    doc = set_defaults(doc)
    if resolve_paths:
        doc = resolve_relative_paths(doc, working_dir=working_dir, resolve_symlink=resolve_symlink,
                                     home=home if home is not None else environment.get("HOME"))
    doc = resolve_environment(doc, environment)
    if apply_normalization:
        doc = normalize_model(doc, project_name=project_name, environment=environment)
    doc = bind({**doc, "name": project_name}, file=file)
    if resolve_env and read_env_file is None:
        raise TypeError("resolve_env=True needs a read_env_file callable")
    if read_env_file is not None:
        doc = fold_env_files(doc, environment=environment, read_env_file=read_env_file, cwd=cwd,
                             env_files=resolve_env)
    if drop_unused:
        doc = drop_unused_resources(doc)
    return doc


# --- 1. defaults (transform.SetDefaultValues) ------------------------------------------------------------

def set_defaults(doc: dict[str, Any]) -> dict[str, Any]:
    """Build context, secret targets, port protocol/mode and device request counts filled in."""
    doc = plain_copy(doc)
    for service in _services(doc).values():
        if not isinstance(service, dict):
            continue
        if isinstance(service.get("build"), dict):
            service["build"].setdefault("context", ".")
        for secret in service.get("secrets") or []:
            if isinstance(secret, dict) and "target" not in secret:
                secret["target"] = f"/run/secrets/{secret.get('source')}"
        for port in service.get("ports") or []:
            if isinstance(port, dict):
                port.setdefault("protocol", "tcp")
                port.setdefault("mode", "ingress")
        reservations = ((service.get("deploy") or {}).get("resources") or {}).get("reservations") or {}
        for request in [*(reservations.get("devices") or []), *(service.get("gpus") or [])]:
            if isinstance(request, dict) and "count" not in request and "device_ids" not in request:
                request["count"] = "all"
    return doc


def _services(doc: dict[str, Any]) -> dict[str, Any]:
    services = doc.get("services")
    return services if isinstance(services, dict) else {}


# --- 3. environment (loader.ResolveEnvironment) ----------------------------------------------------------

def resolve_environment(doc: dict[str, Any], environment: Mapping[str, str]) -> dict[str, Any]:
    """``- KEY`` environment entries given their value; secrets/configs read from ``environment``."""
    doc = plain_copy(doc)
    for service in _services(doc).values():
        if isinstance(service, dict) and isinstance(service.get("environment"), list):
            service["environment"] = [
                f"{e}={environment[e]}" if isinstance(e, str) and e in environment else e
                for e in service["environment"] if isinstance(e, str)]
    for kind in ("secrets", "configs"):  # the value is kept aside (not as `content`: that is a third source)
        resources = doc.get(kind)
        for resource in (resources.values() if isinstance(resources, dict) else []):
            source = resource.get("environment") if isinstance(resource, dict) else None
            if isinstance(source, str) and source in environment:
                resource[ENV_VALUE] = environment[source]
    return doc


# --- 4. loader.Normalize ---------------------------------------------------------------------------------

def normalize_model(doc: dict[str, Any], *, project_name: str, environment: Mapping[str, str]) -> dict[str, Any]:
    """Default network, pull_policy alias, build defaults, implicit depends_on, resource names."""
    doc = plain_copy(doc)
    _default_network(doc)
    for service in _services(doc).values():
        if isinstance(service, dict):
            _normalize_service(service, environment)
    doc["name"] = project_name
    _names_from_keys(doc, project_name)
    return doc


def _default_network(doc: dict[str, Any]) -> None:
    declared = doc.get("networks")
    networks: dict[str, Any] = declared if isinstance(declared, dict) else {}
    used = False
    for service in _services(doc).values():
        if not isinstance(service, dict) or "provider" in service or "network_mode" in service:
            continue
        nets = service.get("networks")
        if not nets:
            service["networks"] = {"default": None}
            used = True
        elif isinstance(nets, dict) and "default" in nets:
            used = True
    if used and "default" not in networks:
        networks["default"] = None
    if networks:
        doc["networks"] = networks


def _resolve(value: Any, environment: Mapping[str, str], keep_empty: bool) -> Any:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, val in value.items():
            if val is not None:
                out[key] = val
            elif key in environment:
                out[key] = environment[key]
            elif keep_empty:
                out[key] = None
        return out
    if isinstance(value, list):
        items = []
        for entry in value:
            if not isinstance(entry, str) or "=" in entry:
                items.append(entry)
            elif entry in environment:
                items.append(f"{entry}={environment[entry]}")
            elif keep_empty:
                items.append(entry)
        return items
    return value


def _normalize_service(service: dict[str, Any], environment: Mapping[str, str]) -> None:
    if service.get("pull_policy") == "if_not_present":
        service["pull_policy"] = "missing"
    build = service.get("build")
    if isinstance(build, dict):
        if build.get("context") is None:
            build["context"] = "."
        if build.get("dockerfile") is None and build.get("dockerfile_inline") is None:
            build["dockerfile"] = "Dockerfile"
        if "args" in build:
            build["args"] = _resolve(build["args"], environment, False)
    if "environment" in service:
        service["environment"] = _resolve(service["environment"], environment, True)
    declared = service.get("depends_on")
    depends_on: dict[str, Any] = declared if isinstance(declared, dict) else {}
    for name in _implicit_dependencies(service):
        depends_on.setdefault(name, {"condition": _STARTED, "restart": True, "required": True})
    for entry in service.get("volumes_from") or []:
        if isinstance(entry, str) and not entry.startswith("container:"):
            depends_on.setdefault(entry.split(":")[0], {"condition": _STARTED, "restart": False, "required": True})
    if depends_on:
        service["depends_on"] = depends_on


def _implicit_dependencies(service: dict[str, Any]) -> list[str]:
    names = []
    for link in service.get("links") or []:
        parts = str(link).split(":")
        names.append(parts[0] if len(parts) == 2 else str(link))
    for namespace in ("network_mode", "ipc", "pid", "uts", "cgroup"):
        ref = service.get(namespace)
        if isinstance(ref, str) and ref.startswith("service:"):
            names.append(ref[len("service:"):])
    return names


def _names_from_keys(doc: dict[str, Any], project_name: str) -> None:
    for kind in ("networks", "volumes", "configs", "secrets"):
        resources = doc.get(kind)
        if not isinstance(resources, dict):
            continue
        for key, resource in list(resources.items()):
            resource = resource if isinstance(resource, dict) else {}
            if resource.get("name") is None:
                external = str(resource.get("external")).lower() in ("true", "1", "t")
                resource["name"] = key if external else f"{project_name}_{key}"
            resources[key] = resource


# --- 6. env_file / label_file (Project.WithServicesEnvironmentResolved / LabelsResolved) -----------------

def fold_env_files(doc: dict[str, Any], *, environment: Mapping[str, str], read_env_file: ReadEnvFile,
                   cwd: str | None = None, env_files: bool = True) -> dict[str, Any]:
    """Each service's ``env_file`` contents merged under its ``environment`` (which wins); same for
    ``label_file`` under ``labels`` (always done by compose-go, even when ``env_files=False``).

    Relative file paths (left by ``resolve_paths=False``) are read from ``cwd``, as compose-go does.
    """
    doc = plain_copy(doc)
    services = doc.get("services") or {}

    def reader(path: str, **kwargs: Any) -> Mapping[str, str | None]:
        if cwd is not None and not posixpath.isabs(path):
            path = posixpath.join(cwd, path)
        return read_env_file(path, **kwargs)

    for name, service in services.items():
        if env_files:
            _fold_env(service, environment, reader)
        _fold_labels(service, reader)
        services[name] = in_field_order(service, "ServiceConfig")
    return doc


def _fold_env(service: dict[str, Any], environment: Mapping[str, str], read_env_file: ReadEnvFile) -> None:
    declared = {k: (environment.get(k) if v is None else v) for k, v in (service.get("environment") or {}).items()}
    resolved = {k: v for k, v in declared.items() if v is not None}
    merged: dict[str, Any] = dict(resolved)
    for entry in service.pop("env_file", None) or []:
        path, required, fmt = (entry, True, None) if isinstance(entry, str) else (
            entry["path"], entry.get("required", True), entry.get("format"))
        # compose-go: ${VAR} in an env file reads the project, then the service's environment, then the
        # values the earlier env files of the service set
        lookup = {**merged, **resolved, **environment}
        values = read_env_file(path, lookup=lookup, required=required, fmt=fmt) or {}
        merged.update({k: v for k, v in values.items() if v is not None})
    merged.update(declared)
    if merged:
        service["environment"] = dict(sorted(merged.items()))
    else:
        service.pop("environment", None)


def _fold_labels(service: dict[str, Any], read_env_file: ReadEnvFile) -> None:
    files = service.pop("label_file", None)
    if not files:
        return
    labels: dict[str, Any] = {}
    for path in files:
        values = read_env_file(path, lookup=dict(labels), required=True, fmt=None) or {}
        labels.update({k: v for k, v in values.items() if v is not None})
    labels.update(service.get("labels") or {})
    service["labels"] = dict(sorted(labels.items()))


# --- 7. Project.WithoutUnnecessaryResources --------------------------------------------------------------

def drop_unused_resources(doc: dict[str, Any]) -> dict[str, Any]:
    """Top-level networks/volumes/secrets/configs/models that no service refers to removed."""
    used: dict[str, set[str]] = {k: set() for k in ("networks", "volumes", "secrets", "configs", "models")}
    for service in (doc.get("services") or {}).values():
        used["networks"].update(service.get("networks") or {})
        used["volumes"].update(v["source"] for v in service.get("volumes") or []
                               if v.get("type") == "volume" and v.get("source"))
        used["secrets"].update(s.get("source") for s in service.get("secrets") or [])
        used["secrets"].update(s.get("source") for s in (service.get("build") or {}).get("secrets") or [])
        used["configs"].update(c.get("source") for c in service.get("configs") or [])
        used["models"].update(service.get("models") or {})
    out = dict(doc)
    for kind, names in used.items():
        if kind in doc:
            kept = {k: v for k, v in doc[kind].items() if k in names}
            if kept:
                out[kind] = kept
            else:
                out.pop(kind)
    return out
