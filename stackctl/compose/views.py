"""What `ps`, `ls`, `port` and `images` print: pure formatting of observed containers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from stackctl.plan.observed import ObservedContainer


def _status(c: ObservedContainer) -> str:
    if c.status:
        return c.status
    if c.state == "running":
        return f"running ({c.health})" if c.health else "running"
    if c.state in ("exited", "dead"):
        return f"{c.state} ({c.exit_code})" if c.exit_code is not None else c.state
    return c.state


def _ports(c: ObservedContainer) -> str:
    return ", ".join(f"{ip or '0.0.0.0'}:{pub}->{target}/{proto}" for ip, pub, target, proto in c.ports)


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("   ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip() for r in rows) + "\n"


def ps_rows(containers: Iterable[ObservedContainer], *, all: bool, services: Sequence[str] = ()) -> list[ObservedContainer]:
    chosen = [c for c in containers if (all or c.running) and (not services or c.service in services)]
    return sorted(chosen, key=lambda c: (c.service, c.number, c.name))


def ago(seconds: float) -> str:
    """`12 seconds ago`, `3 minutes ago`, `2 hours ago`, `5 days ago` (as docker prints CREATED)."""
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = int(seconds // size)
            return f"{'About an' if n == 1 and unit == 'hour' else n} {unit}{'s' if n > 1 else ''} ago"
    return f"{int(seconds)} seconds ago"


def ps_table(containers: Sequence[ObservedContainer], *, now: float | None = None) -> str:
    """docker compose's columns: NAME IMAGE COMMAND SERVICE CREATED STATUS PORTS."""
    rows = [["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]]
    for c in containers:
        command = c.command if len(c.command) <= 20 else c.command[:19] + "…"
        created = ago(max(0.0, now - float(c.created))) if now is not None and c.created.isdigit() else ""
        rows.append([c.name, c.image, json.dumps(command, ensure_ascii=False), c.service, created, _status(c),
                     _ports(c)])
    return table(rows)


def ps_json(containers: Sequence[ObservedContainer], project: str) -> str:
    """One JSON object per line, as docker compose v2.40 prints `ps --format json`."""
    lines = []
    for c in containers:
        lines.append(json.dumps({
            "ID": c.id, "Name": c.name, "Image": c.image, "Command": c.command, "Project": project,
            "Service": c.service, "State": c.state, "Health": c.health or "", "ExitCode": c.exit_code or 0,
            "Status": _status(c), "Labels": ",".join(f"{k}={v}" for k, v in sorted(c.labels.items())),
            "Publishers": [{"URL": ip or "0.0.0.0", "TargetPort": target, "PublishedPort": pub, "Protocol": proto}
                           for ip, pub, target, proto in c.ports],
        }))
    return "\n".join(lines) + ("\n" if lines else "")


def ls_table(projects: Iterable[tuple[str, list[ObservedContainer]]], *, all: bool) -> str:
    rows = [["NAME", "STATUS", "CONFIG FILES"]]
    for name, containers in projects:
        counts: dict[str, int] = {}
        for c in containers:
            counts[c.state] = counts.get(c.state, 0) + 1
        if not all and not counts.get("running"):
            continue
        status = ", ".join(f"{state}({n})" for state, n in sorted(counts.items()))
        files = containers[0].labels.get("com.docker.compose.project.config_files", "") if containers else ""
        rows.append([name, status, files])
    return table(rows)


def port_of(containers: Sequence[ObservedContainer], service: str, private: int, protocol: str = "tcp",
            index: int = 1) -> str | None:
    for c in containers:
        if c.service == service and c.number == index:
            for ip, pub, target, proto in c.ports:
                if target == private and proto == protocol:
                    return f"{ip or '0.0.0.0'}:{pub}"
    return None


def images_table(containers: Sequence[ObservedContainer], infos: Mapping[str, Mapping[str, object]]) -> str:
    rows = [["CONTAINER", "REPOSITORY", "TAG", "IMAGE ID", "SIZE"]]
    for c in containers:
        repo, _, tag = c.image.rpartition(":") if ":" in c.image.rsplit("/", 1)[-1] else (c.image, "", "latest")
        info = infos.get(c.image) or {}
        image_id = str(info.get("Id", "")).removeprefix("sha256:")[:12]
        size = int(str(info.get("Size", 0) or 0))
        rows.append([c.name, repo, tag, image_id, f"{size / 1e6:.2f}MB"])
    return table(rows)
