"""Install this stackctl on a machine reached over SSH that has python3 but no package index.

What ``stackctl lb serve`` (and the ``lb project`` verb that drives it) needs is shipped from the
CLI machine as one gzip'ed tar: the ``stackctl`` package as installed here, with its built native
relay (``stackctl/lb/_relay*.so``), and PyYAML's pure-Python package (the only import outside the
standard library on that path; ``uvloop`` is optional and not shipped).

``cluster init`` ships more: ``build_bundle(distributions=AGENT_DISTRIBUTIONS)`` adds, file for file
as their RECORDs list them, the distributions installed here that ``stackctl agent`` imports
(``stackctl.cluster.*``, ``stackctl.drivers.*``, ``stackctl.engine.*``: asyncssh, cryptography,
docker, jsonschema, networkx … with their binary modules). Those binary modules load only on the same
Python minor version and machine type, which ``Installation.native`` tells.

Either archive is unpacked into a directory private to the machine, named by version and content
digest::

    /var/lib/stackctl/0.1.0-1f2e3d4c5b6a/      (root; else ${XDG_DATA_HOME:-~/.local/share}/stackctl/)
        stackctl/ yaml/ STAMP                  STAMP holds the full sha256 of the content

and run with the machine's own interpreter: ``PYTHONPATH=<dir> python3 -S -m stackctl …`` (``-S``:
nothing from the machine's site-packages). Installing again is a no-op when that directory's STAMP
matches. A half-made install never shows: it is unpacked next to the target and renamed into place.

The machine's python3 must be 3.11 or newer (one line refuses otherwise). When its version or
architecture differs from the one the native relay was built for, the extension is simply not
found there and the balancer runs its asyncio engine (``Installation.native`` says which).

The pieces are plain values and scripts so that any SSH runner can use them: ``compose`` runs them
through :class:`~stackctl.drivers.ssh_command.SshCommands`, a cluster installer through its own
sessions. Anything with ``run(command, input=…, check=…)`` returning exit status/stdout/stderr fits.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import platform
import shlex
import sys
import tarfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from stackctl.errors import DriverError

MIN_PYTHON = (3, 11)
_SKIP_SUFFIXES = (".pyc", ".c", ".h", ".so", ".pyd")

# What `stackctl agent` imports outside the standard library (checked with `python -X importtime` over
# stackctl.cluster.*, stackctl.drivers.*, stackctl.engine.*), as distribution names. Optional imports of
# those (paramiko, bcrypt, PyNaCl, uvloop) are left out: the agent does not use them.
AGENT_DISTRIBUTIONS = (
    "asyncssh", "cryptography", "cffi", "docker", "requests", "urllib3", "idna", "certifi",
    "charset_normalizer", "PyYAML", "jsonschema", "referencing", "rpds-py", "attrs",
    "jsonschema-specifications", "typing_extensions", "networkx",
)


class Runner(Protocol):
    def run(self, command: str, *, input: bytes | None = None, timeout: float = 120.0,
            check: bool = True) -> Any: ...


@dataclass(frozen=True)
class Bundle:
    """What gets shipped: the archive and its identity."""

    version: str
    digest: str          # sha256 over (path, content) of every file
    archive: bytes       # tar.gz
    python: str          # "3.11": the minor version the native relay was built for
    machine: str         # "x86_64"

    @property
    def dirname(self) -> str:
        return f"{self.version}-{self.digest[:12]}"


@dataclass(frozen=True)
class Installation:
    """stackctl on a remote machine, as found (``present``) or as just made."""

    where: str
    base: str            # /var/lib/stackctl
    python: str          # the machine's python3 path
    python_version: str  # "3.11"
    present: bool        # this exact bundle is installed
    others: tuple[str, ...]  # other installed directories under base (other versions)
    native: bool         # the native relay can load there
    dir: str             # where this bundle lives (or will)

    @property
    def state_dir(self) -> str:
        """Where the balancer of a project on that machine keeps its files."""
        return f"{self.base}/lb"

    def command(self, *args: str) -> str:
        """A shell line running ``stackctl ARGS…`` from this installation with the machine's python3."""
        return (f"PYTHONPATH={shlex.quote(self.dir)} {shlex.quote(self.python)} -S -m stackctl "
                + " ".join(shlex.quote(a) for a in args))


def _walk(package: Path) -> list[Path]:
    """Every file below ``package``, following symlinked directories (``stackctl/_schemas`` in a checkout)."""
    return sorted(Path(top) / name for top, _, names in os.walk(package, followlinks=True) for name in names)


def _package_files(package: Path, *, keep_native: str | None) -> Iterator[tuple[str, Path]]:
    for path in _walk(package):
        if not path.is_file() or "__pycache__" in path.parts:
            continue
        rel = path.relative_to(package.parent).as_posix()
        if path.name.endswith(_SKIP_SUFFIXES) and not (keep_native and path.name.startswith(keep_native)
                                                        and path.name.endswith(".so")):
            continue
        yield rel, path


def _distribution_files(name: str) -> Iterator[tuple[str, Path]]:
    """Every file an installed distribution's RECORD lists inside site-packages, binaries included,
    without byte code, tests and scripts outside it."""
    from importlib import metadata

    try:
        dist = metadata.distribution(name)
    except metadata.PackageNotFoundError:
        raise DriverError(f"cannot bundle {name} for the nodes: it is not installed here "
                          f"(pip install {name})") from None
    for entry in dist.files or ():
        parts = entry.parts
        if not parts or parts[0] == ".." or "__pycache__" in parts or "tests" in parts[:-1] \
                or entry.name.endswith(".pyc") or entry.name == "RECORD":
            continue
        path = Path(str(dist.locate_file(entry)))
        if path.is_file():
            yield "/".join(parts), path


