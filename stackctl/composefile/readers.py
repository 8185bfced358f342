"""The one reader of every file stackctl reads from a user: compose files, ``include``, ``extends.file``,
``env_file``, ``label_file``, ``--env-file``, ``-f -`` (standard input), ``lb.yaml`` and the balancer's state.

It refuses what is not a regular file (a FIFO would block forever, ``/dev/zero`` would never end, a
directory or a socket cannot be read) and caps the size, each with a one-line :class:`SpecError` naming the
file. Standard input (``-``) is whatever the caller gives, still capped. Text is UTF-8, or UTF-16 when the
file starts with its byte-order mark (go-yaml reads both; a UTF-8 BOM is dropped).
"""

from __future__ import annotations

import errno
import os
import stat
from typing import BinaryIO

from stackctl.errors import Problem, SpecError

MAX_FILE_BYTES = 16 * 1024 * 1024
_CHUNK = 1024 * 1024
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISCHR, "a character device"),
          (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))
_BOMS = ((b"\xef\xbb\xbf", "utf-8"), (b"\xff\xfe", "utf-16-le"), (b"\xfe\xff", "utf-16-be"))


def size_text(limit: int) -> str:
    """``16 MiB``, ``64 KiB`` or ``100 bytes``."""
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if limit >= size and limit % size == 0:
            return f"{limit // size} {unit}"
    return f"{limit} bytes"


def too_large(file: str, limit: int, what: str = "file") -> SpecError:
    return SpecError(Problem(file, "", f"{what} is larger than {size_text(limit)}, the most stackctl reads"))


def read_bytes(path: str, *, limit: int = MAX_FILE_BYTES, what: str = "file") -> bytes:
    """The bytes of the regular file at ``path``; SpecError when it is missing, not a regular file or
    larger than ``limit``."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise _os_problem(path, exc, what) from exc
    try:
        info = os.fstat(fd)
        _refuse_irregular(path, info.st_mode, what)
        if info.st_size > limit:
            raise too_large(path, limit, what)
        with os.fdopen(fd, "rb", closefd=False) as handle:
            return _read_capped(handle, path, limit=limit, what=what)
    except OSError as exc:
        raise _os_problem(path, exc, what) from exc
    finally:
        os.close(fd)


def read_stream(stream: BinaryIO, *, name: str = "-", limit: int = MAX_FILE_BYTES, what: str = "file") -> bytes:
    """What ``stream`` (standard input) holds, capped at ``limit``."""
    try:
        return _read_capped(stream, name, limit=limit, what=what)
    except OSError as exc:
        raise _os_problem(name, exc, what) from exc


def decode(data: bytes, *, file: str, what: str = "file") -> str:
    """UTF-8 text, or UTF-16 after its byte-order mark; SpecError naming the file otherwise."""
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), None)
    body = data[3:] if encoding == "utf-8" else data[2:] if encoding else data
    try:
        return body.decode(encoding or "utf-8")
    except UnicodeDecodeError as exc:
        name = (encoding or "utf-8").upper().replace("-LE", "").replace("-BE", "")
        offset = exc.start + len(data) - len(body)
        raise SpecError(Problem(file, "", f"{what} is not valid {name} text (at byte {offset})")) from exc


def read_text(path: str, *, limit: int = MAX_FILE_BYTES, what: str = "file") -> str:
    """:func:`read_bytes` then :func:`decode`."""
    return decode(read_bytes(path, limit=limit, what=what), file=path, what=what)


def _read_capped(handle: BinaryIO, name: str, *, limit: int, what: str) -> bytes:
    chunks: list[bytes] = []
    total = 0
    while True:
        chunk = handle.read(min(_CHUNK, limit + 1 - total))
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)
        total += len(chunk)
        if total > limit:
            raise too_large(name, limit, what)


def _refuse_irregular(path: str, mode: int, what: str) -> None:
    if stat.S_ISREG(mode):
        return
    kind = next((text for test, text in _KINDS if test(mode)), "not a regular file")
    raise SpecError(Problem(path, "", f"{what} is {kind}, not a regular file"))


def _os_problem(path: str, exc: OSError, what: str) -> SpecError:
    if exc.errno == errno.ENOENT:
        return SpecError(Problem(path, "", "no such file or directory"))
    if exc.errno == errno.ENXIO:  # opening a unix socket
        return SpecError(Problem(path, "", f"{what} is a socket, not a regular file"))
    if exc.errno == errno.EISDIR:
        return SpecError(Problem(path, "", f"{what} is a directory, not a regular file"))
    return SpecError(Problem(path, "", f"cannot read {what}: {exc.strerror or exc}"))
