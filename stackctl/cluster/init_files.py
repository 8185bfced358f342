"""What ``cluster init`` writes on the nodes and the scripts it runs there. Pure: strings in, strings out.

On each manager, node-private (the lab binds these per node, a VM simply has them)::

    /etc/stackctl/agent.json        the agent's configuration (cluster, node, etcd, inventory, key)
    /etc/stackctl/inventory.json    every node's address, user, port; identity = the cluster key
    /etc/stackctl/cluster_key       the cluster's SSH key (0600); .pub beside it
    /etc/stackctl/known_hosts       the host keys cluster init verified
    /etc/stackctl/pki/              ca.crt, ca.key (0600), <node>.crt, <node>.key (0600)
    /etc/stackctl/etcd.sh           the etcd member's command line (clients: 127.0.0.1 only)
    /etc/stackctl/agent.sh          `python3 -S -m stackctl agent --config /etc/stackctl/agent.json`
    /etc/stackctl/supervise.sh      runs NAME.sh again 1 s after it exits (no systemd: the lab)
    /etc/systemd/system/stackctl-{etcd,agent,proxy}.service   where systemd runs (VMs)

On every node, workers too: ``proxy.sh`` (the node proxy: ``stackctl lb serve --accept-apply`` on the
admin socket ``/run/stackctl-proxy.sock``, its configuration saved in ``/var/lib/stackctl/proxy.json``;
it routes the cluster's VIP range to the node itself), ``supervise.sh`` and its systemd unit.
    /var/lib/etcd/stackctl/         etcd's data
    /var/lib/stackctl/<version>-<digest>/   the installed stackctl and what it imports
    /var/lib/stackctl/log/          etcd.log, agent.log (supervised without systemd)
"""

from __future__ import annotations

import ipaddress
import json
import shlex
from collections.abc import Sequence

from stackctl.nodes import NodeSpec

ETC = "/etc/stackctl"
PKI = f"{ETC}/pki"
ETCD_DATA = "/var/lib/etcd/stackctl"
LOG_DIR = "/var/lib/stackctl/log"
CLIENT_URL = "http://127.0.0.1:2379"
PEER_PORT = 2380
SERVICES = ("etcd", "agent", "proxy")  # a manager's, in start order
WORKER_SERVICES = ("proxy",)
PROXY_CONFIG = "/var/lib/stackctl/proxy.json"
PROXY_SOCKET = "/run/stackctl-proxy.sock"


def key_comment(cluster: str) -> str:
    return f"stackctl-cluster-{cluster}"


def peer_url(node: NodeSpec) -> str:
    return f"https://{node.address}:{PEER_PORT}"


def _listen_host(address: str) -> str:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return "0.0.0.0"  # etcd listens on IPs only; a named peer still needs the CA's certificate
    return address


def etcd_argv(cluster: str, node: NodeSpec, managers: Sequence[NodeSpec], *, etcd: str) -> list[str]:
    return [
        etcd, "--name", node.name, "--data-dir", ETCD_DATA, "--logger", "zap",
        "--listen-client-urls", CLIENT_URL, "--advertise-client-urls", CLIENT_URL,
        "--listen-peer-urls", f"https://{_listen_host(node.address)}:{PEER_PORT}",
        "--initial-advertise-peer-urls", peer_url(node),
        "--initial-cluster", ",".join(f"{m.name}={peer_url(m)}" for m in managers),
        "--initial-cluster-token", f"stackctl-{cluster}", "--initial-cluster-state", "new",
        "--peer-client-cert-auth", "--peer-trusted-ca-file", f"{PKI}/ca.crt",
        "--peer-cert-file", f"{PKI}/{node.name}.crt", "--peer-key-file", f"{PKI}/{node.name}.key",
    ]


def etcd_sh(cluster: str, node: NodeSpec, managers: Sequence[NodeSpec], *, etcd: str) -> str:
    argv = " \\\n  ".join(shlex.quote(a) for a in etcd_argv(cluster, node, managers, etcd=etcd))
    return (f"#!/bin/sh\n# written by `stackctl cluster init`: the etcd member {node.name} of cluster "
            f"{cluster}\nexec {argv}\n")


def agent_sh(cluster: str, node: NodeSpec, *, python: str, install_dir: str) -> str:
    return (f"#!/bin/sh\n# written by `stackctl cluster init`: the agent of cluster {cluster} on {node.name}\n"
            f"PYTHONPATH={shlex.quote(install_dir)} exec {shlex.quote(python)} -S -m stackctl agent "
            f"--config {ETC}/agent.json\n")


