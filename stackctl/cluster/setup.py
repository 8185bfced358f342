"""``stackctl cluster init``: make the inventory's nodes into a cluster; safe to run again.

Over the user's own SSH access (inventory keys, verified host keys), in this order, stopping with one
line per node at the first step a node cannot pass (before anything is changed when it is a
preflight problem: unreachable, host key changed, no python3, no etcd binary on a manager):

1. preflight every node in parallel (python3, systemd, etcd, what is installed, etcd data);
2. read back what an earlier init left on the managers (CA, cluster key, peer certificates), so a
   second run, from any machine, keeps them;
3. install this stackctl with what the agent imports (``ssh_install``) where it is missing;
4. write the managers' files (:mod:`stackctl.cluster.init_files`), only those that differ;
5. authorize the cluster SSH key for the inventory's user on every node;
6. start (or restart, when their files changed) etcd then the agent on every manager, and the node
   proxy on every node (workers too); wait until every member is healthy and the members are exactly
   the managers.

Before anything is written, the cluster's VIP range (``--vip-range``, default 10.240.0.0/16) is checked
against every node's routes and addresses: a collision is one line naming the node and the route.

The outcome is an :class:`InitReport`: what changed where (empty: nothing changed).
"""

from __future__ import annotations

import asyncio
import base64
import datetime
import json
import shlex
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from stackctl.cluster import init_files as files
from stackctl.cluster import pki
from stackctl.cluster.inventory import Inventory
from stackctl.cluster.traffic import DEFAULT_VIP_RANGE, range_collision, vip_network
from stackctl.drivers import ssh_install
from stackctl.drivers.ssh import SshSession, SshTransport
from stackctl.errors import ClusterError, DriverError
from stackctl.nodes import NodeSpec

MANAGER_COUNTS = (1, 3, 5)
ETCD_WAIT = 30.0


class InitRefused(ClusterError):
    """``cluster init`` cannot go on: one line per node that stops it."""

    def __init__(self, problems: Sequence[str]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(self.problems))

    def lines(self) -> list[str]:
        return list(self.problems)


@dataclass(frozen=True)
class NodeFacts:
    node: NodeSpec
    install: ssh_install.Installation
    systemd: bool
    etcd: str            # path of the etcd binary ("" when absent)
    etcd_data: bool      # etcd has a member directory there


@dataclass
class InitReport:
    cluster: str
    changes: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    members: list[str] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return any(self.changes.values())

    def add(self, node: str, what: str) -> None:
        self.changes.setdefault(node, []).append(what)


Log = Callable[[str], None]


def check_managers(inventory: Inventory) -> None:
    count = len(inventory.managers)
    if count not in MANAGER_COUNTS:
        raise ClusterError(f"{inventory.file}: {count} managers; a cluster needs 1, 3 or 5 (one etcd member "
                           "each, so that a majority survives a loss)")


def agent_bundle(archive: bool) -> ssh_install.Bundle:
    """This stackctl with what the agent imports (``archive=False``: its identity only)."""
    return ssh_install.build_bundle(distributions=ssh_install.AGENT_DISTRIBUTIONS, archive=archive)


async def init_cluster(inventory: Inventory, *, now: datetime.datetime, log: Log = lambda _: None,
                       bundle: Callable[[bool], ssh_install.Bundle] = agent_bundle,
                       vip_range: str = DEFAULT_VIP_RANGE) -> InitReport:
    """Run ``cluster init`` over ``inventory``; ``log`` receives progress lines (never a secret)."""
    check_managers(inventory)
    vip_network(vip_range)
    started = time.monotonic()
    report = InitReport(inventory.name)
    async with SshTransport(inventory.nodes) as transport:
        identity, _ = await asyncio.gather(  # the bundle's digest is computed while connecting
            asyncio.to_thread(bundle, False),
            _each(inventory.nodes, lambda n: transport.session(n.name).connection()))
        facts = await _preflight(transport, inventory, identity)
        await _check_vip_range(transport, inventory, vip_range)
        if not all(f.install.present for f in facts.values()):
            built = await asyncio.to_thread(bundle, True)
            if built.digest != identity.digest:
                raise ClusterError("stackctl changed on this machine while cluster init ran; run it again")
            await _install(transport, facts, built, report, log)
        _native_notes(facts, identity, report)
        secrets = await _secrets(transport, inventory, now=now, report=report)
        known_hosts = await _known_hosts(transport, inventory)
        restarts: dict[str, list[str]] = {}
        await _each(inventory.nodes, lambda m: _write_node(
            transport.session(m.name), inventory, facts[m.name], secrets, known_hosts, report, restarts,
            vip_range=vip_range))
        await _each(inventory.nodes, lambda n: _authorize(transport.session(n.name), secrets.ssh_public,
                                                          inventory.name, report))
        log("etcd and the agent on the managers, the node proxy everywhere: starting what is not running")
        await _each(inventory.nodes, lambda m: _services(transport.session(m.name), restarts.get(m.name, []),
                                                         report))
        report.members = await _wait_etcd(transport, inventory)
    report.seconds = time.monotonic() - started
    return report


