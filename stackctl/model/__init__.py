"""The frozen, typed model of a normalized Compose document.

``Project.from_dict(doc)`` takes exactly the dict ``docker compose config --format json`` prints
(what :func:`stackctl.composefile.loader.load_project` returns as ``document``) and ``to_dict()`` gives it back.
Every class is a frozen, slotted dataclass; lists are tuples and mappings are :class:`FrozenMap`, so a
model value is immutable and hashable. Pure code: no I/O.
"""

from __future__ import annotations

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

__all__ = [
    "EMPTY", "AIModel", "Blkio", "Build", "Config", "ConfigRef", "CredentialSpec", "Dependency", "Deploy",
    "Develop", "Device", "DeviceRequest", "DiscreteResource", "EnvFile", "Extends", "FileObject", "FileRef",
    "FrozenMap", "GenericResource", "Healthcheck", "Hook", "Ipam", "IpamPool", "Logging", "Mount", "MountBind",
    "MountImage", "MountTmpfs", "MountVolume", "Network", "NetworkAttachment", "Placement",
    "PlacementPreference", "Port", "Project", "Provider", "Resource", "Resources", "RestartPolicy", "Secret",
    "SecretRef", "Service", "ServiceModel", "ThrottleDevice", "Ulimit", "UpdateConfig", "Volume", "WatchRule",
    "WeightDevice", "freeze", "thaw",
]
