"""What reaches the engine's create call for each compose key (normalized document -> API body)."""

from __future__ import annotations

import pytest

from stackctl.engine.container_config import (
    ProjectContext,
    build_container_spec,
    network_body,
    restart_policy,
)
from stackctl.engine.durations import duration_ns, size_bytes
from tests.unit.plan._docs import doc, service

CTX = ProjectContext("p", "/work", ("/work/compose.yaml",))


def spec(**svc):
    document = doc({"a": service(**svc)}, volumes={"data": {"name": "p_data"}},
                   secrets={"s": {"name": "p_s", "file": "/work/s.txt"}})
    return build_container_spec(document, CTX, "a", 2, image_id="sha256:abc")


def test_names_labels_and_default_network_alias() -> None:
    s = spec(labels={"team": "x"})
    assert s.name == "p-a-2"
    labels = s.config["Labels"]
    assert labels["team"] == "x" and labels["com.docker.compose.container-number"] == "2"
    assert labels["com.docker.compose.project"] == "p" and labels["com.docker.compose.image"] == "sha256:abc"
    assert labels["com.docker.compose.project.config_files"] == "/work/compose.yaml"
    assert s.networks == {"p_default": {"Aliases": ["p-a-2", "a"]}}
    assert s.config["HostConfig"]["NetworkMode"] == "p_default"


def test_ports_ranges_udp_and_host_ip() -> None:
    s = spec(ports=[{"mode": "ingress", "target": 80, "published": "8000-8002", "protocol": "udp"},
                    {"mode": "ingress", "host_ip": "127.0.0.1", "target": 90, "published": "9000", "protocol": "tcp"}])
    assert s.config["ExposedPorts"] == {"80/udp": {}, "90/tcp": {}}
    assert s.config["HostConfig"]["PortBindings"] == {"80/udp": [{"HostIp": "", "HostPort": "8000-8002"}],
                                                      "90/tcp": [{"HostIp": "127.0.0.1", "HostPort": "9000"}]}


def test_volumes_binds_tmpfs_anonymous_and_file_secrets() -> None:
    s = spec(volumes=[{"type": "volume", "source": "data", "target": "/data", "volume": {}},
                      {"type": "bind", "source": "/work/x", "target": "/x", "read_only": True,
                       "bind": {"create_host_path": True}},
                      {"type": "volume", "target": "/anon", "volume": {}},
                      {"type": "tmpfs", "target": "/t", "tmpfs": {"size": "1m"}}],
             secrets=[{"source": "s", "target": "/run/secrets/s"}])
    host = s.config["HostConfig"]
    assert host["Binds"] == ["p_data:/data:rw", "/work/x:/x:ro"]  # a declared volume as docker compose sends it
    assert host["Mounts"] == [
        {"Type": "volume", "Target": "/anon", "ReadOnly": False, "Source": "", "VolumeOptions": {}},
        {"Type": "tmpfs", "Target": "/t", "ReadOnly": False, "TmpfsOptions": {"SizeBytes": 1048576}},
        {"Type": "bind", "Source": "/work/s.txt", "Target": "/run/secrets/s", "ReadOnly": True, "BindOptions": {}}]


def test_selinux_propagation_and_missing_host_paths() -> None:
    host = spec(volumes=[
        {"type": "bind", "source": "/d", "target": "/z", "bind": {"create_host_path": True, "selinux": "Z"}},
        {"type": "bind", "source": "/d", "target": "/zr", "read_only": True,
         "bind": {"create_host_path": True, "selinux": "z"}},
        {"type": "bind", "source": "/d", "target": "/must", "bind": {"create_host_path": False}},
        {"type": "bind", "source": "/d", "target": "/p", "bind": {"create_host_path": True, "propagation": "rslave"}},
        {"type": "volume", "source": "data", "target": "/nc", "volume": {"nocopy": True}}]).config["HostConfig"]
    assert host["Binds"] == ["/d:/z:rw,Z", "/d:/zr:ro,z"]  # relabelled by the engine on SELinux hosts
    assert host["Mounts"] == [  # the Mount API refuses a missing source instead of creating it
        {"Type": "bind", "Target": "/must", "ReadOnly": False, "Source": "/d", "BindOptions": {}},
        {"Type": "bind", "Target": "/p", "ReadOnly": False, "Source": "/d",
         "BindOptions": {"Propagation": "rslave", "CreateMountpoint": True}},
        {"Type": "volume", "Target": "/nc", "ReadOnly": False, "Source": "p_data", "VolumeOptions": {"NoCopy": True}}]


@pytest.mark.parametrize(("svc", "expected"), [
    ({"restart": "no"}, ("no", 0)),
    ({"restart": "unless-stopped"}, ("unless-stopped", 0)),
    ({"deploy": {"restart_policy": {"condition": "unless-stopped"}}}, ("unless-stopped", 0)),
    ({"deploy": {"restart_policy": {"condition": "any"}}}, ("always", 0)),
    ({"deploy": {"restart_policy": {"condition": "none"}}}, ("no", 0)),
    ({"restart": "always", "deploy": {"restart_policy": {"condition": "on-failure", "max_attempts": 2}}},
     ("on-failure", 2)),  # deploy.restart_policy wins, as in docker compose
])
def test_restart_policy_forms_and_precedence(svc: dict, expected: tuple[str, int]) -> None:
    assert restart_policy(svc) == {"Name": expected[0], "MaximumRetryCount": expected[1]}


