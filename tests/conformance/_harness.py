"""Run `stackctl compose config` in-process and the oracle binary, and compare what they print.

In-process means: the real argument parser of ``stackctl`` and the real ``config`` rendering, with the
environment, cwd and stdin passed explicitly instead of read from this process.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from stackctl.errors import StackctlError

HOME = "/home/stackctl"
BASE_ENV = {"PATH": "/usr/bin:/bin", "HOME": HOME}


@dataclass(frozen=True)
class Outcome:
    """What a `config` run gave: the parsed document, or the error lines."""

    ok: bool
    document: Any = None
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    def summary(self) -> str:
        if self.ok:
            return json.dumps(self.document, indent=1, sort_keys=True)[:4000]
        return "rejected: " + " | ".join(self.errors)


def parse_output(text: str, fmt: str) -> Any:
    if fmt == "json":
        return json.loads(text)
    from stackctl.composefile.yaml12 import load_yaml

    docs = load_yaml(text, file="<output>")
    return docs[0].data if docs else None


def run_ours(argv: Sequence[str], *, cwd: str | pathlib.Path, env: Mapping[str, str],
             stdin: str | None = None) -> Outcome:
    """``stackctl compose <argv>`` (argv includes ``config``) in-process."""
    from stackctl.cli._project import logical_cwd, options_from_values
    from stackctl.cli.compose_config import config_overrides, render
    from stackctl.cli.main import build_parser

    args = build_parser().parse_args(["compose", *argv])
    cwd = logical_cwd(os.path.realpath(cwd), env)  # what a process started in `cwd` would see
    try:
        options = options_from_values(args, cwd=cwd, environ=env, stdin=stdin, **config_overrides(args))
        text, warnings = render(args, options)
    except StackctlError as exc:
        assert exc.exit_code == 1, f"a rejected compose file must exit with code 1, not {exc.exit_code}"
        return Outcome(False, errors=tuple(exc.lines()))
    fmt = "json" if args.format == "json" else "yaml"
    if any(getattr(args, f"list_{k}") for k in ("services", "volumes", "networks", "images", "profiles")):
        return Outcome(True, text.splitlines(), warnings=tuple(warnings))
    return Outcome(True, parse_output(text, fmt), warnings=tuple(warnings))


def run_oracle(oracle: pathlib.Path, argv: Sequence[str], *, cwd: str | pathlib.Path,
               env: Mapping[str, str], stdin: str | None = None, timeout: float = 20) -> Outcome:
    """The real docker compose v2.40.3 binary on the same input."""
    formats = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "--format"]
    fmt = formats[-1] if formats else "yaml"  # the last --format wins, as for any repeated flag
    try:
        done = subprocess.run([str(oracle), *argv], check=False, cwd=cwd, env=dict(env), input=stdin or "",
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return Outcome(False, errors=("oracle timed out",))
    if done.returncode != 0:
        return Outcome(False, errors=tuple(done.stderr.strip().splitlines()))
    listing = any(f"--{k}" in argv for k in ("services", "volumes", "networks", "images", "profiles"))
    if listing:
        return Outcome(True, done.stdout.splitlines(), warnings=tuple(done.stderr.splitlines()))
    return Outcome(True, parse_output(done.stdout, fmt), warnings=tuple(done.stderr.splitlines()))


def same(ours: Outcome, theirs: Outcome) -> bool:
    """Equal documents (key order aside), or both rejected."""
    if ours.ok != theirs.ok:
        return False
    if not ours.ok:
        return True
    if isinstance(ours.document, list) and isinstance(theirs.document, list):
        return sorted(ours.document) == sorted(theirs.document)
    return bool(ours.document == theirs.document)


def first_difference(a: Any, b: Any, path: str = "") -> str:
    """The first key path where two documents differ, for readable failures."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b), key=str):
            if key not in a:
                return f"{path}.{key}: missing in ours (theirs: {json.dumps(b[key])[:200]})"
            if key not in b:
                return f"{path}.{key}: extra in ours ({json.dumps(a[key])[:200]})"
            if a[key] != b[key]:
                return first_difference(a[key], b[key], f"{path}.{key}")
        return ""
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for i, (x, y) in enumerate(zip(a, b)):
            if x != y:
                return first_difference(x, y, f"{path}[{i}]")
        return ""
    return f"{path}: ours {json.dumps(a)[:300]} != theirs {json.dumps(b)[:300]}"


def describe(ours: Outcome, theirs: Outcome) -> str:
    if ours.ok and theirs.ok:
        return "documents differ at " + first_difference(ours.document, theirs.document)
    return f"ours: {ours.summary()[:600]}\ntheirs: {theirs.summary()[:600]}"


def check_error_lines(outcome: Outcome) -> None:
    """A rejection is one line per problem, never a traceback."""
    assert outcome.errors, "rejected without any message"
    for line in outcome.errors:
        assert "\n" not in line and "Traceback" not in line, line


_WORD = re.compile(r"[A-Za-z_]{4,}")
_NOISE = {"invalid", "compose", "project", "validating", "yaml", "work", "shared", "conformance", "CORPUS",
          "additional", "properties", "allowed"}


def same_reason(ours: Sequence[str], theirs: str, *, threshold: float = 0.6) -> bool:
    """Whether our error lines give the oracle's reason: most words of its error line appear in ours."""
    lines = [ln for ln in theirs.strip().splitlines() if "level=warning" not in ln]
    if not lines:
        return True
    wanted = {w for w in _WORD.findall(" ".join(lines)) if w not in _NOISE}
    if not wanted:
        return True
    text = " ".join(ours)
    found = {w for w in wanted if w in text}
    return len(found) >= threshold * len(wanted)


_LOGRUS_WARNING = re.compile(r'time="[^"]*" level=warning msg="(.*)"$')


def oracle_warnings(stderr: str) -> set[str]:
    """The messages of the oracle's logrus warning lines (`time=... level=warning msg="..."`)."""
    found = set()
    for line in stderr.splitlines():
        match = _LOGRUS_WARNING.match(line)
        if match:
            found.add(match.group(1).replace('\\"', '"'))
    return found
