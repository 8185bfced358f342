"""What `ps`, `ls`, `port` and `images` print: pure formatting of observed containers."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence

from stackctl.humanize import human_duration
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
    """`12 seconds ago`, `About a minute ago`, `3 minutes ago`, `2 hours ago` (as docker prints CREATED)."""
    return f"{human_duration(seconds)} ago"


def _running_for(c: ObservedContainer, now: float | None) -> str:
    """CREATED / RunningFor: `3 minutes ago`; empty without a clock reading or a creation time."""
    return ago(max(0.0, now - float(c.created))) if now is not None and c.created.isdigit() else ""


def _command(c: ObservedContainer, *, trunc: bool) -> str:
    """COMMAND as docker prints it: quoted, cut to 20 characters with an ellipsis unless --no-trunc."""
    command = c.command if not trunc or len(c.command) <= 20 else c.command[:19] + "…"
    return json.dumps(command, ensure_ascii=False)


def ps_table(containers: Sequence[ObservedContainer], *, now: float | None = None, trunc: bool = True) -> str:
    """docker compose's columns: NAME IMAGE COMMAND SERVICE CREATED STATUS PORTS."""
    rows = [["NAME", "IMAGE", "COMMAND", "SERVICE", "CREATED", "STATUS", "PORTS"]]
    for c in containers:
        created = _running_for(c, now)
        rows.append([c.name, c.image, _command(c, trunc=trunc), c.service, created, _status(c), _ports(c)])
    return table(rows)


def _created_at(c: ObservedContainer) -> str:
    """Go's time.Time.String() of the creation time in the local zone: `2026-11-27 04:03:02 +0000 UTC`."""
    import datetime

    if not c.created.isdigit():
        return ""
    return datetime.datetime.fromtimestamp(int(c.created)).astimezone().strftime("%Y-%m-%d %H:%M:%S %z %Z")


def ps_json(containers: Sequence[ObservedContainer], project: str, *, now: float | None = None,
            trunc: bool = True) -> str:
    """One JSON object per line with docker compose v2.40's keys (`ps --format json`); like it, the ID
    and the command are cut short unless --no-trunc. Mounts names the container's volumes."""
    lines = []
    for c in containers:
        volumes = [name for _, name in c.volume_mounts]
        lines.append(json.dumps({
            "Command": _command(c, trunc=trunc), "CreatedAt": _created_at(c), "ExitCode": c.exit_code or 0,
            "Health": c.health or "", "ID": c.id[:12] if trunc else c.id, "Image": c.image,
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(c.labels.items())),
            "LocalVolumes": str(len(volumes)),
            "Mounts": ",".join(v[:14] + "…" if trunc and len(v) > 15 else v for v in volumes),
            "Name": c.name, "Names": c.name, "Networks": ",".join(sorted(c.networks)), "Ports": _ports(c),
            "Project": project,
            "Publishers": [{"URL": ip or "0.0.0.0", "TargetPort": target, "PublishedPort": pub, "Protocol": proto}
                           for ip, pub, target, proto in c.ports],
            "RunningFor": _running_for(c, now),
            "Service": c.service, "Size": "0B", "State": c.state, "Status": _status(c),
        }, ensure_ascii=False))
    return "\n".join(lines) + ("\n" if lines else "")


def ls_table(projects: Iterable[tuple[str, list[ObservedContainer]]], *, all: bool) -> str:
    """Like docker compose: without --all only running containers are counted (and projects without
    one are left out); with --all every state is."""
    rows = [["NAME", "STATUS", "CONFIG FILES"]]
    for name, containers in projects:
        counted = [c for c in containers if all or c.state == "running"]
        if not counted:
            continue
        counts: dict[str, int] = {}
        for c in counted:
            counts[c.state] = counts.get(c.state, 0) + 1
        status = ", ".join(f"{state}({n})" for state, n in sorted(counts.items()))
        files = containers[0].labels.get("com.docker.compose.project.config_files", "")
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


def images_table(containers: Sequence[ObservedContainer], infos: Mapping[str, Mapping[str, object]], *,
                 now: float | None = None) -> str:
    """docker compose's columns: CONTAINER REPOSITORY TAG PLATFORM IMAGE ID SIZE CREATED."""
    rows = [["CONTAINER", "REPOSITORY", "TAG", "PLATFORM", "IMAGE ID", "SIZE", "CREATED"]]
    for c in containers:
        repo, _, tag = c.image.rpartition(":") if ":" in c.image.rsplit("/", 1)[-1] else (c.image, "", "latest")
        info = infos.get(c.image) or {}
        image_id = str(info.get("Id", "")).removeprefix("sha256:")[:12]
        size = int(str(info.get("Size", 0) or 0))
        platform = "/".join(str(info[k]) for k in ("Os", "Architecture", "Variant") if info.get(k))
        rows.append([c.name, repo, tag, platform, image_id, f"{size / 1e6:.2f}MB", _image_created(info, now)])
    return table(rows)


def _image_created(info: Mapping[str, object], now: float | None) -> str:
    import datetime

    text = str(info.get("Created") or "")
    if now is None or not text:
        return ""
    try:
        when = datetime.datetime.fromisoformat(text[:26].rstrip("Z")).replace(tzinfo=datetime.UTC)
    except ValueError:
        return ""
    return ago(max(0.0, now - when.timestamp()))
