"""Everything the model carries reaches the engine: one rich stack, read back with `docker inspect`."""

from __future__ import annotations

import subprocess

import pytest

from stackctl.compose.up import UpRequest
from tests.integration.compose.conftest import by_name, docker_json
from tests.support.compose_sync import up

pytestmark = pytest.mark.engine

RICH = """
services:
  app:
    image: stackctl/busybox:latest
    entrypoint: ["sh", "-c"]
    command: ["cat /run/secrets/token /etc/app.conf; exec sleep 300"]
    environment: {MODE: rich}
    user: "1000:1000"
    working_dir: /tmp
    hostname: apphost
    extra_hosts: ["db.local:10.1.2.3"]
    dns: [9.9.9.9]
    labels: {team: core}
    healthcheck: {test: ["CMD", "true"], interval: 2s, timeout: 1s, retries: 4}
    restart: unless-stopped
    init: true
    stop_signal: SIGUSR1
    stop_grace_period: 7s
    cap_add: [NET_ADMIN]
    cap_drop: [MKNOD]
    ulimits: {nofile: {soft: 1024, hard: 2048}}
    sysctls: {net.core.somaxconn: 1024}
    tmpfs: [/scratch]
    shm_size: 32m
    security_opt: [no-new-privileges:true]
    deploy: {resources: {limits: {cpus: "0.5", memory: 64M}, reservations: {memory: 16M}}}
    logging: {driver: json-file, options: {max-size: 1m}}
    ports: ["127.0.0.1:{port}:80", "{udp}:53/udp", "{lo}-{hi}:8080"]
    volumes:
      - data:/data
      - ./conf:/conf:ro
      - /anon
      - {type: tmpfs, target: /fast, tmpfs: {size: 1048576}}
    secrets: [token]
    configs: [{source: appconf, target: /etc/app.conf}]
    networks:
      back: {aliases: [api], ipv4_address: 10.77.0.10}
      default:
  sidecar:
    image: stackctl/busybox:latest
    command: ["sleep", "300"]
    network_mode: "service:app"
    stop_signal: SIGKILL
volumes: {data: {labels: {kind: data}}}
networks:
  back:
    driver_opts: {com.docker.network.bridge.enable_icc: "true"}
    ipam: {config: [{subnet: 10.77.0.0/24}]}
secrets: {token: {file: ./token.txt}}
configs: {appconf: {file: ./app.conf}}
"""


def test_every_key_reaches_the_engine(engine_driver, make_project, project_name, tmp_path) -> None:
    from tests.integration.compose.test_cli import free_port

    (tmp_path / "conf").mkdir()
    (tmp_path / "token.txt").write_text("s3cret\n")
    (tmp_path / "app.conf").write_text("conf=1\n")
    lo = free_port()
    text = RICH.replace("{port}", str(free_port())).replace("{udp}", str(free_port())).replace(
        "{lo}", str(lo)).replace("{hi}", str(lo + 3))
    project = make_project(text)
    up(engine_driver, project, UpRequest(wait=True, wait_timeout=60))
    seen = by_name(project_name)
    app, sidecar = seen[f"{project_name}-app-1"], seen[f"{project_name}-sidecar-1"]
    cfg, host = app["Config"], app["HostConfig"]
    assert cfg["Entrypoint"] == ["sh", "-c"] and cfg["User"] == "1000:1000" and cfg["WorkingDir"] == "/tmp"
    assert cfg["Hostname"] == "apphost" and "MODE=rich" in cfg["Env"] and cfg["Labels"]["team"] == "core"
    assert cfg["StopSignal"] == "SIGUSR1" and cfg["StopTimeout"] == 7
    assert cfg["Healthcheck"] == {"Test": ["CMD", "true"], "Interval": 2_000_000_000, "Timeout": 1_000_000_000,
                                  "Retries": 4}
    assert host["ExtraHosts"] == ["db.local:10.1.2.3"] and host["Dns"] == ["9.9.9.9"]
    assert host["RestartPolicy"]["Name"] == "unless-stopped" and host["Init"] is True
    assert host["CapAdd"] == ["NET_ADMIN"] and host["CapDrop"] == ["MKNOD"]
    assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 2048}]
    assert host["Sysctls"] == {"net.core.somaxconn": "1024"} and host["Tmpfs"] == {"/scratch": ""}
    assert host["ShmSize"] == 32 * 1024 * 1024 and host["SecurityOpt"] == ["no-new-privileges:true"]
    assert host["NanoCpus"] == 500_000_000 and host["Memory"] == 64 * 1024 * 1024
    assert host["MemoryReservation"] == 16 * 1024 * 1024
    assert host["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m"}}
    ports = host["PortBindings"]
    assert ports["80/tcp"][0]["HostIp"] == "127.0.0.1" and "53/udp" in ports
    assert ports["8080/tcp"][0]["HostPort"] == f"{lo}-{lo + 3}"
    mounts = {m["Destination"]: m for m in app["Mounts"]}
    assert mounts["/data"]["Name"] == f"{project_name}_data" and mounts["/conf"]["RW"] is False
    assert mounts["/anon"]["Type"] == "volume" and mounts["/run/secrets/token"]["RW"] is False
    assert mounts["/etc/app.conf"]["RW"] is False
    fast = next(m for m in host["Mounts"] if m["Target"] == "/fast")
    assert fast["Type"] == "tmpfs" and fast["TmpfsOptions"]["SizeBytes"] == 1048576
    nets = app["NetworkSettings"]["Networks"]
    back = nets[f"{project_name}_back"]
    assert "api" in back["Aliases"] and back["IPAMConfig"]["IPv4Address"] == "10.77.0.10"
    assert back["IPAddress"] == "10.77.0.10"
    network = docker_json("network", "inspect", f"{project_name}_back")[0]
    assert network["IPAM"]["Config"][0]["Subnet"] == "10.77.0.0/24"
    assert network["Options"] == {"com.docker.network.bridge.enable_icc": "true"}
    assert docker_json("volume", "inspect", f"{project_name}_data")[0]["Labels"]["kind"] == "data"
    assert sidecar["HostConfig"]["NetworkMode"] == f"container:{app['Id']}"
    logs = subprocess.run(["docker", "logs", f"{project_name}-app-1"], check=False, capture_output=True,
                          text=True).stdout
    assert logs.split() == ["s3cret", "conf=1"]  # secret and config files readable, mounted read-only
    assert app["State"]["Health"]["Status"] == "healthy"
