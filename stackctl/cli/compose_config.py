"""`stackctl compose config`: print the project as docker compose v2.40.3 ``config`` does."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from stackctl.errors import UsageError

if TYPE_CHECKING:
    from stackctl.composefile.loader import LoadedProject, ProjectOptions

LISTINGS = ("services", "volumes", "networks", "images", "profiles")


def register(verbs: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    p = verbs.add_parser("config", help="parse, resolve and print the compose file in canonical form")
    p.add_argument("service_names", nargs="*", metavar="SERVICE")
    p.add_argument("--format", choices=("yaml", "json"), default="yaml")
    for name in LISTINGS:
        p.add_argument(f"--{name}", dest=f"list_{name}", action="store_true",
                       help=f"print the {name}, one per line")
    p.add_argument("-q", "--quiet", action="store_true", help="only validate, print nothing")
    p.add_argument("--no-interpolate", action="store_true", help="don't interpolate variables")
    p.add_argument("--no-normalize", action="store_true", help="don't normalize the model")
    p.add_argument("--no-path-resolution", action="store_true", help="don't make file paths absolute")
    p.add_argument("--no-consistency", action="store_true", help="don't check the model's consistency")
    p.add_argument("--no-env-resolution", action="store_true",
                   help="accepted for compatibility (docker compose v2.40.3 folds env_file all the same)")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of standard output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from stackctl.cli._project import options_from_args, print_warnings

    text, warnings = render(args, options_from_args(args, **config_overrides(args)))
    print_warnings(warnings)
    if args.quiet:
        return 0
    if args.output and not _listing_flag(args):
        _write(args.output, text)
    else:
        sys.stdout.write(text)
    return 0


def config_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The ProjectOptions fields that `config`'s own flags set."""
    listing = _listing_flag(args)
    return {"services": () if listing in ("services", "volumes", "networks") else tuple(args.service_names),
            "interpolate": not args.no_interpolate, "normalize": not args.no_normalize,
            "resolve_paths": not args.no_path_resolution, "consistency": not args.no_consistency,
            "resolve_env": not listing,
            # as docker compose: without interpolation, the document and the service list come from the
            # raw model (every service, no profiles); the other listings from the project
            "model_only": args.no_interpolate and listing in (None, "services")}


def render(args: argparse.Namespace, options: ProjectOptions) -> tuple[str, list[str]]:
    """The text `config` prints for ``args`` and the loader's warnings; raises StackctlError."""
    from stackctl.composefile.loader import load_project

    project = load_project(options)
    listing = _listing_flag(args)
    return (_listing(project, listing) if listing else _render(project, args)), project.warnings


def _listing_flag(args: argparse.Namespace) -> str | None:
    return next((name for name in LISTINGS if getattr(args, f"list_{name}")), None)


def _render(project: LoadedProject, args: argparse.Namespace) -> str:
    if args.no_interpolate:
        return _render_model(project.document, args.format)
    from stackctl.composefile.serialize import to_json, to_yaml

    if args.format == "json":
        return to_json(project.document) + "\n"
    return to_yaml(project.document)


def _render_model(model: dict[str, Any], fmt: str) -> str:
    """The raw model (`--no-interpolate`): printed as a plain map with sorted keys, as compose does."""
    import json

    if fmt == "json":
        return json.dumps(model, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    import yaml

    return str(yaml.safe_dump(model, sort_keys=True, allow_unicode=True, default_flow_style=False))


def _listing(project: LoadedProject, what: str) -> str:
    doc: dict[str, Any] = project.document
    services: dict[str, Any] = doc.get("services") or {}
    if what == "images":
        names = [s.get("image") or f"{project.name}-{n}" for n, s in sorted(services.items())]
    elif what == "profiles":
        every = {**services, **project.disabled}
        names = sorted({p for s in every.values() for p in (s or {}).get("profiles") or []})
    elif what == "services":
        names = dependency_order(services)
    else:
        names = sorted(doc.get(what) or {})
    return "".join(f"{n}\n" for n in names)


def dependency_order(services: dict[str, Any]) -> list[str]:
    """Service names, each after the services it depends on (alphabetical among equals)."""
    from stackctl.model.dependencies import dependencies

    order: list[str] = []

    def visit(name: str, stack: tuple[str, ...]) -> None:
        if name in order or name in stack or name not in services:
            return
        for dep in sorted({e.service for e in dependencies(services[name] or {}, name) if e.kind == "depends_on"}):
            visit(dep, (*stack, name))
        order.append(name)

    for name in sorted(services):
        visit(name, ())
    return order


def _write(path: str, text: str) -> None:
    try:
        with open(path, "w", encoding="utf-8") as handle:
            handle.write(text)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}") from exc