def proxy_sh(cluster: str, node: NodeSpec, *, python: str, install_dir: str, vip_range: str) -> str:
    """The node proxy: every address of the VIP range is local to the node (so the proxy can listen on
    any VIP and the node's containers reach it), then the balancer the leader configures."""
    q = shlex.quote
    empty = q(json.dumps({"listeners": {}}))
    return (f"#!/bin/sh\n# written by `stackctl cluster init`: the node proxy of cluster {cluster} on {node.name}\n"
            f"ip route replace local {q(vip_range)} dev lo || echo 'stackctl proxy: cannot route the VIP range "
            f"{vip_range} to this node' >&2\n"
            f"[ -s {PROXY_CONFIG} ] || echo {empty} >{PROXY_CONFIG}\n"
            f"PYTHONPATH={q(install_dir)} exec {q(python)} -S -m stackctl lb serve -c {PROXY_CONFIG} "
            f"--admin {PROXY_SOCKET} --accept-apply\n")


# The supervisor where no systemd runs: NAME.sh again 1 s after it exits; TERM stops both.
SUPERVISE_SH = f"""#!/bin/sh
# written by `stackctl cluster init`: supervise.sh NAME runs {ETC}/NAME.sh, again 1 s after it exits.
# Its pid is in /run/stackctl-NAME.pid; SIGTERM stops NAME.sh, then the supervisor.
name=$1
pidfile=/run/stackctl-$name.pid
mkdir -p {LOG_DIR}
echo $$ >"$pidfile"
child=
stop() {{
  [ -n "$child" ] && kill -TERM "$child" 2>/dev/null && wait "$child"
  rm -f "$pidfile"
  exit 0
}}
trap stop TERM INT
while :; do
  sh {ETC}/"$name".sh >>{LOG_DIR}/"$name".log 2>&1 </dev/null &
  child=$!
  wait "$child"
  child=
  sleep 1 &
  wait $!
done
"""


def systemd_unit(service: str, cluster: str) -> str:
    after = {"etcd": "network-online.target", "proxy": "network-online.target docker.service"}.get(
        service, "network-online.target stackctl-etcd.service docker.service")
    return (f"# written by `stackctl cluster init` (cluster {cluster})\n[Unit]\n"
            f"Description=stackctl {service} (cluster {cluster})\nAfter={after}\nWants=network-online.target\n\n"
            f"[Service]\nExecStart=/bin/sh {ETC}/{service}.sh\nRestart=always\nRestartSec=1\n"
            "LimitNOFILE=65536\n\n[Install]\nWantedBy=multi-user.target\n")


def agent_json(cluster: str, node: NodeSpec, *, vip_range: str | None = None) -> str:
    doc = {"cluster": cluster, "node": node.name, "etcd": [CLIENT_URL], "inventory": f"{ETC}/inventory.json",
           "ssh_key": f"{ETC}/cluster_key", "known_hosts": f"{ETC}/known_hosts"}
    if vip_range is not None:
        doc["vip_range"] = vip_range
    return json.dumps(doc, indent=2) + "\n"


def inventory_json(cluster: str, nodes: Sequence[NodeSpec]) -> str:
    """The inventory the agents use: the same nodes, reached with the cluster key."""
    return json.dumps({
        "version": 1, "name": cluster,
        "ssh": {"identity_file": f"{ETC}/cluster_key", "known_hosts": f"{ETC}/known_hosts"},
        "nodes": [{"name": n.name, "address": n.address, "role": n.role, "labels": dict(n.labels),
                   "ssh": {"user": n.ssh.user, "port": n.ssh.port}} for n in nodes],
    }, indent=2) + "\n"


def host_pattern(node: NodeSpec) -> str:
    return node.address if node.ssh.port == 22 else f"[{node.address}]:{node.ssh.port}"


def as_root(node: NodeSpec, script: str) -> str:
    """A shell line running ``script`` as root on ``node`` (``sudo -n`` when the SSH user is not root)."""
    return ("" if node.ssh.user == "root" else "sudo -n ") + "sh -c " + shlex.quote(script)


def preflight_script(install_probe: str) -> str:
    """The installer's probe (6 lines), then: systemd? (1/0), the etcd binary (or nothing), whether
    etcd has data here (1/0)."""
    return "\n".join([
        install_probe,
        'if [ -d /run/systemd/system ]; then echo 1; else echo 0; fi',
        'command -v etcd || echo',
        f'if [ -d {ETCD_DATA}/member ]; then echo 1; else echo 0; fi',
    ])


# Reads files named on the command line; prints {path: base64 or null} (secrets stay off the screen:
# the output goes to the CLI's memory over SSH).
READ_FILES_PY = ("import base64, json, sys\n"
                 "def read(p):\n"
                 "    try:\n        return base64.b64encode(open(p, 'rb').read()).decode()\n"
                 "    except OSError:\n        return None\n"
                 "print(json.dumps({p: read(p) for p in sys.argv[1:]}))\n")

