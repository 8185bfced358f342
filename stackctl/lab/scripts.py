"""Text of the files and shell scripts that make a lab node. Pure: strings in, strings out.

``setup_script`` runs once, inside the node's fresh mount + UTS namespace: it detaches the host's
mounts under ``/run`` and ``/var/lib/docker`` (so the node holds no reference to the host's
namespaces or overlays), binds the node's own directories there, and sets the hostname.
``start_script`` runs inside the node (network + mount + UTS namespace) and starts sshd, dockerd and,
on managers, etcd; it is what ``lab up`` and ``lab start`` run.
"""

from __future__ import annotations

import json
import shlex

from stackctl.lab.layout import LabLayout, NodePlan, etcd_initial_cluster

# Host mounts a node must not inherit, and the node directories bound in their place.
_DETACH = ("/run", "/var/lib/docker", "/var/lib/etcd", "/etc/docker", "/var/lib/stackctl")


def node_binds(node: NodePlan) -> list[tuple[str, str]]:
    """(host directory, path inside the node) pairs."""
    binds = [(str(node.run_dir), "/run"), (str(node.dir / "docker"), "/var/lib/docker"),
             (str(node.dir / "etc-docker"), "/etc/docker"),
             (str(node.dir / "stackctl"), "/var/lib/stackctl")]  # what stackctl installs on a node
    if node.is_manager:
        binds.append((str(node.dir / "etcd"), "/var/lib/etcd"))
    return binds


def setup_script(node: NodePlan) -> str:
    lines = ["set -e", "mount --make-rprivate /"]
    for path in _DETACH:
        # Deepest first; lazily, since the host may be using them.
        lines.append(f"findmnt -rn -o TARGET | grep -E '^{path}(/|$)' | sort -r | "
                     "while read -r m; do umount -l \"$m\" 2>/dev/null || true; done")
    for src, dst in node_binds(node):
        lines.append(f"mkdir -p {shlex.quote(dst)}")
        lines.append(f"mount --bind {shlex.quote(src)} {shlex.quote(dst)}")
    lines.append(f"hostname {shlex.quote(node.name)}")
    return "\n".join(lines) + "\n"


def sshd_config(layout: LabLayout, node: NodePlan) -> str:
    return "\n".join([
        "Port 22",
        "ListenAddress 0.0.0.0",
        f"HostKey {node.host_key}",
        "PidFile /run/sshd.pid",
        f"AuthorizedKeysFile {layout.authorized_keys}",
        "PermitRootLogin prohibit-password",
        "PasswordAuthentication no",
        "KbdInteractiveAuthentication no",
        "UsePAM no",
        "StrictModes no",
        "UseDNS no",
        "PrintMotd no",
        "AllowTcpForwarding yes",
        "AllowStreamLocalForwarding yes",
        "MaxSessions 100",
        "MaxStartups 100:30:200",
        "",
    ])


def daemon_json(node: NodePlan) -> str:
    """dockerd settings: every path inside the node's own directories, its own bridge subnet."""
    return json.dumps({
        "data-root": "/var/lib/docker",
        "exec-root": "/run/docker",
        "pidfile": "/run/docker.pid",
        "hosts": ["unix:///run/docker.sock"],
        "bip": node.docker_bip,
        "cgroup-parent": f"/{node.cgroup_parent}",
        "log-level": "warn",
    }, indent=2) + "\n"


# A process is alive when it exists and is not a zombie (PID 1 may reap killed daemons late).
_ALIVE = ("alive() { p=$(cat \"$1\" 2>/dev/null) || return 1; [ -n \"$p\" ] || return 1; "
          "s=$(cut -d')' -f2 \"/proc/$p/stat\" 2>/dev/null | cut -d' ' -f2); "
          "[ -n \"$s\" ] && [ \"$s\" != Z ] && [ \"$s\" != X ]; }")


def _stale_pidfile(path: str) -> str:
    return f"if [ -f {path} ] && ! alive {path}; then rm -f {path}; fi"


def etcd_command(layout: LabLayout, node: NodePlan) -> list[str]:
    return [
        "etcd", "--name", node.name, "--data-dir", "/var/lib/etcd/data",
        "--listen-peer-urls", node.etcd_peer_url,
        "--initial-advertise-peer-urls", node.etcd_peer_url,
        "--listen-client-urls", f"{node.etcd_client_url},http://127.0.0.1:2379",
        "--advertise-client-urls", node.etcd_client_url,
        "--initial-cluster", etcd_initial_cluster(layout),
        "--initial-cluster-token", layout.comment,
        "--initial-cluster-state", "new",
    ]


def start_script(layout: LabLayout, node: NodePlan) -> str:
    logs = node.dir / "logs"
    lines = [
        "set -e",
        _ALIVE,
        f"mkdir -p /run/sshd {logs}",
        _stale_pidfile("/run/sshd.pid"),
        _stale_pidfile("/run/docker.pid"),
        # dockerd waits for a containerd whose pid file names a live process, zombies included.
        _stale_pidfile("/run/docker/containerd/containerd.pid"),
        "if ! alive /run/sshd.pid; then",
        f"  /usr/sbin/sshd -f {node.dir / 'sshd_config'} -E {logs / 'sshd.log'}",
        "fi",
        "if [ ! -f /run/docker.pid ]; then",
        f"  setsid dockerd >>{logs / 'dockerd.log'} 2>&1 </dev/null &",
        "fi",
    ]
    if node.is_manager:
        cmd = " ".join(shlex.quote(a) for a in etcd_command(layout, node))
        lines += [
            "if ! alive /run/etcd.pid; then",
            f"  setsid {cmd} >>{logs / 'etcd.log'} 2>&1 </dev/null &",
            "  echo $! >/run/etcd.pid",
            "fi",
        ]
    return "\n".join(lines) + "\n"
