"""Text of the files and shell scripts that make a lab node. Pure: strings in, strings out.

``setup_script`` runs once, inside the node's fresh mount + UTS namespace: it detaches the host's
mounts under ``/run`` and ``/var/lib/docker`` (so the node holds no reference to the host's
namespaces or overlays), binds the node's own directories there, and sets the hostname.
``start_script`` runs inside the node (network + mount + UTS namespace) and starts sshd and dockerd;
it is what ``lab up`` and ``lab start`` run. The lab starts no etcd: ``stackctl cluster init`` sets
up etcd (TLS peers, loopback clients) and the agent on the managers, as on any machine. Once it has,
the node's ``/etc/stackctl`` holds ``etcd.sh``, ``agent.sh`` and ``supervise.sh``, and the start
script starts their supervisors again (``/run/stackctl-etcd.pid``, ``/run/stackctl-agent.pid``), as a
VM's systemd would after a reboot.
"""

from __future__ import annotations

import json
import shlex

from stackctl.lab.layout import LabLayout, NodePlan

# Supervised services that `cluster init` may have set up on a node, in start order.
SERVICES = ("etcd", "agent", "proxy")
RESOLV_CONF = ("# stackctl lab node: no resolver outside this machine; nothing answers here,\n"
               "# so a lookup fails at once instead of waiting on a remote server.\n"
               "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")


def node_binds(node: NodePlan) -> list[tuple[str, str]]:
    """(host directory, directory inside the node) pairs: what is private to a machine."""
    return [(str(node.run_dir), "/run"), (str(node.dir / "docker"), "/var/lib/docker"),
            (str(node.dir / "etc-docker"), "/etc/docker"),
            (str(node.dir / "stackctl"), "/var/lib/stackctl"),  # what stackctl installs on a node
            (str(node.etc_stackctl), "/etc/stackctl"), (str(node.dir / "etcd"), "/var/lib/etcd"),
            (str(node.root_ssh), "/root/.ssh")]


def node_file_binds(node: NodePlan) -> list[tuple[str, str]]:
    """(host file, file inside the node) pairs."""
    return [(str(node.resolv_conf), "/etc/resolv.conf")]


def _detach(path: str) -> str:
    """Unmount what the host has at or below ``path`` in this namespace (deepest first; lazily, since
    the host may be using it)."""
    return (f"findmnt -rn -o TARGET | grep -E '^{path}(/|$)' | sort -r | "
            "while read -r m; do umount -l \"$m\" 2>/dev/null || true; done")


def setup_script(node: NodePlan) -> str:
    lines = ["set -e", "mount --make-rprivate /"]
    for _, dst in [*node_binds(node), *node_file_binds(node)]:
        lines.append(_detach(dst))
    for src, dst in node_binds(node):
        lines.append(f"mkdir -p {shlex.quote(dst)}")
        lines.append(f"mount --bind {shlex.quote(src)} {shlex.quote(dst)}")
    for src, dst in node_file_binds(node):
        lines.append(f"[ -e {shlex.quote(dst)} ] || touch {shlex.quote(dst)}")
        lines.append(f"mount --bind {shlex.quote(src)} {shlex.quote(dst)}")
    lines.append(f"hostname {shlex.quote(node.name)}")
    return "\n".join(lines) + "\n"


def sshd_config(layout: LabLayout, node: NodePlan) -> str:
    return "\n".join([
        "Port 22",
        "ListenAddress 0.0.0.0",
        f"HostKey {node.host_key}",
        "PidFile /run/sshd.pid",
        "AuthorizedKeysFile /root/.ssh/authorized_keys",  # the node's own (cluster init adds its key)
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
        "dns": ["127.0.0.1"],  # containers too: no resolver outside the machine (not docker's 8.8.8.8)
        "log-level": "warn",
    }, indent=2) + "\n"


# A process is alive when it exists and is not a zombie (PID 1 may reap killed daemons late).
_ALIVE = ("alive() { p=$(cat \"$1\" 2>/dev/null) || return 1; [ -n \"$p\" ] || return 1; "
          "s=$(cut -d')' -f2 \"/proc/$p/stat\" 2>/dev/null | cut -d' ' -f2); "
          "[ -n \"$s\" ] && [ \"$s\" != Z ] && [ \"$s\" != X ]; }")


def _stale_pidfile(path: str) -> str:
    return f"if [ -f {path} ] && ! alive {path}; then rm -f {path}; fi"


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
    for service in SERVICES:  # what `cluster init` set up here, as systemd would start it on a VM
        lines += [
            (f"if [ -f /etc/stackctl/{service}.sh ] && [ -f /etc/stackctl/supervise.sh ] "
             f"&& ! alive /run/stackctl-{service}.pid; then"),
            f"  setsid sh /etc/stackctl/supervise.sh {service} </dev/null >/dev/null 2>&1 &",
            "fi",
        ]
    return "\n".join(lines) + "\n"
