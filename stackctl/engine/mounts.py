"""A service's volumes, secrets and configs as the engine's ``Mounts`` and ``Binds``, as docker compose
sends them (which form each takes changes what the engine does with a missing host path). Pure.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from stackctl.engine.durations import size_bytes


def volume_mounts(doc: Mapping[str, Any], svc: Mapping[str, Any], *,
                  volume_name: Callable[[str], str]) -> tuple[list[dict[str, Any]], list[str]]:
    """(Mounts, Binds) as docker compose sends them: binds and plain named volumes as legacy ``Binds``
    strings (the engine creates a missing host folder), the rest as ``Mounts`` (a bind with
    ``create_host_path: false``, a propagation or a recursive option must exist already)."""
    mounts: list[dict[str, Any]] = []
    binds: list[str] = []
    declared = doc.get("volumes") or {}
    for vol in svc.get("volumes") or []:
        kind = vol.get("type")
        if kind == "bind" and not _bind_needs_mount_api(vol.get("bind")):
            binds.append(_bind_string(str(vol["source"]), vol))
        elif kind == "volume" and vol.get("source") in declared and not _volume_needs_mount_api(vol.get("volume")):
            binds.append(_bind_string(volume_name(vol["source"]), vol))
        else:
            mounts.append(_mount(vol, volume_name))
    for kind, default_dir in (("secrets", "/run/secrets/"), ("configs", "/")):
        mounts += _file_objects(doc, svc, kind, default_dir)
    return mounts, binds


def _bind_needs_mount_api(bind: Mapping[str, Any] | None) -> bool:
    if bind is None:
        return False
    return not bind.get("create_host_path", False) or bool(bind.get("propagation") or bind.get("recursive"))


def _volume_needs_mount_api(volume: Mapping[str, Any] | None) -> bool:
    return volume is not None and bool(volume.get("labels") or volume.get("subpath") or volume.get("nocopy"))


def _bind_string(source: str, vol: Mapping[str, Any]) -> str:
    """``source:target:rw|ro[,z|Z][,propagation][,nocopy]``."""
    bind, volume = vol.get("bind") or {}, vol.get("volume") or {}
    options = ["ro" if vol.get("read_only") else "rw"]
    options += [str(o) for o in (bind.get("selinux"), bind.get("propagation")) if o]
    if volume.get("nocopy"):
        options.append("nocopy")
    return f"{source}:{vol['target']}:{','.join(options)}"


def _mount(vol: Mapping[str, Any], volume_name: Callable[[str], str]) -> dict[str, Any]:
    kind = vol.get("type")
    m: dict[str, Any] = {"Type": kind, "Target": vol["target"], "ReadOnly": bool(vol.get("read_only"))}
    if kind == "volume":
        m["Source"] = volume_name(vol["source"]) if vol.get("source") else ""
        options = vol.get("volume")
        if options is not None:
            m["VolumeOptions"] = {k: v for k, v in (("NoCopy", options.get("nocopy")), ("Subpath", options.get(
                "subpath")), ("Labels", options.get("labels"))) if v}
    elif kind == "bind":
        m["Source"] = vol["source"]
        if vol.get("bind") is not None:
            m["BindOptions"] = _bind_options(vol["bind"])
    elif kind == "tmpfs":
        tmpfs = vol.get("tmpfs") or {}
        opts = {k: v for k, v in (("SizeBytes", tmpfs.get("size") and size_bytes(tmpfs["size"])),
                                  ("Mode", tmpfs.get("mode"))) if v}
        if opts:
            m["TmpfsOptions"] = opts
    else:
        m["Source"] = vol.get("source", "")
    return m


def _bind_options(bind: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if bind.get("propagation"):
        out["Propagation"] = str(bind["propagation"])
    if bind.get("create_host_path"):
        out["CreateMountpoint"] = True  # API 1.44; older engines ignore it
    flag = {"disabled": "NonRecursive", "writable": "ReadOnlyNonRecursive",
            "readonly": "ReadOnlyForceRecursive"}.get(str(bind.get("recursive") or ""))
    if flag:
        out[flag] = True
    return out


def _file_objects(doc: Mapping[str, Any], svc: Mapping[str, Any], kind: str, default_dir: str) -> list[dict[str, Any]]:
    """File-based secrets and configs, bind-mounted read-only."""
    out = []
    for ref in svc.get(kind) or []:
        ref = {"source": ref} if isinstance(ref, str) else ref
        top = (doc.get(kind) or {}).get(ref["source"]) or {}
        if not top.get("file"):
            continue
        target = ref.get("target") or ref["source"]
        if not str(target).startswith("/"):
            target = default_dir + str(target)
        mount: dict[str, Any] = {"Type": "bind", "Source": top["file"], "Target": target, "ReadOnly": True}
        if kind == "secrets":  # docker compose: a secret's file must exist (no host path created)
            mount["BindOptions"] = {}
        out.append(mount)
    return out
