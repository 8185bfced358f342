"""The lab's system calls: ip, iptables, mounts, namespaces, processes, cgroups. Linux, root."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import time
from collections.abc import Iterable, Sequence

from stackctl.errors import LabError

CGROUP_ROOT = pathlib.Path("/sys/fs/cgroup")


def run(argv: Sequence[str], *, check: bool = True, input: str | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a command; a failure (when ``check``) is a LabError naming the command and its stderr."""
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, input=input, timeout=timeout,
                              check=False)
    except FileNotFoundError as exc:
        raise LabError(f"{argv[0]} is not installed (scripts/bootstrap.sh installs it)") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{' '.join(argv)} did not finish within {timeout:g} s") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise LabError(f"{' '.join(argv)} failed: {detail[-1] if detail else f'exit {proc.returncode}'}")
    return proc


def ok(argv: Sequence[str]) -> bool:
    return run(argv, check=False).returncode == 0


# --- network -------------------------------------------------------------------------------------

def netns_list(prefix: str) -> list[str]:
    out = run(["ip", "netns", "list"], check=False).stdout
    names = [line.split()[0] for line in out.splitlines() if line.strip()]
    return sorted(n for n in names if n.startswith(prefix))


def links(prefix: str) -> list[str]:
    out = run(["ip", "-o", "link", "show"], check=False).stdout
    names = []
    for line in out.splitlines():
        parts = line.split(":", 2)
        if len(parts) > 1:
            names.append(parts[1].strip().split("@", 1)[0])
    return sorted(n for n in names if n.startswith(prefix))


def routes() -> list[tuple[str, str]]:
    """IPv4 routes of the host as (prefix, device)."""
    out = run(["ip", "-4", "-o", "route", "show"], check=False).stdout
    found = []
    for line in out.splitlines():
        parts = line.split()
        if "dev" in parts and parts.index("dev") + 1 < len(parts):
            found.append((parts[0], parts[parts.index("dev") + 1]))
    return found


def link_exists(name: str) -> bool:
    return ok(["ip", "link", "show", "dev", name])


def iptables_rules(comment: str) -> list[list[str]]:
    """Our rules (as ``-A CHAIN ...`` argument lists) in the filter table."""
    out = run(["iptables", "-w", "-S"], check=False).stdout
    tag = f'--comment {comment}'
    return [line.split() for line in out.splitlines()
            if line.startswith("-A ") and (tag in line or f'--comment "{comment}"' in line)]


def ensure_forward_rule(bridge: str, comment: str) -> None:
    rule = ["FORWARD", "-i", bridge, "-o", bridge, "-m", "comment", "--comment", comment, "-j", "ACCEPT"]
    if not ok(["iptables", "-w", "-C", *rule]):
        run(["iptables", "-w", "-I", *rule[:1], "1", *rule[1:]])


def delete_rules(comment: str) -> None:
    for rule in iptables_rules(comment):
        run(["iptables", "-w", "-D", *rule[1:]], check=False)


# --- mounts --------------------------------------------------------------------------------------

def mounts_under(path: pathlib.Path) -> list[str]:
    """Mount points at or below ``path`` in the host's mount namespace, deepest first."""
    prefix = str(path).rstrip("/")
    found = []
    for line in pathlib.Path("/proc/self/mountinfo").read_text().splitlines():
        target = line.split()[4].replace("\\040", " ")
        if target == prefix or target.startswith(prefix + "/"):
            found.append(target)
    return sorted(found, key=len, reverse=True)


def ensure_private_dir(path: pathlib.Path) -> None:
    """Make ``path`` a private bind mount of itself: persistent mount namespaces may live in it."""
    path.mkdir(parents=True, exist_ok=True)
    if str(path) not in mounts_under(path):
        run(["mount", "--bind", str(path), str(path)])
    run(["mount", "--make-private", str(path)])


def unmount_all(path: pathlib.Path) -> None:
    for target in mounts_under(path):
        run(["umount", "-l", target], check=False)


# --- processes and cgroups -------------------------------------------------------------------------

def netns_pids(netns: str) -> set[int]:
    out = run(["ip", "netns", "pids", netns], check=False).stdout
    return {int(p) for p in out.split() if p.isdigit()}


def cgroup_dirs(prefix: str) -> list[pathlib.Path]:
    """Every cgroup directory (all hierarchies) whose top-level name starts with ``prefix``."""
    found: list[pathlib.Path] = []
    if not CGROUP_ROOT.is_dir():
        return found
    for hierarchy in CGROUP_ROOT.iterdir():
        if not hierarchy.is_dir():
            continue
        try:
            tops = [d for d in hierarchy.iterdir() if d.is_dir() and d.name.startswith(prefix)]
        except OSError:
            continue
        for top in tops:
            # os.walk skips a cgroup that goes away while it walks (its last process just exited)
            subdirs = [pathlib.Path(root, d) for root, dirs, _ in os.walk(top) for d in dirs]
            found.extend(sorted(subdirs, key=lambda p: -len(p.parts)))
            found.append(top)
    return found


def cgroup_pids(prefix: str) -> set[int]:
    pids: set[int] = set()
    for d in cgroup_dirs(prefix):
        try:
            pids.update(int(p) for p in (d / "cgroup.procs").read_text().split())
        except (OSError, ValueError):
            continue
    return pids


def remove_cgroups(prefix: str) -> None:
    for d in cgroup_dirs(prefix):
        try:
            d.rmdir()
        except OSError:
            pass


def kill_all(pids: Iterable[int], *, timeout: float = 10) -> None:
    """SIGKILL every pid and wait until they are gone (zombies of foreign parents count as gone)."""
    pending = {p for p in pids if p != os.getpid()}
    for pid in pending:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        pending = {p for p in pending if _alive(p)}
        if pending:
            time.sleep(0.05)
    if pending:
        raise LabError(f"processes {sorted(pending)} did not exit after SIGKILL")


def _alive(pid: int) -> bool:
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state not in {"Z", "X"}
