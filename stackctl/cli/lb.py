"""``stackctl lb``: run the embedded load balancer on its own, and read its counters.

    stackctl lb serve -c lb.yaml [--admin PATH] [--pidfile PATH]
    stackctl lb stats -c lb.yaml | --admin PATH [--json]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from stackctl.errors import LoadBalancerError, Problem, SpecError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("lb", help="the embedded TCP/UDP round-robin load balancer",
                                   description="Run the embedded load balancer and read its counters.")
    sub = parser.add_subparsers(dest="lb_command", metavar="COMMAND", required=True)
    serve = sub.add_parser("serve", help="run a balancer from an lb.yaml file (SIGTERM drains and exits)")
    serve.add_argument("-c", "--config", required=True, type=Path, help="the lb.yaml file")
    serve.add_argument("--admin", type=Path, help="admin unix socket (default: the file's `admin` key, "
                                                  "else one under $XDG_RUNTIME_DIR)")
    serve.add_argument("--pidfile", type=Path, help="write the process id there once listening")
    serve.add_argument("--reuse-port", action="store_true",
                       help="bind with SO_REUSEPORT so that several processes can share the ports")
    serve.add_argument("--accept-apply", action="store_true",
                       help="let the admin `apply` command replace the configuration (saved to the -c file): "
                            "how the cluster leader drives a node proxy")
    serve.set_defaults(func=cmd_serve)
    stats = sub.add_parser("stats", help="per listener and per backend counters and health")
    where = stats.add_mutually_exclusive_group(required=True)
    where.add_argument("-c", "--config", type=Path, help="the lb.yaml the balancer was started with")
    where.add_argument("--admin", type=Path, help="the balancer's admin socket")
    stats.add_argument("--json", action="store_true", help="print the raw JSON")
    stats.set_defaults(func=cmd_stats)
    from stackctl.cli import lb_project

    lb_project.register(sub)  # internal: how the CLI drives a balancer on an engine's remote host


MAX_CONFIG_BYTES = 1024 * 1024
MAX_CONFIG_DEPTH = 32


def load_file(path: Path) -> Any:
    """Read and validate an lb.yaml file (the CLI edge: file I/O and YAML here, checks in config)."""
    import yaml

    from stackctl.composefile.readers import read_text
    from stackctl.lb import config

    text = read_text(str(path), limit=MAX_CONFIG_BYTES)
    try:
        _check_depth(yaml, text, file=str(path))
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise SpecError(Problem(str(path), "", f"invalid YAML: {getattr(exc, 'problem', exc)}", line)) from exc
    return config.parse(doc, file=str(path), native_built=native_engine_built())


def _check_depth(yaml: Any, text: str, *, file: str) -> None:
    """Refuse a document nested deeper than an lb.yaml can be, before building it (the builder recurses)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):  # the parser safe_load uses: the same messages
        if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
            depth += 1
            if depth > MAX_CONFIG_DEPTH:
                raise SpecError(Problem(file, "", f"nested deeper than {MAX_CONFIG_DEPTH} levels",
                                        event.start_mark.line + 1))
        elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            depth -= 1


def native_engine_built() -> bool:
    """Whether the balancer's native extension was built (found on the path, not imported)."""
    import importlib.util

    return importlib.util.find_spec("stackctl.lb._relay") is not None


def default_admin_path(config_path: Path) -> Path:
    """A per-user socket path derived from the config file's absolute path, in a directory only we use."""
    from stackctl.lb.admin import private_dir

    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    digest = hashlib.sha256(str(config_path.resolve()).encode()).hexdigest()[:16]
    return private_dir(Path(base) / f"stackctl-lb-{os.getuid()}") / f"{digest}.sock"


def _admin_path(args: argparse.Namespace, admin_key: str | None) -> Path:
    if getattr(args, "admin", None):
        return Path(args.admin)
    if admin_key:
        return Path(admin_key)
    return default_admin_path(args.config)


def cmd_serve(args: argparse.Namespace) -> int:
    import asyncio

    from stackctl.lb import server

    cfg = load_file(args.config)
    admin_path = _admin_path(args, cfg.admin)
    _raise_fd_limit()
    loop = server.new_event_loop()
    asyncio.set_event_loop(loop)

    def ready(balancer: Any) -> None:
        binds = ", ".join(f"{n}={lst.config.bind}/{lst.config.protocol}" for n, lst in balancer.listeners.items())
        print(f"stackctl lb: serving {binds or 'no listeners'} (admin {admin_path})", file=sys.stderr, flush=True)

    accept = _saver(args.config) if args.accept_apply else None
    try:
        loop.run_until_complete(server.serve(lambda: load_file(args.config), admin_path=admin_path,
                                             pidfile=args.pidfile, ready=ready, reuse_port=args.reuse_port,
                                             accept=accept))
    finally:
        loop.close()
    return 0


def _saver(path: Path) -> Any:
    """``accept`` for the admin ``apply`` command: validate the document, write it (atomically) as the
    configuration file, so that a restarted balancer serves the last configuration it was sent."""
    from stackctl.lb import config

    def accept(doc: Any) -> Any:
        cfg = config.parse(doc, file="apply", native_built=native_engine_built())
        text = json.dumps(config.dump(cfg), indent=1)
        try:
            same = path.read_text() == text
        except OSError:
            same = False
        if not same:  # the leader sends an unchanged configuration again now and then
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_text(text)
            os.replace(tmp, path)
        return cfg
    return accept


def _raise_fd_limit() -> None:
    """Each proxied connection holds two descriptors: use all the soft limit the hard one allows."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cmd_stats(args: argparse.Namespace) -> int:
    from stackctl.lb import admin

    admin_key = load_file(args.config).admin if args.config else None
    path = _admin_path(args, admin_key)
    if not path.exists():
        raise LoadBalancerError(f"no balancer answers at {path} (is `stackctl lb serve` running?)")
    answer = admin.request(path, "stats")
    listeners = answer.get("listeners")
    if args.json:
        print(json.dumps(listeners, indent=2))
        return 0
    try:
        text = format_stats(listeners)
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise LoadBalancerError(f"balancer admin socket {path}: malformed stats answer "
                                f"({type(exc).__name__}: {str(exc)[:80]})") from exc
    print(text, end="")
    return 0


def format_stats(listeners: Any) -> str:
    """A table: one row per listener (its STATE is the TCP engine: native or asyncio), then one per backend."""
    rows = [("LISTENER/BACKEND", "STATE", "CONNS", "ACTIVE", "IN", "OUT", "FAILS")]
    if not isinstance(listeners, list):
        raise TypeError("listeners is not a list")
    for lst in listeners:
        rows.append((f"{lst['name']} {lst['bind']}/{lst['protocol']}", str(lst.get("engine", "")), str(lst["connections"]),
                     str(lst["active"]), str(lst["bytes_in"]), str(lst["bytes_out"]),
                     f"{lst['no_backend']} no backend, {lst['rejected']} rejected"))
        for b in lst["backends"]:
            rows.append((f"  {b['address']}", b["state"], str(b["connections"]), str(b["active"]),
                         str(b["bytes_in"]), str(b["bytes_out"]),
                         f"{b['connect_failures']} connect, {b['check_failures']} check"))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]) - 1)]
    return "".join("  ".join(c.ljust(w) for c, w in zip(r, widths)) + "  " + r[-1] + "\n" for r in rows)
