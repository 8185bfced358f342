"""Normalized compose service -> engine create request (ContainerSpec), network and volume bodies.

Pure: everything comes in as arguments. Keys follow the Docker Engine API (v1.41, engine 20.10).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from stackctl import __version__
from stackctl import labels as L
from stackctl.engine.durations import duration_ns, duration_s, size_bytes
from stackctl.engine.mounts import volume_mounts
from stackctl.model.dependencies import dependencies
from stackctl.model.reading import fixed_ports
from stackctl.plan.actions import ContainerSpec
from stackctl.plan.diff import container_name
from stackctl.plan.hashing import network_hash, service_hash, volume_hash, with_container_refs

# service -> its containers as (name, ID): what links and `service:x` references resolve to
Peers = Mapping[str, Sequence[tuple[str, str]]]


@dataclass(frozen=True)
class ProjectContext:
    name: str
    working_dir: str = ""
    config_files: tuple[str, ...] = ()
    environment_file: str | None = None


def project_labels(ctx: ProjectContext) -> dict[str, str]:
    out = {L.PROJECT: ctx.name, L.VERSION: __version__, L.MANAGED_BY: "stackctl"}
    return out


def image_ref(project: str, name: str, svc: Mapping[str, Any]) -> str:
    """The image a service runs: its `image`, or `<project>-<service>` when only `build` is given."""
    return str(svc.get("image") or f"{project}-{name}")


def first_ids(peers: Peers) -> dict[str, str]:
    """service -> the ID of its first container by name (what docker compose means by `service:x`)."""
    return {svc: min(found)[1] for svc, found in peers.items() if found}


def container_labels(ctx: ProjectContext, name: str, svc: Mapping[str, Any], number: int, *,
                     image_id: str | None, replace: str | None = None, oneoff: bool = False,
                     peers: Peers | None = None) -> dict[str, str]:
    labels = {str(k): str(v) for k, v in (svc.get("labels") or {}).items()}
    labels.update(project_labels(ctx))
    config_hash = service_hash(with_container_refs(svc, first_ids(peers or {})))
    labels.update({
        L.SERVICE: name, L.ONEOFF: "True" if oneoff else "False", L.CONFIG_HASH: config_hash,
        L.WORKING_DIR: ctx.working_dir, L.CONFIG_FILES: ",".join(ctx.config_files),
        L.DEPENDS_ON: ",".join(f"{d.service}:{d.condition}:{str(d.restart).lower()}"
                               for d in dependencies(svc)),
    })
    if not oneoff:
        labels[L.CONTAINER_NUMBER] = str(number)
    if image_id:
        labels[L.IMAGE] = image_id
    if replace:
        labels[L.REPLACE] = replace
    if ctx.environment_file:
        labels[L.ENVIRONMENT_FILE] = ctx.environment_file
    return labels


def build_container_spec(doc: Mapping[str, Any], ctx: ProjectContext, name: str, number: int, *,
                         image_id: str | None = None, replace: str | None = None,
                         create_name: str | None = None, publish: bool = True,
                         peers: Peers | None = None) -> ContainerSpec:
    """The create request for replica ``number`` of service ``name``.

    ``publish=False`` leaves host ports unpublished (the load balancer fronts them instead).
    ``peers``: the existing containers of the services this one names (links, `service:x`,
    `volumes_from`), for the links and the config hash; see :func:`referenced_services`.
    """
    svc = doc["services"][name]
    cname = container_name(ctx.name, name, number, svc.get("container_name"))
    links = service_links(ctx.name, svc, number, peers or {})
    config: dict[str, Any] = {
        "Image": image_ref(ctx.name, name, svc),
        "Labels": container_labels(ctx, name, svc, number, image_id=image_id, replace=replace, peers=peers),
        "HostConfig": host_config(doc, ctx, svc, publish=publish),
    }
    if links:
        config["HostConfig"]["Links"] = links
    config.update(_process(svc))
    config.update(_identity(svc))
    ports = svc.get("ports") or []
    exposed = {_port_key(p) for p in ports} | {_expose_key(e) for e in svc.get("expose") or []}
    if exposed:
        config["ExposedPorts"] = {k: {} for k in sorted(exposed)}
    if svc.get("healthcheck"):
        config["Healthcheck"] = healthcheck(svc["healthcheck"])
    networks = {} if svc.get("network_mode") else endpoints(doc, ctx, name, svc, cname, links=links)
    return ContainerSpec(create_name or cname, config, networks, name)


def with_peers(spec: ContainerSpec, svc: Mapping[str, Any], *, project: str, number: int,
               peers: Peers) -> ContainerSpec:
    """``spec`` finished with what depends on the containers of the services it names (links and the
    config hash): those containers may be made by the same plan, so this is done when it is created."""
    links = service_links(project, svc, number, peers)
    labels = {**spec.config.get("Labels", {}), L.CONFIG_HASH: service_hash(with_container_refs(svc, first_ids(peers)))}
    config: dict[str, Any] = {**spec.config, "Labels": labels}
    networks = dict(spec.networks)
    if links:
        config["HostConfig"] = {**spec.config.get("HostConfig", {}), "Links": links}
        networks = {key: {**ep, "Links": list(links)} for key, ep in networks.items()}
    return replace(spec, config=config, networks=networks)


def referenced_services(svc: Mapping[str, Any]) -> tuple[str, ...]:
    """The services whose containers a create request of ``svc`` names (the ``peers`` it needs)."""
    found = [str(link).split(":")[0] for link in svc.get("links") or []]
    found += [str(svc[k])[len("service:"):] for k in ("network_mode", "ipc", "pid")
              if str(svc.get(k) or "").startswith("service:")]
    found += [str(ref).split(":")[0] for ref in svc.get("volumes_from") or [] if not str(ref).startswith("container:")]
    return tuple(dict.fromkeys(found))


def service_links(project: str, svc: Mapping[str, Any], number: int, peers: Peers) -> list[str]:
    """docker compose's links: for each container of a linked service, ``name:alias``,
    ``name:service-N`` and ``name:project-service-N`` (N: the number of the container being created);
    external links as written (``container[:alias]``)."""
    out = []
    for link in svc.get("links") or []:
        target, _, alias = str(link).partition(":")
        for cname, _ in peers.get(target, ()):
            out += [f"{cname}:{alias or target}", f"{cname}:{target}-{number}", f"{cname}:{project}-{target}-{number}"]
    for link in svc.get("external_links") or []:
        target, _, alias = str(link).partition(":")
        out.append(f"{target}:{alias or target}")
    return out


def _process(svc: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if svc.get("command") is not None:
        out["Cmd"] = list(svc["command"])
    if svc.get("entrypoint") is not None:
        out["Entrypoint"] = list(svc["entrypoint"])
    env = svc.get("environment") or {}
    if env:  # a null value passes the variable through from the engine's side, as docker compose sends it
        out["Env"] = [str(k) if v is None else f"{k}={v}" for k, v in env.items()]
    for key, api in (("user", "User"), ("working_dir", "WorkingDir"), ("stop_signal", "StopSignal")):
        if svc.get(key):
            out[api] = str(svc[key])
    if svc.get("stop_grace_period"):
        out["StopTimeout"] = duration_s(svc["stop_grace_period"])
    out["Tty"] = bool(svc.get("tty"))
    out["OpenStdin"] = bool(svc.get("stdin_open"))
    out["AttachStdout"] = out["AttachStderr"] = True  # as docker compose sets them on every container
    return out


def _identity(svc: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, api in (("hostname", "Hostname"), ("domainname", "Domainname"), ("mac_address", "MacAddress")):
        if svc.get(key):
            out[api] = str(svc[key])
    return out


def healthcheck(hc: Mapping[str, Any]) -> dict[str, Any]:
    if hc.get("disable"):
        return {"Test": ["NONE"]}
    test = hc.get("test")
    if isinstance(test, str):
        test = ["CMD-SHELL", test]
    out: dict[str, Any] = {"Test": list(test or [])}
    for key, api in (("interval", "Interval"), ("timeout", "Timeout"), ("start_period", "StartPeriod"),
                     ("start_interval", "StartInterval")):
        if hc.get(key):
            out[api] = duration_ns(hc[key])
    if hc.get("retries") is not None:
        out["Retries"] = int(hc["retries"])
    return out


def _port_key(port: Mapping[str, Any]) -> str:
    return f"{port['target']}/{port.get('protocol') or 'tcp'}"


def _expose_key(value: Any) -> str:
    text = str(value)
    return text if "/" in text else f"{text}/tcp"


def port_bindings(ports: list[Mapping[str, Any]]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for port in ports:
        binding = {"HostIp": str(port.get("host_ip") or ""), "HostPort": str(port.get("published") or "")}
        out.setdefault(_port_key(port), []).append(binding)
    return out


def host_config(doc: Mapping[str, Any], ctx: ProjectContext, svc: Mapping[str, Any], *,
                publish: bool) -> dict[str, Any]:
    hc: dict[str, Any] = {"NetworkMode": network_mode(doc, ctx, svc)}
    ports = [p for p in svc.get("ports") or [] if publish or p not in fixed_ports(svc)]
    hc["PortBindings"] = port_bindings(ports)  # `{}` and `[]` (ExtraHosts) when empty, as docker compose
    mounts, binds = volume_mounts(doc, svc, volume_name=lambda key: _volume_name(doc, ctx, key))
    if mounts:
        hc["Mounts"] = mounts
    if binds:
        hc["Binds"] = binds
    hc.update(_runtime_options(svc))
    hc.update(_shared_with(doc, ctx, svc))
    hc.update(_resources(svc))
    hc["RestartPolicy"] = restart_policy(svc)
    if svc.get("logging"):
        hc["LogConfig"] = {"Type": svc["logging"].get("driver") or "",
                           "Config": {str(k): str(v) for k, v in (svc["logging"].get("options") or {}).items()}}
    return hc


def network_mode(doc: Mapping[str, Any], ctx: ProjectContext, svc: Mapping[str, Any]) -> str:
    mode = svc.get("network_mode")
    if mode:
        return _service_ref(doc, ctx, str(mode))
    return _network_name(doc, ctx, by_priority(svc.get("networks") or {"default": None})[0])


def by_priority(networks: Mapping[str, Any]) -> list[str]:
    """compose-go's NetworksByPriority: highest ``priority`` first, then by name."""
    return sorted(networks, key=lambda k: (-int((networks[k] or {}).get("priority") or 0), str(k)))


