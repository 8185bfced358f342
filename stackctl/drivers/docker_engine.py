"""The Driver for one Docker engine, through the docker SDK (low-level API client).

The only code that builds a docker client for the laptop path. ``host`` is what ``-H`` or
DOCKER_HOST say: ``unix:///…``, ``tcp://…`` or ``ssh://user@host`` (the SDK's paramiko transport,
host keys checked against known_hosts, unknown keys refused).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from typing import Any

from stackctl import labels as L
from stackctl.drivers._errors import convert, is_not_found, translate
from stackctl.drivers.base import BuildSpec, ContainerSpec
from stackctl.errors import DriverError
from stackctl.plan.observed import Observed, ObservedContainer, ObservedNetwork, ObservedVolume

DEFAULT_HOST = "unix:///var/run/docker.sock"
_EXITED = re.compile(r"Exited \((-?\d+)\)")


def parse_container(raw: Mapping[str, Any]) -> ObservedContainer:
    """An entry of GET /containers/json -> ObservedContainer (health parsed from Status)."""
    labels = raw.get("Labels") or {}
    status = raw.get("Status") or ""
    health = None
    if "(healthy)" in status:
        health = "healthy"
    elif "(unhealthy)" in status:
        health = "unhealthy"
    elif "(health: starting)" in status:
        health = "starting"
    exited = _EXITED.search(status)
    nets = ((raw.get("NetworkSettings") or {}).get("Networks") or {})
    mounts = frozenset(m.get("Name") for m in raw.get("Mounts") or [] if m.get("Type") == "volume" and m.get("Name"))
    ports = tuple((p.get("IP", ""), int(p["PublicPort"]), int(p["PrivatePort"]), p.get("Type", "tcp"))
                  for p in raw.get("Ports") or [] if p.get("PublicPort"))
    return ObservedContainer(
        id=raw["Id"], name=(raw.get("Names") or ["/?"])[0].lstrip("/"), service=labels.get(L.SERVICE, ""),
        number=int(labels.get(L.CONTAINER_NUMBER) or 0), state=raw.get("State") or "",
        health=health, exit_code=int(exited.group(1)) if exited else None, image=raw.get("Image") or "",
        labels=labels, networks=frozenset(nets), mounts=mounts, created=str(raw.get("Created") or ""),
        ports=ports, command=raw.get("Command") or "",
        ips=tuple(n.get("IPAddress") for n in nets.values() if n.get("IPAddress")), status=status,
        volume_mounts=tuple((m.get("Destination", ""), m["Name"]) for m in raw.get("Mounts") or []
                            if m.get("Type") == "volume" and m.get("Name")))


def _inspected(raw: Mapping[str, Any]) -> ObservedContainer:
    """GET /containers/{id}/json -> ObservedContainer."""
    state = raw.get("State") or {}
    cfg = raw.get("Config") or {}
    labels = cfg.get("Labels") or {}
    return ObservedContainer(
        id=raw["Id"], name=str(raw.get("Name", "")).lstrip("/"), service=labels.get(L.SERVICE, ""),
        number=int(labels.get(L.CONTAINER_NUMBER) or 0), state=state.get("Status") or "",
        health=(state.get("Health") or {}).get("Status"),
        exit_code=state.get("ExitCode") if state.get("Status") in ("exited", "dead") else None,
        image=cfg.get("Image") or "", labels=labels,
        networks=frozenset((raw.get("NetworkSettings") or {}).get("Networks") or {}),
        created=str(raw.get("Created") or ""))


@contextlib.contextmanager
def _nothing() -> Iterator[None]:
    yield


def _import_docker(*, ssh: bool) -> Any:
    """Import the SDK lazily (keeps `stackctl --help` fast). Without an ssh:// host, keep it from
    importing paramiko: that is a third of its import time, paid on every `up`."""
    import sys

    if ssh or "docker" in sys.modules or "paramiko" in sys.modules:
        import docker
        return docker
    sys.modules["paramiko"] = None  # type: ignore[assignment]
    try:
        import docker
    finally:
        del sys.modules["paramiko"]
    return docker


def _present(body: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON body without its top-level None values (as the SDK sends it)."""
    return {k: v for k, v in body.items() if v is not None}