def build_bundle(*, distributions: Sequence[str] = (), archive: bool = True) -> Bundle:
    """The archive of the running stackctl (and PyYAML, or the named installed ``distributions``).

    ``archive=False``: only its identity (version, digest; ``archive`` empty), to see whether a
    machine already has it without compressing anything."""
    import yaml

    import stackctl

    files = dict(_package_files(Path(stackctl.__file__).parent, keep_native="_relay"))
    if distributions:
        for name in distributions:
            files.update(_distribution_files(name))
    else:
        files.update(_package_files(Path(yaml.__file__).parent, keep_native=None))
    return _archive(sorted(files.items()), version=stackctl.__version__, make=archive)


def _archive(files: list[tuple[str, Path]], *, version: str, make: bool) -> Bundle:
    digest = hashlib.sha256()
    buffer = io.BytesIO()
    with contextlib.ExitStack() as stack:
        tar = stack.enter_context(tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6)) if make else None
        for rel, path in files:
            data = path.read_bytes()
            digest.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
            if tar is not None:
                info = tarfile.TarInfo(rel)
                info.size, info.mode, info.mtime = len(data), 0o644, int(path.stat().st_mtime)
                tar.addfile(info, io.BytesIO(data))
    return Bundle(version=version, digest=digest.hexdigest(), archive=buffer.getvalue(),
                  python=f"{sys.version_info[0]}.{sys.version_info[1]}", machine=platform.machine())


_BASE = ('if [ "$(id -u)" = 0 ]; then base=/var/lib/stackctl; '
         'else base="${XDG_DATA_HOME:-$HOME/.local/share}/stackctl"; fi')


def probe_script(bundle: Bundle) -> str:
    """Prints base dir, python3 path, its version, uname -m, this bundle's STAMP (or nothing), others."""
    name = shlex.quote(bundle.dirname)
    return "\n".join([
        _BASE,
        'py=$(command -v python3 || true)',
        'ver=none; [ -n "$py" ] && ver=$("$py" -c \'import sys; print("%d.%d" % sys.version_info[:2])\')',
        f'stamp=$(cat "$base"/{name}/STAMP 2>/dev/null || true)',
        'others=$(ls -1 "$base" 2>/dev/null | grep -E "^[0-9]" | tr "\\n" " " || true)',
        'printf "%s\\n" "$base" "$py" "$ver" "$(uname -m)" "$stamp" "$others"',
    ])


def parse_probe(where: str, bundle: Bundle, text: str) -> Installation:
    """The probe's output -> Installation. Raises DriverError when the machine cannot run stackctl."""
    lines = (text.splitlines() + [""] * 6)[:6]
    base, python, version, machine, stamp, others = (ln.strip() for ln in lines)
    if not python:
        raise DriverError(f"{where}: no python3 there; stackctl needs python3 ≥ 3.11 on the engine's host "
                          "to run the balancer")
    numbers = tuple(int(p) for p in version.split(".") if p.isdigit())
    if numbers < MIN_PYTHON:
        raise DriverError(f"{where}: python3 there is {version}; stackctl needs ≥ 3.11 on the engine's host "
                          "to run the balancer")
    return Installation(where=where, base=base, python=python, python_version=version,
                        present=stamp == bundle.digest,
                        others=tuple(o for o in others.split() if o != bundle.dirname),
                        native=version == bundle.python and machine == bundle.machine,
                        dir=f"{base}/{bundle.dirname}")


def install_script(bundle: Bundle, python: str) -> str:
    """Reads the archive on stdin; unpacks it next to the target, stamps it, renames it into place."""
    name, digest, py = shlex.quote(bundle.dirname), shlex.quote(bundle.digest), shlex.quote(python)
    unpack = ("import sys, tarfile; t = tarfile.open(fileobj=sys.stdin.buffer, mode='r|gz'); "
              "kw = {'filter': 'data'} if hasattr(tarfile, 'data_filter') else {}; t.extractall(sys.argv[1], **kw)")
    return "\n".join([
        "set -e", "umask 022", _BASE,
        'mkdir -p "$base"',
        'tmp=$(mktemp -d "$base/.install.XXXXXX")',
        'trap \'rm -rf "$tmp"\' EXIT',
        f'{py} -c {shlex.quote(unpack)} "$tmp"',
        f'printf %s {digest} > "$tmp/STAMP"',
        f'PYTHONPATH="$tmp" {py} -S -m stackctl --version >/dev/null',
        f'if [ "$(cat "$base"/{name}/STAMP 2>/dev/null)" != {digest} ]; then',
        f'  rm -rf "$base"/{name}; mv "$tmp" "$base"/{name}',
        'fi',
    ])


def probe(runner: Runner, where: str, bundle: Bundle) -> Installation:
    result = runner.run(probe_script(bundle), timeout=60)
    return parse_probe(where, bundle, result.stdout.decode(errors="replace"))


def install(runner: Runner, found: Installation, bundle: Bundle) -> Installation:
    """Ship and unpack ``bundle`` (a no-op when ``found.present``); the installation after it."""
    if found.present:
        return found
    result = runner.run(install_script(bundle, found.python), input=bundle.archive, timeout=300, check=False)
    if result.exit_status != 0:
        raise DriverError(f"{found.where}: installing stackctl into {found.dir} failed: "
                          f"{result.last_error_line()}")
    again = probe(runner, found.where, bundle)
    if not again.present:
        raise DriverError(f"{found.where}: stackctl was unpacked into {found.dir} but is not there afterwards")
    return again