async def _each(nodes: Sequence[NodeSpec], step: Callable[[NodeSpec], Awaitable[object]]) -> None:
    """Run ``step`` on every node at once; every node's failure is reported, one line each."""
    results = await asyncio.gather(*(step(n) for n in nodes), return_exceptions=True)
    problems = []
    for result in results:
        if isinstance(result, InitRefused):
            problems += result.problems
        elif isinstance(result, (DriverError, ClusterError)):
            problems.append(str(result))
        elif isinstance(result, BaseException):
            raise result
    if problems:
        raise InitRefused(problems)


# --- 1. preflight ------------------------------------------------------------------------------------

async def _preflight(transport: SshTransport, inventory: Inventory,
                     bundle: ssh_install.Bundle) -> dict[str, NodeFacts]:
    facts: dict[str, NodeFacts] = {}

    async def one(node: NodeSpec) -> None:
        where = f"node {node.name}"
        out = await transport.session(node.name).run(
            files.as_root(node, files.preflight_script(ssh_install.probe_script(bundle))), timeout=30)
        lines = (out.stdout.splitlines() + [""] * 9)[:9]
        install = ssh_install.parse_probe(where, bundle, "\n".join(lines[:6]))
        fact = NodeFacts(node, install, lines[6].strip() == "1", lines[7].strip(), lines[8].strip() == "1")
        if node.is_manager and not fact.etcd:
            raise ClusterError(f"{where} ({node.address}): no etcd binary on the PATH; a manager runs an etcd "
                               "member (install the etcd-server package, or etcd from its release archive)")
        if node.is_manager and not install.native:
            raise ClusterError(f"{where}: python3 there is {install.python_version}, this machine's is "
                               f"{bundle.python} ({bundle.machine}): the agent's binary modules (cryptography, "
                               "rpds) would not load; use the same Python version on both")
        facts[node.name] = fact

    await _each(inventory.nodes, one)
    with_data = sorted(f.node.name for f in facts.values() if f.node.is_manager and f.etcd_data)
    without = sorted(m.name for m in inventory.managers if m.name not in with_data)
    if with_data and without:
        raise InitRefused([(f"etcd: {', '.join(without)} cannot join the members on {', '.join(with_data)}: "
                            "adding a manager to a running cluster is not supported yet (remove "
                            f"{files.ETCD_DATA} on every manager to start the cluster over)")])
    return facts


async def _check_vip_range(transport: SshTransport, inventory: Inventory, vip_range: str) -> None:
    """The VIP range must not overlap a route or an address of any node (its own network, its engine's
    bridges): one line naming what it collides with and where."""
    addresses = [n.address for n in inventory.nodes]
    hits: dict[str, list[str]] = {}

    async def one(node: NodeSpec) -> None:
        out = await transport.session(node.name).run("ip -4 route show", timeout=30, check=False)
        hit = range_collision(vip_range, [ln.split()[0] for ln in out.stdout.splitlines() if ln.strip()], addresses)
        if hit is not None:
            hits.setdefault(hit, []).append(node.name)

    await _each(inventory.nodes, one)
    if hits:
        what, where = next(iter(sorted(hits.items())))
        raise ClusterError(f"the VIP range {vip_range} collides with {what} (on {', '.join(sorted(where))}); "
                           "choose another with `cluster init --vip-range CIDR`")


# --- 2. install ---------------------------------------------------------------------------------------

async def _install(transport: SshTransport, facts: dict[str, NodeFacts], bundle: ssh_install.Bundle,
                   report: InitReport, log: Log) -> None:
    async def one(node: NodeSpec) -> None:
        fact = facts[node.name]
        if fact.install.present:
            return
        log(f"{node.name}: installing stackctl {bundle.version} ({len(bundle.archive) // 1_000_000} MB)")
        session = transport.session(node.name)
        script = files.as_root(node, ssh_install.install_script(bundle, fact.install.python))
        result = await session.run(script, input=bundle.archive, timeout=300, check=False)
        if result.exit_status != 0:
            detail = (result.stderr.strip() or result.stdout.strip()).splitlines()
            raise ClusterError(f"node {node.name}: installing stackctl into {fact.install.dir} failed: "
                               f"{detail[-1] if detail else f'exit {result.exit_status}'}")
        report.add(node.name, f"installed stackctl {bundle.dirname}")

    await _each([facts[n].node for n in facts], one)


