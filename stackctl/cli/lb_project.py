"""``stackctl lb project ACTION --project P --state-dir DIR``: a project's balancer, JSON in, JSON out.

Internal: this is how the CLI drives the balancer of a project whose engine is on another machine
(``compose up -H ssh://…``). It runs there, from the copy of stackctl installed over SSH, and calls
:mod:`stackctl.lb.control` on that machine's state directory. The request is a JSON object on
stdin; the answer one JSON line on stdout, ``{"ok": true, "result": …}`` or
``{"ok": false, "error": "one line"}`` (exit 1). Actions and their requests::

    ensure        {"listeners": {name: <lb.yaml listener>, …}}     -> {"pid", "admin", "listeners"}
    update        {"backends": {name: [{"address": "h:p", "health": h|null}, …]}} -> null
    wait-drained  {"listener": name, "addresses": ["h:p", …], "timeout": s} -> true|false
    listeners     {}  -> names in the saved configuration (running or not)
    info, stats   {}  -> as balancer_info / balancer_stats, or null
    stop          {}  -> whether one was running; removes every file of the project there
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from stackctl.errors import StackctlError

ACTIONS = ("ensure", "update", "wait-drained", "listeners", "info", "stats", "stop")


def register(sub: Any) -> None:
    p = sub.add_parser("project", description="Internal: drive a project's balancer (JSON on stdin/stdout).")
    p.add_argument("action", choices=ACTIONS)
    p.add_argument("--project", required=True)
    p.add_argument("--state-dir", required=True, type=Path)
    p.set_defaults(func=cmd_project)


def cmd_project(args: argparse.Namespace) -> int:
    try:
        text = sys.stdin.read() if args.action in ("ensure", "update", "wait-drained") else ""
        request = json.loads(text) if text.strip() else {}
        result = _HANDLERS[args.action](args.project, request, args.state_dir)
    except StackctlError as exc:
        print(json.dumps({"ok": False, "error": exc.lines()[0]}))
        return 1
    except (ValueError, KeyError, TypeError) as exc:
        print(json.dumps({"ok": False, "error": f"bad request for `lb project {args.action}`: {exc}"}))
        return 1
    print(json.dumps({"ok": True, "result": result}))
    return 0


def _info(info: Any) -> dict[str, Any] | None:
    return None if info is None else {"pid": info.pid, "admin": str(info.admin), "listeners": list(info.listeners)}


def _ensure(project: str, request: dict[str, Any], state: Path) -> Any:
    from stackctl.lb import config, control

    cfg = config.parse({"listeners": request["listeners"]}, file="lb project ensure")
    return _info(control.ensure_balancer(project, cfg.listeners, state_dir=state))


def _backend(doc: dict[str, Any]) -> Any:
    from stackctl.lb.config import BackendSpec, parse_address

    return BackendSpec(parse_address(doc["address"]), health=doc.get("health"))


def _update(project: str, request: dict[str, Any], state: Path) -> Any:
    from stackctl.lb import control

    backends = {name: [_backend(b) for b in items] for name, items in request["backends"].items()}
    control.update_backends(project, backends, state_dir=state)
    return None


def _wait(project: str, request: dict[str, Any], state: Path) -> Any:
    from stackctl.lb import control
    from stackctl.lb.config import parse_address

    addresses = [parse_address(a) for a in request["addresses"]]
    return control.wait_drained(project, str(request["listener"]), addresses, state_dir=state,
                                timeout=float(request.get("timeout", 35.0)))


def _listeners(project: str, request: dict[str, Any], state: Path) -> Any:
    from stackctl.lb import control

    return sorted(control.listener_names(project, state_dir=state))


def _stats(project: str, request: dict[str, Any], state: Path) -> Any:
    from stackctl.lb import control

    return control.balancer_stats(project, state_dir=state)


def _info_of(project: str, request: dict[str, Any], state: Path) -> Any:
    from stackctl.lb import control

    return _info(control.balancer_info(project, state_dir=state))


def _stop(project: str, request: dict[str, Any], state: Path) -> Any:
    from stackctl.lb import control

    paths = control.files(project, state_dir=state)
    stopped = control.stop_balancer(project, state_dir=state)
    for path in (paths.lock, paths.log):  # nothing of the project stays on that machine
        path.unlink(missing_ok=True)
    try:
        state.rmdir()  # only when no other project's files are left
    except OSError:
        pass
    return stopped


_HANDLERS = {"ensure": _ensure, "update": _update, "wait-drained": _wait, "listeners": _listeners,
             "info": _info_of, "stats": _stats, "stop": _stop}
