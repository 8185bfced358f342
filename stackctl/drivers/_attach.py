"""Pump a terminal or pipes through an attached engine socket (interactive `exec` and `run`).

With a TTY the stream is raw bytes both ways; without one the engine multiplexes stdout/stderr
in frames of an 8-byte header (stream id, 3 zero bytes, big-endian length) and a payload.
Standard input is forwarded until it ends, then the socket's write side is shut.
"""

from __future__ import annotations

import contextlib
import os
import select
import socket
import struct
from collections.abc import Iterator
from typing import BinaryIO


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    """Put the terminal in raw mode (keys go straight to the container) and restore it."""
    import termios
    import tty

    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setraw(fd, termios.TCSANOW)  # keep what was typed ahead
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


class _Demux:
    """Splits the engine's multiplexed frames into stdout and stderr."""

    def __init__(self, out: BinaryIO, err: BinaryIO) -> None:
        self.out, self.err, self.pending = out, err, b""

    def feed(self, data: bytes) -> None:
        self.pending += data
        while len(self.pending) >= 8:
            kind, size = self.pending[0], struct.unpack(">I", self.pending[4:8])[0]
            if len(self.pending) < 8 + size:
                return
            payload, self.pending = self.pending[8:8 + size], self.pending[8 + size:]
            target = self.err if kind == 2 else self.out
            target.write(payload)
            target.flush()


def pump(sock: socket.socket, *, stdin_fd: int | None, out: BinaryIO, err: BinaryIO, tty: bool) -> None:
    """Copy stdin to the socket and the socket to out/err until the engine closes it."""
    demux = None if tty else _Demux(out, err)
    readers: list[int | socket.socket] = [sock] + ([stdin_fd] if stdin_fd is not None else [])
    while True:
        ready, _, _ = select.select(readers, [], [])
        if sock in ready:
            data = sock.recv(65536)
            if not data:
                return
            if demux is None:
                out.write(data)
                out.flush()
            else:
                demux.feed(data)
        if stdin_fd is not None and stdin_fd in ready:
            data = os.read(stdin_fd, 65536)
            if data:
                sock.sendall(data)
            else:
                readers.remove(stdin_fd)
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_WR)