def _native_notes(facts: dict[str, NodeFacts], bundle: ssh_install.Bundle, report: InitReport) -> None:
    for name, fact in facts.items():
        if not fact.install.native:
            report.notes.append(f"{name}: python3 there is {fact.install.python_version}, not {bundle.python}: "
                                "stackctl's native parts (balancer relay, binary modules) will not load there")


# --- 3. secrets (CA, peer certificates, cluster SSH key) ----------------------------------------------

@dataclass(frozen=True)
class Secrets:
    ca: pki.Pem
    ssh_private: bytes
    ssh_public: str
    peers: dict[str, pki.Pem | None]  # None: the manager's certificate stays as it is

    def __repr__(self) -> str:
        return "Secrets(<secret>)"


def _paths(node: str) -> dict[str, str]:
    return {"ca.crt": f"{files.PKI}/ca.crt", "ca.key": f"{files.PKI}/ca.key",
            "key": f"{files.ETC}/cluster_key", "crt": f"{files.PKI}/{node}.crt"}


async def _read_secrets(session: SshSession) -> dict[str, bytes | None]:
    node = session.node
    paths = _paths(node.name)
    script = "python3 -c " + _q(files.READ_FILES_PY) + " " + " ".join(_q(p) for p in paths.values())
    out = await session.run(files.as_root(node, script), timeout=30)
    raw = json.loads(out.stdout)
    return {k: (base64.b64decode(raw[p]) if raw.get(p) else None) for k, p in paths.items()}


def _q(text: str) -> str:
    return shlex.quote(text)


async def _secrets(transport: SshTransport, inventory: Inventory, *, now: datetime.datetime,
                   report: InitReport) -> Secrets:
    managers = inventory.managers
    found = await asyncio.gather(*(_read_secrets(transport.session(m.name)) for m in managers))
    ca = next((pki.Pem(f["ca.crt"], f["ca.key"]) for f in found if f["ca.crt"] and f["ca.key"]
               and pki.ca_usable(pki.Pem(f["ca.crt"], f["ca.key"]), now=now)), None)
    if ca is None:
        ca = pki.make_ca(inventory.name, now=now)
        report.add("cluster", "made a new cluster CA")
    comment = files.key_comment(inventory.name)
    key = next(((f["key"], line) for f in found if f["key"]
                and (line := pki.ssh_public_line(f["key"], comment))), None)
    if key is None:
        key = pki.make_ssh_key(comment)
        report.add("cluster", "made a new cluster SSH key")
    peers = {m.name: (None if pki.peer_cert_valid(f["crt"], ca.cert, address=m.address, now=now)
                      else pki.issue_peer(ca, node=m.name, address=m.address, now=now))
             for m, f in zip(managers, found)}
    return Secrets(ca=ca, ssh_private=key[0], ssh_public=key[1], peers=peers)


async def _known_hosts(transport: SshTransport, inventory: Inventory) -> str:
    """The host key of every node as this run verified it (against the user's known_hosts)."""
    lines = []
    for node in inventory.nodes:
        conn = await transport.session(node.name).connection()
        key = conn.get_server_host_key()
        if key is None:
            raise ClusterError(f"node {node.name}: no verified host key")
        key_type, blob = key.export_public_key("openssh").decode().split()[:2]
        lines.append(f"{files.host_pattern(node)} {key_type} {blob}\n")
    return "".join(lines)


# --- 4. files on the managers, 5. the cluster key everywhere -----------------------------------------

def _proxy_files(inventory: Inventory, fact: NodeFacts, vip_range: str) -> list[tuple[str, int, bytes]]:
    """Every node's: the node proxy's script, the supervisor, its systemd unit where systemd runs."""
    node, name = fact.node, inventory.name
    wanted = [(f"{files.ETC}/proxy.sh", 0o755, files.proxy_sh(name, node, python=fact.install.python,
                                                             install_dir=fact.install.dir,
                                                             vip_range=vip_range).encode()),
              (f"{files.ETC}/supervise.sh", 0o755, files.SUPERVISE_SH.encode())]
    if fact.systemd:
        wanted.append(("/etc/systemd/system/stackctl-proxy.service", 0o644,
                       files.systemd_unit("proxy", name).encode()))
    return wanted