# Reads [{path, mode, data(base64)}] on stdin; writes each file that differs (content or mode)
# atomically, its directory 0700 when made; prints the paths it changed, one a line.
WRITE_FILES_PY = ("import base64, json, os, sys\n"
                  "os.umask(0o077)\n"
                  "for f in json.load(sys.stdin):\n"
                  "    path, mode, data = f['path'], f['mode'], base64.b64decode(f['data'])\n"
                  "    try:\n"
                  "        same = open(path, 'rb').read() == data and (os.stat(path).st_mode & 0o7777) == mode\n"
                  "    except OSError:\n"
                  "        same = False\n"
                  "    if same:\n        continue\n"
                  "    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)\n"
                  "    tmp = path + '.tmp'\n"
                  "    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)\n"
                  "    with os.fdopen(fd, 'wb') as out:\n"
                  "        out.write(data)\n"
                  "    os.chmod(tmp, mode)\n"
                  "    os.replace(tmp, path)\n"
                  "    print(path)\n")


def authorize_script(line: str, comment: str) -> str:
    """Run as the SSH user: put ``line`` in ~/.ssh/authorized_keys in place of an older key of this
    cluster (same comment); prints ``added`` when it changed the file."""
    q, c = shlex.quote(line), shlex.quote(" " + comment)
    return "\n".join([
        "set -e", "umask 077", 'mkdir -p "$HOME/.ssh"', 'f="$HOME/.ssh/authorized_keys"', 'touch "$f"',
        f'if ! grep -qxF {q} "$f"; then',
        (f'  {{ awk -v c={c} \'substr($0, length($0) - length(c) + 1) != c\' "$f"; printf "%s\\n" {q}; }} '
         '>"$f.stackctl-tmp"'),
        '  mv "$f.stackctl-tmp" "$f"; echo added',
        "fi",
    ])


_ALIVE = ('alive() { p=$(cat "$1" 2>/dev/null) || return 1; [ -n "$p" ] || return 1; '
          's=$(cut -d")" -f2 "/proc/$p/stat" 2>/dev/null | cut -d" " -f2); '
          '[ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ]; }')


def services_script(restart: Sequence[str], services: Sequence[str] = SERVICES) -> str:
    """Start etcd, then the agent (systemd units, else supervisors), restarting those in ``restart``;
    prints ``NAME started`` / ``NAME restarted`` for what it did."""
    lines = ["set -e", _ALIVE,
             "svc() {",
             '  if [ -d /run/systemd/system ]; then',
             '    systemctl daemon-reload',
             ('    if [ "$2" = restart ]; then systemctl enable -q "stackctl-$1"; systemctl restart "stackctl-$1"; '
              'echo "$1 restarted"'),
             ('    elif ! systemctl is-active -q "stackctl-$1"; then systemctl enable -q --now "stackctl-$1"; '
              'echo "$1 started"; fi'),
             '    return 0',
             '  fi',
             '  pidfile="/run/stackctl-$1.pid"; what=started',
             '  if alive "$pidfile"; then',
             '    [ "$2" = restart ] || return 0',
             '    kill -TERM "$(cat "$pidfile")"; i=0',
             '    while alive "$pidfile" && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done',
             '    what=restarted',
             '  fi',
             f'  setsid sh {ETC}/supervise.sh "$1" </dev/null >/dev/null 2>&1 &',
             '  i=0; while ! alive "$pidfile" && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done',
             '  echo "$1 $what"',
             "}"]
    for service in services:
        lines.append(f"svc {service} {'restart' if service in restart else 'ensure'}")
    return "\n".join(lines)


def etcd_wait_py(timeout: float) -> str:
    """Polls the local member until it is healthy; prints the member names (JSON) or, on timeout,
    ``{"error": ...}``."""
    return ("import json, time, urllib.request\n"
            f"deadline = time.monotonic() + {timeout:g}\n"
            "last = 'no answer on 127.0.0.1:2379'\n"
            "while True:\n"
            "    try:\n"
            f"        h = json.load(urllib.request.urlopen('{CLIENT_URL}/health', timeout=2))\n"
            "        if h.get('health') == 'true':\n"
            f"            req = urllib.request.Request('{CLIENT_URL}/v3/cluster/member/list', data=b'{{}}')\n"
            "            ms = json.load(urllib.request.urlopen(req, timeout=2))['members']\n"
            "            print(json.dumps({'members': sorted(m.get('name', '') for m in ms)}))\n"
            "            break\n"
            "        last = 'unhealthy: ' + json.dumps(h)\n"
            "    except Exception as exc:\n"
            "        last = str(exc)\n"
            "    if time.monotonic() > deadline:\n"
            "        print(json.dumps({'error': last}))\n"
            "        break\n"
            "    time.sleep(0.2)\n")


def etcd_log_tail_script() -> str:
    return (f'if [ -d /run/systemd/system ]; then journalctl -u stackctl-etcd -n 3 --no-pager -o cat; '
            f'else tail -n 3 {LOG_DIR}/etcd.log; fi 2>/dev/null || true')
