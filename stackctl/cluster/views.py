"""What `stack ls|ps|services`, `service ls|ps|inspect` and `node ls` print, with docker's columns.

Pure formatting of cluster records: tables as docker's CLI writes them (tabwriter: columns at least 10
wide, 3 spaces apart) and, for ``--format json``, one JSON object per line with docker's keys, as
``docker service ls --format json`` prints them. The clock reading comes in as ``now``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from stackctl.cluster.state import NodeRecord, ServiceRecord, StackRecord, TaskRecord
from stackctl.humanize import human_duration

MIN_WIDTH, PADDING = 10, 3
ERROR_WIDTH = 30  # docker truncates ERROR in `service ps` unless --no-trunc
ERROR_STATES = frozenset({"pending", "failed", "orphaned", "shutdown", "complete"})


def table(header: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    """docker's tabwriter (minwidth 10, padding 3); the last column is not padded."""
    all_rows = [list(header), *(list(r) for r in rows)]
    widths = [max(MIN_WIDTH, max(len(r[i]) for r in all_rows) + PADDING) for i in range(len(header))]
    lines = ["".join(cell.ljust(w) for cell, w in zip(r[:-1], widths)) + r[-1] for r in all_rows]
    return "\n".join(line.rstrip() for line in lines) + "\n"


def json_lines(objects: Iterable[Mapping[str, Any]]) -> str:
    return "".join(json.dumps(o) + "\n" for o in objects)


def service_name(stack: str, service: str) -> str:
    return f"{stack}_{service}"


def service_id(stack: str, service: str) -> str:
    """A stable 12-character ID for a service (the records are keyed by name; docker shows an ID)."""
    return hashlib.sha256(f"{stack}/{service}".encode()).hexdigest()[:12]


def task_name(task: TaskRecord) -> str:
    return f"{task.stack}_{task.service}.{task.slot if task.slot else task.node}"


def _svc_doc(stacks: Mapping[str, StackRecord], svc: ServiceRecord) -> Mapping[str, Any]:
    stack = stacks.get(svc.stack)
    services = stack.document.get("services", {}) if stack else {}
    doc = services.get(svc.service)
    return doc if isinstance(doc, Mapping) else {}


def ports_text(doc: Mapping[str, Any]) -> str:
    out = []
    for p in doc.get("ports") or ():
        if isinstance(p, Mapping) and p.get("published"):
            out.append(f"*:{p['published']}->{p.get('target')}/{p.get('protocol') or 'tcp'}")
    return ", ".join(out)


# --- stacks ---------------------------------------------------------------------------------------

def stack_rows(stacks: Sequence[StackRecord], services: Sequence[ServiceRecord]) -> list[dict[str, str]]:
    counts: dict[str, int] = {}
    for s in services:
        counts[s.stack] = counts.get(s.stack, 0) + 1
    return [{"Name": st.name, "Services": str(counts.get(st.name, 0))} for st in sorted(stacks, key=lambda s: s.name)]


def stack_table(rows: Sequence[Mapping[str, str]]) -> str:
    return table(["NAME", "SERVICES"], ([r["Name"], r["Services"]] for r in rows))


# --- services -------------------------------------------------------------------------------------

def replicas_text(svc: ServiceRecord, tasks: Sequence[TaskRecord], doc: Mapping[str, Any]) -> str:
    mine = [t for t in tasks if (t.stack, t.service) == (svc.stack, svc.service)]
    running = sum(1 for t in mine if t.state == "running" and t.desired == "running")
    desired = svc.replicas if svc.mode == "replicated" else sum(1 for t in mine if t.desired == "running")
    text = f"{running}/{desired}"
    per_node = ((doc.get("deploy") or {}).get("placement") or {}).get("max_replicas_per_node")
    return f"{text} (max {per_node} per node)" if per_node else text


def service_rows(stacks: Sequence[StackRecord], services: Sequence[ServiceRecord],
                 tasks: Sequence[TaskRecord]) -> list[dict[str, str]]:
    by_name = {s.name: s for s in stacks}
    rows = []
    for svc in sorted(services, key=lambda s: (s.stack, s.service)):
        doc = _svc_doc(by_name, svc)
        rows.append({"ID": service_id(svc.stack, svc.service), "Name": service_name(svc.stack, svc.service),
                     "Mode": svc.mode, "Replicas": replicas_text(svc, tasks, doc), "Image": str(doc.get("image", "")),
                     "Ports": ports_text(doc)})
    return rows


def service_table(rows: Sequence[Mapping[str, str]]) -> str:
    keys = ("ID", "Name", "Mode", "Replicas", "Image", "Ports")
    return table(["ID", "NAME", "MODE", "REPLICAS", "IMAGE", "PORTS"], ([r[k] for k in keys] for r in rows))