def _manager_files(inventory: Inventory, fact: NodeFacts, secrets: Secrets,
                   known_hosts: str, vip_range: str) -> list[tuple[str, int, bytes]]:
    node, name = fact.node, inventory.name
    wanted: list[tuple[str, int, bytes]] = [
        (f"{files.PKI}/ca.crt", 0o644, secrets.ca.cert), (f"{files.PKI}/ca.key", 0o600, secrets.ca.key),
        (f"{files.ETC}/cluster_key", 0o600, secrets.ssh_private),
        (f"{files.ETC}/cluster_key.pub", 0o644, (secrets.ssh_public + "\n").encode()),
        (f"{files.ETC}/known_hosts", 0o644, known_hosts.encode()),
        (f"{files.ETC}/agent.json", 0o644, files.agent_json(name, node, vip_range=vip_range).encode()),
        (f"{files.ETC}/inventory.json", 0o644, files.inventory_json(name, inventory.nodes).encode()),
        (f"{files.ETC}/etcd.sh", 0o755, files.etcd_sh(name, node, inventory.managers, etcd=fact.etcd).encode()),
        (f"{files.ETC}/agent.sh", 0o755, files.agent_sh(name, node, python=fact.install.python,
                                                        install_dir=fact.install.dir).encode()),
    ]
    peer = secrets.peers.get(node.name)
    if peer is not None:
        wanted += [(f"{files.PKI}/{node.name}.crt", 0o644, peer.cert), (f"{files.PKI}/{node.name}.key", 0o600, peer.key)]
    if fact.systemd:
        wanted += [(f"/etc/systemd/system/stackctl-{s}.service", 0o644, files.systemd_unit(s, name).encode())
                   for s in files.SERVICES if s != "proxy"]
    return wanted


# Which written files make which service restart.
_RESTARTS = {"etcd": ("/pki/", "/etcd.sh", "stackctl-etcd.service", "/supervise.sh"),
             "agent": ("/agent.sh", "/agent.json", "/inventory.json", "/cluster_key", "/known_hosts",
                       "stackctl-agent.service", "/supervise.sh"),
             "proxy": ("/proxy.sh", "stackctl-proxy.service", "/supervise.sh")}


async def _write_node(session: SshSession, inventory: Inventory, fact: NodeFacts, secrets: Secrets,
                      known_hosts: str, report: InitReport, restarts: dict[str, list[str]], *,
                      vip_range: str) -> None:
    node = session.node
    wanted = _proxy_files(inventory, fact, vip_range)
    if node.is_manager:
        wanted += _manager_files(inventory, fact, secrets, known_hosts, vip_range)
    payload = json.dumps([{"path": p, "mode": m, "data": base64.b64encode(d).decode()} for p, m, d in wanted])
    script = "python3 -c " + _q(files.WRITE_FILES_PY)
    out = await session.run(files.as_root(node, script), input=payload, timeout=60)
    written = [ln.strip() for ln in out.stdout.splitlines() if ln.strip()]
    for path in written:
        report.add(node.name, f"wrote {path}")
    restarts[node.name] = [s for s, marks in _RESTARTS.items() if any(m in p for p in written for m in marks)]


async def _authorize(session: SshSession, public: str, cluster: str, report: InitReport) -> None:
    out = await session.run(files.authorize_script(public, files.key_comment(cluster)), timeout=30)
    if "added" in out.stdout:
        report.add(session.node.name, "authorized the cluster SSH key")


# --- 6. etcd and the agent ------------------------------------------------------------------------------

async def _services(session: SshSession, restart: list[str], report: InitReport) -> None:
    node = session.node
    services = files.SERVICES if node.is_manager else files.WORKER_SERVICES
    out = await session.run(files.as_root(node, files.services_script(restart, services)), timeout=60)
    for line in out.stdout.splitlines():
        if line.strip():
            report.add(node.name, line.strip())


async def _wait_etcd(transport: SshTransport, inventory: Inventory) -> list[str]:
    managers = inventory.managers
    wanted = sorted(m.name for m in managers)

    async def one(node: NodeSpec) -> list[str]:
        session = transport.session(node.name)
        out = await session.run("python3 -c " + _q(files.etcd_wait_py(ETCD_WAIT)), timeout=ETCD_WAIT + 15)
        answer = json.loads(out.stdout or "{}")
        if "members" in answer:
            if answer["members"] != wanted:
                raise ClusterError(f"node {node.name}: etcd members are {', '.join(answer['members'])}, not "
                                   f"the inventory's managers {', '.join(wanted)}")
            return list(answer["members"])
        tail = await session.run(files.as_root(node, files.etcd_log_tail_script()), timeout=15, check=False)
        last = next((ln for ln in reversed(tail.stdout.splitlines()) if ln.strip()), "")
        raise ClusterError(f"node {node.name}: the etcd member did not join within {ETCD_WAIT:g} s "
                           f"({answer.get('error', 'no answer')}){'; log: ' + last[:300] if last else ''}")

    results: list[list[str]] = []

    async def collect(node: NodeSpec) -> None:
        results.append(await one(node))

    await _each(managers, collect)
    return results[0] if results else []