def test_process_health_limits_and_runtime_options() -> None:
    s = spec(environment={"A": "1", "B": None}, user="1000", working_dir="/w", stop_signal="SIGINT",
             stop_grace_period="3s", healthcheck={"test": ["CMD-SHELL", "true"], "interval": "1m30s", "retries": 3},
             deploy={"resources": {"limits": {"cpus": 0.5, "memory": "52428800"}}}, cap_add=["NET_ADMIN"],
             extra_hosts=["h=1.2.3.4"], ulimits={"nofile": {"soft": 100, "hard": 200}, "nproc": 50},
             sysctls={"net.core.somaxconn": "1024"}, tmpfs=["/run"], shm_size="67108864", init=True,
             logging={"driver": "json-file", "options": {"max-size": "1m"}}, restart="on-failure:3",
             network_mode="host")
    c, h = s.config, s.config["HostConfig"]
    assert c["AttachStdout"] is True and c["AttachStderr"] is True
    assert c["Env"] == ["A=1", "B"] and c["User"] == "1000" and c["WorkingDir"] == "/w"
    assert c["StopSignal"] == "SIGINT" and c["StopTimeout"] == 3
    assert c["Healthcheck"] == {"Test": ["CMD-SHELL", "true"], "Interval": 90_000_000_000, "Retries": 3}
    assert h["NanoCpus"] == 500_000_000 and h["Memory"] == 52428800
    assert h["CapAdd"] == ["NET_ADMIN"] and h["ExtraHosts"] == ["h:1.2.3.4"] and h["Init"] is True
    assert h["Ulimits"] == [{"Name": "nofile", "Soft": 100, "Hard": 200}, {"Name": "nproc", "Soft": 50, "Hard": 50}]
    assert h["Sysctls"] == {"net.core.somaxconn": "1024"} and h["Tmpfs"] == {"/run": ""}
    assert h["ShmSize"] == 67108864 and h["LogConfig"] == {"Type": "json-file", "Config": {"max-size": "1m"}}
    assert h["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 3}
    assert h["NetworkMode"] == "host" and s.networks == {}


def test_network_mode_service_points_at_the_first_replica_and_fixed_ports_can_be_left_to_the_balancer() -> None:
    document = doc({"vpn": service(), "app": service(network_mode="service:vpn", networks=None),
                    "web": service(ports=[{"target": 80, "published": "8080", "protocol": "tcp"}])})
    app = build_container_spec(document, CTX, "app", 1)
    assert app.config["HostConfig"]["NetworkMode"] == "container:p-vpn-1"
    web = build_container_spec(document, CTX, "web", 1, publish=False)
    assert web.config["HostConfig"]["PortBindings"] == {} and web.config["ExposedPorts"] == {"80/tcp": {}}


def test_network_body_and_restart_policy_defaults() -> None:
    body, labels = network_body(CTX, "front", {"name": "p_front", "driver_opts": {"a": "b"},
                                               "ipam": {"config": [{"subnet": "10.9.0.0/24"}]}, "internal": True})
    assert body["Options"] == {"a": "b"} and body["Internal"] is True
    assert body["IPAM"]["Config"] == [{"Subnet": "10.9.0.0/24"}]
    assert labels["com.docker.compose.network"] == "front"
    assert restart_policy({}) == {"Name": "", "MaximumRetryCount": 0}
    assert restart_policy({"restart": "unless-stopped"})["Name"] == "unless-stopped"


def test_durations_and_sizes() -> None:
    assert duration_ns("1m30s") == 90_000_000_000 and duration_ns("500ms") == 500_000_000
    assert size_bytes("64m") == 64 * 1024 * 1024 and size_bytes("67108864") == 67108864


def test_pid_ipc_and_volumes_from_name_the_other_service_container_not_the_bare_service() -> None:
    document = doc({"db": service(container_name="the-db"), "web": service(),
                    "a": service(pid="service:web", ipc="service:db",
                                 volumes_from=["web:ro", "db", "container:legacy:rw"])})
    host = build_container_spec(document, CTX, "a", 1, image_id=None).config["HostConfig"]
    assert host["PidMode"] == "container:p-web-1" and host["IpcMode"] == "container:the-db"
    assert host["VolumesFrom"] == ["p-web-1:ro", "the-db", "legacy:rw"]
    plain = build_container_spec(doc({"a": service(pid="host", ipc="shareable")}), CTX, "a", 1,
                                 image_id=None).config["HostConfig"]
    assert (plain["PidMode"], plain["IpcMode"]) == ("host", "shareable") and "VolumesFrom" not in plain