def service_inspect(stack: StackRecord, svc: ServiceRecord, tasks: Sequence[TaskRecord]) -> dict[str, Any]:
    """`service inspect`: the record, the service as stored in the stack, and its tasks' summary."""
    doc = _svc_doc({stack.name: stack}, svc)
    return {"ID": service_id(svc.stack, svc.service), "Name": service_name(svc.stack, svc.service),
            "Stack": svc.stack, "Service": svc.service, "Version": svc.version, "SpecHash": svc.spec_hash,
            "Mode": svc.mode, "Replicas": svc.replicas, "UpdatedAt": svc.updated,
            "Image": doc.get("image"), "ImageID": stack.images.get(str(doc.get("image"))),
            "Spec": doc, "Tasks": replicas_text(svc, tasks, doc), "UpdateStatus": update_status(svc),
            "PreviousSpec": (svc.previous or {}).get("service")}


def update_status(svc: ServiceRecord) -> dict[str, Any] | None:
    """docker's UpdateStatus (State, StartedAt, CompletedAt, Message) of the service's last update."""
    up = svc.update
    if up is None:
        return None
    done = up.state.endswith("completed") or up.stopped
    return {"State": up.state, "StartedAt": up.started, "CompletedAt": up.updated if done else None,
            "Message": up.message, "Config": up.config}


def update_line(svc: ServiceRecord) -> str:
    """One line for `service ps`: where the service's last update stands and why it stopped."""
    up = svc.update
    if up is None:
        return ""
    return f"{service_name(svc.stack, svc.service)}: {up.message or up.state.replace('_', ' ')}"


# --- tasks ----------------------------------------------------------------------------------------

def _state_text(task: TaskRecord, now: float) -> str:
    return f"{task.state.capitalize()} {human_duration(max(0.0, now - task.updated))} ago"


def _error_text(task: TaskRecord, *, trunc: bool) -> str:
    if not task.message or task.state not in ERROR_STATES:
        return ""
    text = task.message
    if task.attempt:
        text = f"restart {task.attempt}: {text}"
    if trunc and len(text) > ERROR_WIDTH:
        text = text[:ERROR_WIDTH - 1] + "…"
    return f'"{text}"'


def _history_order(tasks: Sequence[TaskRecord]) -> list[tuple[TaskRecord, bool]]:
    """docker's order: by service and slot; in each slot the task meant to run first, then older ones
    (newest first) marked as history (`\\_ web.1`)."""
    slots: dict[tuple[str, str, str], list[TaskRecord]] = {}
    for t in tasks:
        key = (t.stack, t.service, f"{t.slot:09d}" if t.slot else f"~{t.node or ''}")
        slots.setdefault(key, []).append(t)
    out: list[tuple[TaskRecord, bool]] = []
    for key in sorted(slots):
        group = sorted(slots[key], key=lambda t: (t.desired != "running", -t.created, t.id))
        out += [(t, i > 0) for i, t in enumerate(group)]
    return out


def task_rows(tasks: Sequence[TaskRecord], stacks: Sequence[StackRecord], *, now: float,
              trunc: bool = True) -> list[dict[str, str]]:
    by_name = {s.name: s for s in stacks}
    rows = []
    for task, history in _history_order(tasks):
        stack = by_name.get(task.stack)
        doc = (stack.document.get("services", {}).get(task.service, {}) if stack else {}) or {}
        name = task_name(task)
        rows.append({"ID": task.id, "Name": (" \\_ " + name) if history else name, "Image": str(doc.get("image", "")),
                     "Node": task.node or "", "DesiredState": task.desired.capitalize(),
                     "CurrentState": _state_text(task, now), "Error": _error_text(task, trunc=trunc),
                     "Ports": "", "Attempt": str(task.attempt)})
    return rows


def task_table(rows: Sequence[Mapping[str, str]]) -> str:
    keys = ("ID", "Name", "Image", "Node", "DesiredState", "CurrentState", "Error", "Ports")
    return table(["ID", "NAME", "IMAGE", "NODE", "DESIRED STATE", "CURRENT STATE", "ERROR", "PORTS"],
                 ([r[k] for k in keys] for r in rows))


# --- nodes ----------------------------------------------------------------------------------------

def manager_status(record: NodeRecord | None, leader: str | None) -> str:
    """docker's MANAGER STATUS: Leader, Reachable (another manager), Unreachable, or empty for a worker."""
    if record is None or record.role != "manager":
        return ""
    if record.name == leader:
        return "Leader"
    return "Unreachable" if record.state == "down" else "Reachable"


def node_fields(record: NodeRecord | None, *, leader: str | None, tasks: Sequence[TaskRecord]) -> dict[str, Any]:
    """The cluster-state fields `node ls|inspect` add to what SSH measured (None without a cluster state)."""
    if record is None:
        return {"availability": None, "state": None, "manager_status": None, "tasks": None,
                "cluster_labels": None, "message": None, "last_seen": None}
    running = sum(1 for t in tasks if t.node == record.name and t.desired == "running")
    return {"availability": record.availability, "state": record.state,
            "manager_status": manager_status(record, leader), "tasks": running, "cluster_labels": dict(record.labels),
            "message": record.message, "last_seen": record.last_seen}


def find_service(services: Sequence[ServiceRecord], name: str) -> ServiceRecord | None:
    """A service by its full name (``shop_web``) or a unique prefix of its ID, as docker accepts them."""
    for s in services:
        if service_name(s.stack, s.service) == name:
            return s
    by_id = [s for s in services if len(name) >= 3 and service_id(s.stack, s.service).startswith(name)]
    return by_id[0] if len(by_id) == 1 else None
