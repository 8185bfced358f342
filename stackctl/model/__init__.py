"""The frozen, typed model of a normalized Compose document.

``Project.from_dict(doc)`` takes exactly the dict ``docker compose config --format json`` prints
(what :func:`stackctl.composefile.loader.load_project` returns as ``document``) and ``to_dict()`` gives it back.
Every class is a frozen, slotted dataclass; lists are tuples and mappings are :class:`FrozenMap`, so a
model value is immutable and hashable. Pure code: no I/O.

Importing this package is cheap: each name is loaded from its module on first use (the planner's
dependency reader, :mod:`stackctl.model.dependencies`, sits on the no-change ``up`` path, which must
not pay for building every model class).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stackctl.model._codec import EMPTY, FrozenMap, freeze, thaw
    from stackctl.model.build import Build, Develop, WatchRule
    from stackctl.model.deploy import (
        Deploy,
        DiscreteResource,
        GenericResource,
        Placement,
        PlacementPreference,
        Resource,
        Resources,
        RestartPolicy,
        UpdateConfig,
    )
    from stackctl.model.parts import (
        Blkio,
        ConfigRef,
        CredentialSpec,
        Dependency,
        Device,
        DeviceRequest,
        EnvFile,
        Extends,
        FileRef,
        Healthcheck,
        Hook,
        Logging,
        Mount,
        MountBind,
        MountImage,
        MountTmpfs,
        MountVolume,
        NetworkAttachment,
        Port,
        Provider,
        SecretRef,
        ServiceModel,
        ThrottleDevice,
        Ulimit,
        WeightDevice,
    )
    from stackctl.model.project import (
        AIModel,
        Config,
        FileObject,
        Ipam,
        IpamPool,
        Network,
        Project,
        Secret,
        Volume,
    )
    from stackctl.model.service import Service


def __getattr__(name: str) -> Any:
    """Load the model classes on first use (PEP 562)."""
    if name not in __all__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    from stackctl.model import _codec, build, deploy, parts, project, service

    for module in (_codec, build, deploy, parts, project, service):
        if hasattr(module, name):
            value = getattr(module, name)
            globals()[name] = value
            return value
    raise AttributeError(name)  # pragma: no cover - every name of __all__ lives in one of them


__all__ = [
    "EMPTY", "AIModel", "Blkio", "Build", "Config", "ConfigRef", "CredentialSpec", "Dependency", "Deploy",
    "Develop", "Device", "DeviceRequest", "DiscreteResource", "EnvFile", "Extends", "FileObject", "FileRef",
    "FrozenMap", "GenericResource", "Healthcheck", "Hook", "Ipam", "IpamPool", "Logging", "Mount", "MountBind",
    "MountImage", "MountTmpfs", "MountVolume", "Network", "NetworkAttachment", "Placement",
    "PlacementPreference", "Port", "Project", "Provider", "Resource", "Resources", "RestartPolicy", "Secret",
    "SecretRef", "Service", "ServiceModel", "ThrottleDevice", "Ulimit", "UpdateConfig", "Volume", "WatchRule",
    "WeightDevice", "freeze", "thaw",
]