def _service_ref(doc: Mapping[str, Any], ctx: ProjectContext, mode: str) -> str:
    if mode.startswith("service:"):
        other = mode[len("service:"):]
        custom = (doc["services"].get(other) or {}).get("container_name")
        return "container:" + container_name(ctx.name, other, 1, custom)
    return mode


def _network_name(doc: Mapping[str, Any], ctx: ProjectContext, key: str) -> str:
    return str(((doc.get("networks") or {}).get(key) or {}).get("name") or f"{ctx.name}_{key}")


def _volume_name(doc: Mapping[str, Any], ctx: ProjectContext, key: str) -> str:
    return str(((doc.get("volumes") or {}).get(key) or {}).get("name") or f"{ctx.name}_{key}")


def endpoints(doc: Mapping[str, Any], ctx: ProjectContext, name: str, svc: Mapping[str, Any],
              cname: str, *, links: Sequence[str] = ()) -> dict[str, dict[str, Any]]:
    nets = svc.get("networks") or {"default": None}
    out = {}
    for key in by_priority(nets):
        cfg = nets[key] or {}
        ep: dict[str, Any] = {"Aliases": [cname, name, *(cfg.get("aliases") or [])]}
        if links:
            ep["Links"] = list(links)
        ipam = {api: cfg[k] for k, api in (("ipv4_address", "IPv4Address"), ("ipv6_address", "IPv6Address"))
                if cfg.get(k)}
        if cfg.get("link_local_ips"):
            ipam["LinkLocalIPs"] = list(cfg["link_local_ips"])
        if ipam or nets[key] is not None:  # docker compose sends `{}` for any network entry written out
            ep["IPAMConfig"] = ipam
        if cfg.get("mac_address"):
            ep["MacAddress"] = cfg["mac_address"]
        if cfg.get("driver_opts"):
            ep["DriverOpts"] = dict(cfg["driver_opts"])
        out[_network_name(doc, ctx, key)] = ep
    return out