class DockerEngine:
    """Driver over one engine. Thread-safe for concurrent calls (one pooled HTTP client)."""

    def __init__(self, *, host: str | None = None, timeout: int = 120, pool_size: int = 32) -> None:
        self.host = host or DEFAULT_HOST
        self.timeout, self.pool_size = timeout, pool_size
        self._api: Any = None
        self._unix: Any = None
        self._socket = self.host[len("unix://"):] if self.host.startswith("unix://") else None

    @property
    def api(self) -> Any:
        """The SDK's low-level client, built on first use (reads on a unix socket do not need it)."""
        if self._api is None:
            with translate(where=self.host, what="connect"):
                docker = _import_docker(ssh=self.host.startswith("ssh://"))
                self._api = docker.APIClient(base_url=self.host, version="auto", timeout=self.timeout,
                                             max_pool_size=self.pool_size, use_ssh_client=False)
        return self._api

    @property
    def unix(self) -> Any:
        """The pooled stdlib client for a local unix socket (None for tcp:// and ssh://)."""
        if self._unix is None and self._socket is not None:
            from stackctl.drivers._unixhttp import UnixClient

            self._unix = UnixClient(self._socket, timeout=self.timeout)
        return self._unix

    def _get(self, path: str, params: Mapping[str, Any] | None = None, *, sdk: Any = None) -> Any:
        """A read: straight over the unix socket when there is one, else through the SDK."""
        return self._send("GET", path, params, sdk=sdk)

    def _send(self, method: str, path: str, params: Mapping[str, Any] | None = None, *, body: Any = None,
              sdk: Any = None, timeout: float | None = None) -> Any:
        """One call answered at once: over the unix socket when there is one, else ``sdk()``."""
        if self._socket is None:
            return sdk()
        return self.unix.call(method, path, params, body=body, timeout=timeout)

    def _t(self, what: str, service: str | None = None):  # type: ignore[no-untyped-def]
        return translate(where=self.host, service=service, what=what)

    # --- observation
    def observe(self, project: str, *, services: tuple[str, ...] = ()) -> Observed:
        with self._t("list containers"):
            filters = {"label": [f"{L.PROJECT}={project}"]}
            raw = self._get("/containers/json", {"all": 1, "filters": filters},
                            sdk=lambda: self.api.containers(all=True, filters=filters))
            nets = self._get("/networks", sdk=self.api_networks)
            vols = (self._get("/volumes", sdk=lambda: self.api.volumes()) or {}).get("Volumes") or []
        containers = tuple(c for c in map(parse_container, raw) if not services or c.service in services)
        mine_n = tuple(ObservedNetwork(n["Name"], (n.get("Labels") or {}).get(L.NETWORK, n["Name"]), n["Id"],
                                       (n.get("Labels") or {}).get(L.CONFIG_HASH), n.get("Labels") or {})
                       for n in nets if (n.get("Labels") or {}).get(L.PROJECT) == project)
        mine_v = tuple(ObservedVolume(v["Name"], (v.get("Labels") or {}).get(L.VOLUME, v["Name"]),
                                      (v.get("Labels") or {}).get(L.CONFIG_HASH), v.get("Labels") or {})
                       for v in vols if (v.get("Labels") or {}).get(L.PROJECT) == project)
        return Observed(project, containers, mine_n, mine_v, frozenset(n["Name"] for n in nets),
                        frozenset(v["Name"] for v in vols))

    def api_networks(self) -> Any:
        return self.api.networks()

    def list_projects(self) -> list[tuple[str, list[ObservedContainer]]]:
        with self._t("list containers"):
            raw = self._get("/containers/json", {"all": 1, "filters": {"label": [L.PROJECT]}},
                            sdk=lambda: self.api.containers(all=True, filters={"label": L.PROJECT}))
        projects: dict[str, list[ObservedContainer]] = {}
        for c in map(parse_container, raw):
            projects.setdefault(c.labels.get(L.PROJECT, ""), []).append(c)
        return sorted(projects.items())

    def list_containers(self, *, label: str) -> list[ObservedContainer]:
        """Every container (running or not) that carries ``label`` (a key, or ``key=value``)."""
        with self._t("list containers"):
            filters = {"label": [label]}
            raw = self._get("/containers/json", {"all": 1, "filters": filters},
                            sdk=lambda: self.api.containers(all=True, filters=filters))
        return [parse_container(c) for c in raw]

    def names(self) -> tuple[frozenset[str], frozenset[str], frozenset[str]]:
        """The names of the engine's networks and volumes, and its images' IDs and repo:tag references."""
        with self._t("list networks, volumes and images"):
            nets = self._get("/networks", sdk=self.api_networks)
            vols = (self._get("/volumes", sdk=lambda: self.api.volumes()) or {}).get("Volumes") or []
            imgs = self._get("/images/json", sdk=lambda: self.api.images())
        refs = {str(i["Id"]) for i in imgs} | {str(t) for i in imgs for t in i.get("RepoTags") or []}
        return frozenset(n["Name"] for n in nets), frozenset(v["Name"] for v in vols), frozenset(refs)

    def info(self) -> Mapping[str, Any]:
        with self._t("info"):
            return self._get("/info", sdk=lambda: self.api.info())  # type: ignore[no-any-return]

    # --- images
    def image_id(self, ref: str) -> str | None:
        info = self.image_info(ref)
        return str(info["Id"]) if info else None

    def image_info(self, ref: str) -> Mapping[str, Any] | None:
        try:
            with self._t(f"inspect image {ref}"):
                return self._get(f"/images/{ref}/json", sdk=lambda: self.api.inspect_image(ref))  # type: ignore[no-any-return]
        except DriverError as exc:
            if exc.__cause__ is not None and is_not_found(exc.__cause__):
                return None
            raise

    def pull_image(self, ref: str) -> None:
        repo, _, tag = ref.rpartition(":") if ":" in ref.rsplit("/", 1)[-1] else (ref, "", "latest")
        with self._t(f"pull {ref}"):
            for event in self.api.pull(repo, tag=tag or "latest", stream=True, decode=True):
                if event.get("error"):
                    raise DriverError(f"pull {ref}: {event['error']}")

    def build_image(self, spec: BuildSpec) -> str:
        with self._t(f"build {spec.tag}"):
            stream = self.api.build(path=spec.context, dockerfile=spec.dockerfile, tag=spec.tag,
                                    buildargs=dict(spec.args) or None, target=spec.target,
                                    labels=dict(spec.labels) or None, nocache=spec.no_cache, pull=spec.pull,
                                    rm=True, forcerm=True, decode=True)
            for event in stream:
                if event.get("error"):
                    raise DriverError(f"build {spec.tag}: {' '.join(str(event['error']).split())}")
        image = self.image_id(spec.tag)
        if image is None:
            raise DriverError(f"build {spec.tag}: the engine reported no image")
        return image

    def remove_image(self, ref: str) -> None:
        with self._t(f"remove image {ref}"):
            self.api.remove_image(ref)

    # --- networks and volumes
    def create_network(self, name: str, config: Mapping[str, Any], labels: Mapping[str, str]) -> None:
        body = _present({"Name": name, "CheckDuplicate": True, **config, "Labels": dict(labels)})
        with self._t(f"create network {name}"):
            self._send("POST", "/networks/create", body=body, sdk=lambda: self.api._result(
                self.api._post_json(self.api._url("/networks/create"), data=body), True))

    def remove_network(self, name: str) -> None:
        try:
            with self._t(f"remove network {name}"):
                self._send("DELETE", f"/networks/{name}", sdk=lambda: self.api.remove_network(name))
        except DriverError as exc:
            if "has active endpoints" not in str(exc) or self._has_containers(name):
                raise
            raise DriverError(f"{exc}; no container is attached to it: the engine lost count of its endpoints "
                              "(a dockerd 20.10 race, moby/moby#43286) and releases it only when restarted") from exc

    def connect_network(self, name: str, container: str, endpoint: Mapping[str, Any] | None = None) -> None:
        body = {"Container": container, "EndpointConfig": dict(endpoint or {})}
        with self._t(f"connect container {container} to network {name}"):
            self._send("POST", f"/networks/{name}/connect", body=body, sdk=lambda: self.api._result(
                self.api._post_json(self.api._url("/networks/{0}/connect", name), data=body)))

    def disconnect_network(self, name: str, container: str) -> None:
        with self._t(f"disconnect container {container} from network {name}"):
            self._send("POST", f"/networks/{name}/disconnect", body={"Container": container, "Force": True},
                       sdk=lambda: self.api.disconnect_container_from_network(container, name, force=True))

    def _has_containers(self, name: str) -> bool:
        try:
            with self._t(f"inspect network {name}"):
                info = self._get(f"/networks/{name}", sdk=lambda: self.api.inspect_network(name))
        except DriverError:
            return True  # cannot tell: keep the engine's own message
        return bool((info or {}).get("Containers"))

    def create_volume(self, name: str, config: Mapping[str, Any], labels: Mapping[str, str]) -> None:
        body = _present({"Name": name, "Driver": config.get("Driver") or "local",
                         "DriverOpts": config.get("DriverOpts") or None, "Labels": dict(labels)})
        with self._t(f"create volume {name}"):
            self._send("POST", "/volumes/create", body=body, sdk=lambda: self.api.create_volume(
                name, driver=body["Driver"], driver_opts=body.get("DriverOpts"), labels=dict(labels)))

    def remove_volume(self, name: str) -> None:
        with self._t(f"remove volume {name}"):
            self._send("DELETE", f"/volumes/{name}", sdk=lambda: self.api.remove_volume(name))

    # --- containers
    def create_container(self, spec: ContainerSpec) -> str:
        nets = list(spec.networks.items())
        config = _present(dict(spec.config))
        if nets:
            config["NetworkingConfig"] = {"EndpointsConfig": {nets[0][0]: dict(nets[0][1])}}
        with self._t(f"create container {spec.name}", spec.service):
            made = self._send("POST", "/containers/create", {"name": spec.name}, body=config,
                              sdk=lambda: self.api.create_container_from_config(config, spec.name))
            cid = str(made["Id"])
            for net, ep in nets[1:]:
                body = {"Container": cid, "EndpointConfig": dict(ep)}
                self._send("POST", f"/networks/{net}/connect", body=body, sdk=lambda net=net, body=body: self.api._result(
                    self.api._post_json(self.api._url("/networks/{0}/connect", net), data=body)))
        return cid

    def start_container(self, ref: str) -> None:
        with self._t(f"start container {ref}"):
            self._send("POST", f"/containers/{ref}/start", sdk=lambda: self.api.start(ref))

    def stop_container(self, ref: str, *, timeout: int | None = None) -> None:
        with self._t(f"stop container {ref}"):
            self._send("POST", f"/containers/{ref}/stop", {"t": timeout}, timeout=self._grace(timeout),
                       sdk=lambda: self.api.stop(ref, timeout=timeout))

    def kill_container(self, ref: str, *, signal: str = "SIGKILL") -> None:
        with self._t(f"kill container {ref}"):
            self._send("POST", f"/containers/{ref}/kill", {"signal": signal},
                       sdk=lambda: self.api.kill(ref, signal=signal))

    def restart_container(self, ref: str, *, timeout: int | None = None) -> None:
        grace = 10 if timeout is None else timeout
        with self._t(f"restart container {ref}"):
            self._send("POST", f"/containers/{ref}/restart", {"t": grace}, timeout=self._grace(grace),
                       sdk=lambda: self.api.restart(ref, timeout=grace))

    def remove_container(self, ref: str, *, force: bool = False, volumes: bool = False) -> None:
        with self._t(f"remove container {ref}"):
            self._send("DELETE", f"/containers/{ref}", {"v": int(volumes), "link": 0, "force": int(force)},
                       sdk=lambda: self.api.remove_container(ref, force=force, v=volumes))

    def rename_container(self, ref: str, name: str) -> None:
        with self._t(f"rename container {ref}"):
            self._send("POST", f"/containers/{ref}/rename", {"name": name}, sdk=lambda: self.api.rename(ref, name))

    def _grace(self, seconds: int | None) -> float:
        """The HTTP timeout of a call that may wait ``seconds`` for the container to stop."""
        return self.timeout + (10 if seconds is None or seconds < 0 else seconds)

    def inspect_container(self, ref: str) -> ObservedContainer:
        with self._t(f"inspect container {ref}"):
            return _inspected(self._get(f"/containers/{ref}/json", sdk=lambda: self.api.inspect_container(ref)))

    def wait_container(self, ref: str) -> int:
        with self._t(f"wait container {ref}"):
            return int(self.api.wait(ref, timeout=None)["StatusCode"])

    def logs(self, ref: str, *, follow: bool = False, tail: str = "all",
             timestamps: bool = False, since: str | None = None) -> Iterator[bytes]:
        with self._t(f"logs {ref}"):
            # the SDK sends only an int tail (a string such as "2" silently becomes "all")
            stream = self.api.logs(ref, stream=True, follow=follow, tail=int(tail) if str(tail).isdigit() else "all",
                                   timestamps=timestamps, since=float(since) if since else None)
        try:
            yield from stream
        except Exception as exc:
            raise convert(exc, where=self.host, what=f"logs {ref}") from exc

    def exec(self, ref: str, cmd: list[str], *, user: str | None = None, workdir: str | None = None,
             env: Mapping[str, str] | None = None, tty: bool = False, detach: bool = False,
             out: Any = None) -> int:
        with self._t(f"exec in {ref}"):
            ex = self.api.exec_create(ref, cmd, user=user or "", workdir=workdir, tty=tty,
                                      environment=dict(env or {}) or None)
            stream = self.api.exec_start(ex["Id"], detach=detach, tty=tty, stream=not detach, demux=not tty)
            if detach:
                return 0
            for chunk in stream:
                if out is not None:
                    out(chunk)
            return int(self.api.exec_inspect(ex["Id"])["ExitCode"] or 0)

    def exec_attached(self, ref: str, cmd: list[str], *, tty: bool, user: str | None = None,
                      workdir: str | None = None, env: Mapping[str, str] | None = None,
                      stdin_fd: int | None = None, out: Any = None, err: Any = None) -> int:
        """`exec` wired to this process's terminal (tty) or pipes; returns the command's exit code."""
        import shutil
        import sys

        from stackctl.drivers._attach import pump, raw_terminal

        with self._t(f"exec in {ref}"):
            ex = self.api.exec_create(ref, cmd, user=user or "", workdir=workdir, tty=tty,
                                      stdin=stdin_fd is not None, environment=dict(env or {}) or None)
            conn = self.api.exec_start(ex["Id"], tty=tty, socket=True)
            sock = getattr(conn, "_sock", conn)
            if tty:
                size = shutil.get_terminal_size()
                self.api.exec_resize(ex["Id"], height=size.lines, width=size.columns)
            with raw_terminal(stdin_fd) if tty and stdin_fd is not None else _nothing():
                pump(sock, stdin_fd=stdin_fd, out=out or sys.stdout.buffer, err=err or sys.stderr.buffer, tty=tty)
            sock.close()
            return int(self.api.exec_inspect(ex["Id"])["ExitCode"] or 0)

    def run_attached(self, spec: ContainerSpec, *, tty: bool, stdin_fd: int | None = None,
                     out: Any = None, err: Any = None) -> tuple[str, int]:
        """Create, attach to and start a container (`run` without -d); returns its id and exit code."""
        import shutil
        import sys

        from stackctl.drivers._attach import pump, raw_terminal

        config = {**spec.config, "Tty": tty, "OpenStdin": stdin_fd is not None, "StdinOnce": stdin_fd is not None,
                  "AttachStdin": stdin_fd is not None, "AttachStdout": True, "AttachStderr": True}
        cid = self.create_container(ContainerSpec(spec.name, config, spec.networks, spec.service))
        with self._t(f"run {spec.name}", spec.service):
            conn = self.api.attach_socket(cid, params={"stdin": int(stdin_fd is not None), "stdout": 1,
                                                       "stderr": 1, "stream": 1})
            sock = getattr(conn, "_sock", conn)
            self.api.start(cid)
            if tty:
                size = shutil.get_terminal_size()
                self.api.resize(cid, height=size.lines, width=size.columns)
            with raw_terminal(stdin_fd) if tty and stdin_fd is not None else _nothing():
                pump(sock, stdin_fd=stdin_fd, out=out or sys.stdout.buffer, err=err or sys.stderr.buffer, tty=tty)
            sock.close()
            return cid, int(self.api.wait(cid)["StatusCode"])

    def close(self) -> None:
        if self._api is not None:
            self._api.close()
        if self._unix is not None:
            self._unix.close()