_SIMPLE_HOST = (("cap_add", "CapAdd"), ("cap_drop", "CapDrop"), ("security_opt", "SecurityOpt"),
                ("dns", "Dns"), ("dns_search", "DnsSearch"), ("dns_opt", "DnsOptions"),
                ("group_add", "GroupAdd"), ("cgroup_parent", "CgroupParent"), ("runtime", "Runtime"),
                ("isolation", "Isolation"), ("userns_mode", "UsernsMode"), ("cgroup", "Cgroup"),
                ("uts", "UTSMode"), ("oom_score_adj", "OomScoreAdj"), ("oom_kill_disable", "OomKillDisable"))


def _runtime_options(svc: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {api: svc[key] for key, api in _SIMPLE_HOST if svc.get(key) is not None}
    for key, api in (("privileged", "Privileged"), ("read_only", "ReadonlyRootfs"), ("init", "Init")):
        if svc.get(key) is not None:
            out[api] = bool(svc[key])
    out["ExtraHosts"] = [_host_entry(h) for h in svc.get("extra_hosts") or []]
    if svc.get("sysctls"):
        out["Sysctls"] = {str(k): str(v) for k, v in svc["sysctls"].items()}
    if svc.get("tmpfs"):
        tmpfs = svc["tmpfs"] if isinstance(svc["tmpfs"], list) else [svc["tmpfs"]]
        out["Tmpfs"] = {t.split(":", 1)[0]: (t.split(":", 1)[1] if ":" in t else "") for t in tmpfs}
    if svc.get("shm_size"):
        out["ShmSize"] = size_bytes(svc["shm_size"])
    if svc.get("ulimits"):
        out["Ulimits"] = [_ulimit(k, v) for k, v in svc["ulimits"].items()]
    if svc.get("devices"):
        out["Devices"] = [_device(d) for d in svc["devices"]]
    return out


def _shared_with(doc: Mapping[str, Any], ctx: ProjectContext, svc: Mapping[str, Any]) -> dict[str, Any]:
    """pid/ipc `service:x` and `volumes_from: [x[:mode]]` name x's first container (the engine
    would take a bare service name for a container name or an ID prefix); `container:y` names y."""
    out: dict[str, Any] = {}
    for key, api in (("pid", "PidMode"), ("ipc", "IpcMode")):
        if svc.get(key):
            out[api] = _service_ref(doc, ctx, str(svc[key]))
    refs = []
    for ref in svc.get("volumes_from") or []:
        text = str(ref)
        if text.startswith("container:"):
            refs.append(text[len("container:"):])
        else:
            name, sep, mode = text.partition(":")
            refs.append(_service_ref(doc, ctx, f"service:{name}")[len("container:"):] + sep + mode)
    if refs:
        out["VolumesFrom"] = refs
    return out


def _host_entry(entry: Any) -> str:
    text = str(entry)
    host, sep, ip = text.partition("=")
    return f"{host}:{ip}" if sep else text


def _ulimit(name: str, value: Any) -> dict[str, Any]:
    if isinstance(value, Mapping):
        return {"Name": name, "Soft": int(value["soft"]), "Hard": int(value["hard"])}
    return {"Name": name, "Soft": int(value), "Hard": int(value)}


def _device(dev: Any) -> dict[str, str]:
    if isinstance(dev, Mapping):
        src, dst, perms = dev.get("source"), dev.get("target") or dev.get("source"), dev.get("permissions") or "rwm"
    else:
        parts = str(dev).split(":")
        src, dst = parts[0], parts[1] if len(parts) > 1 else parts[0]
        perms = parts[2] if len(parts) > 2 else "rwm"
    return {"PathOnHost": str(src), "PathInContainer": str(dst), "CgroupPermissions": str(perms)}


def _resources(svc: Mapping[str, Any]) -> dict[str, Any]:
    res = (svc.get("deploy") or {}).get("resources") or {}
    limits, reserv = res.get("limits") or {}, res.get("reservations") or {}
    out: dict[str, Any] = {}
    memory = limits.get("memory") or svc.get("mem_limit")
    if memory:
        out["Memory"] = size_bytes(memory)
    cpus = limits.get("cpus") or svc.get("cpus")
    if cpus:
        out["NanoCpus"] = int(float(cpus) * 1e9)
    pids = limits.get("pids") or svc.get("pids_limit")
    if pids:
        out["PidsLimit"] = int(pids)
    reservation = reserv.get("memory") or svc.get("mem_reservation")
    if reservation:
        out["MemoryReservation"] = size_bytes(reservation)
    for key, api, conv in (("memswap_limit", "MemorySwap", size_bytes), ("cpu_shares", "CpuShares", int),
                           ("cpuset", "CpusetCpus", str), ("cpu_quota", "CpuQuota", int),
                           ("cpu_period", "CpuPeriod", int)):
        if svc.get(key) is not None:
            out[api] = conv(svc[key])
    return out


_RESTART_NAMES = {"none": "no", "no": "no", "on-failure": "on-failure", "unless-stopped": "unless-stopped",
                  "any": "always", "always": "always"}


def restart_policy(svc: Mapping[str, Any]) -> dict[str, Any]:
    """`deploy.restart_policy` wins over `restart` (as in docker compose); both spellings of each
    condition map to the engine's names, anything else is passed as written."""
    rp = (svc.get("deploy") or {}).get("restart_policy")
    if rp is not None:
        cond = str(rp.get("condition") or "")
        return {"Name": _RESTART_NAMES.get(cond, cond), "MaximumRetryCount": int(rp.get("max_attempts") or 0)}
    if not svc.get("restart"):
        return {"Name": "", "MaximumRetryCount": 0}
    name, _, count = str(svc["restart"]).partition(":")
    return {"Name": _RESTART_NAMES.get(name, name), "MaximumRetryCount": int(count or 0)}


def network_body(ctx: ProjectContext, key: str, cfg: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    """Engine create options and labels for a compose network."""
    labels = {str(k): str(v) for k, v in (cfg.get("labels") or {}).items()}
    labels.update(project_labels(ctx))
    labels.update({L.NETWORK: key, L.CONFIG_HASH: network_hash(cfg)})
    body: dict[str, Any] = {"Driver": cfg.get("driver") or "bridge",
                            "Options": {str(k): str(v) for k, v in (cfg.get("driver_opts") or {}).items()},
                            "Internal": bool(cfg.get("internal")), "Attachable": bool(cfg.get("attachable")),
                            "EnableIPv6": bool(cfg.get("enable_ipv6"))}
    ipam = cfg.get("ipam") or {}
    if ipam:
        body["IPAM"] = {"Driver": ipam.get("driver") or "default",
                        "Config": [_ipam_pool(p) for p in ipam.get("config") or []]}
        if ipam.get("options"):
            body["IPAM"]["Options"] = dict(ipam["options"])
    return body, labels


def _ipam_pool(pool: Mapping[str, Any]) -> dict[str, Any]:
    out = {api: pool[k] for k, api in (("subnet", "Subnet"), ("ip_range", "IPRange"), ("gateway", "Gateway"))
           if pool.get(k)}
    if pool.get("aux_addresses"):
        out["AuxiliaryAddresses"] = dict(pool["aux_addresses"])
    return out


def volume_body(ctx: ProjectContext, key: str, cfg: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    labels = {str(k): str(v) for k, v in (cfg.get("labels") or {}).items()}
    labels.update(project_labels(ctx))
    labels.update({L.VOLUME: key, L.CONFIG_HASH: volume_hash(cfg)})
    body = {"Driver": cfg.get("driver") or "local",
            "DriverOpts": {str(k): str(v) for k, v in (cfg.get("driver_opts") or {}).items()}}
    return body, labels
