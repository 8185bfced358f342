"""Progress of an execution: one line per service on a TTY (state and elapsed time), plain lines otherwise."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:  # importing the executor would import asyncio: too slow for a no-change `up`
    from stackctl.execute import Event

STARTED, DONE, FAILED, SKIPPED = "started", "done", "failed", "skipped"  # as in stackctl.execute

_WORDS = {
    "create_network": ("Creating", "Created"), "recreate_network": ("Recreating", "Recreated"),
    "create_volume": ("Creating", "Created"),
    "pull_image": ("Pulling", "Pulled"), "build_image": ("Building", "Built"),
    "create_container": ("Creating", "Created"), "recreate_container": ("Recreating", "Recreated"),
    "start_container": ("Starting", "Started"), "stop_container": ("Stopping", "Stopped"),
    "restart_container": ("Restarting", "Restarted"), "kill_container": ("Killing", "Killed"),
    "remove_container": ("Removing", "Removed"), "wait": ("Waiting", "Healthy"),
    "remove_network": ("Removing", "Removed"), "remove_volume": ("Removing", "Removed"),
}


def _noun(kind: str) -> str:
    if kind.endswith("network"):
        return "Network"
    if kind.endswith("volume"):
        return "Volume"
    if kind.endswith("image"):
        return "Image"
    return "Container"


def _word(event: Event) -> str:
    going, gone = _WORDS.get(event.action.kind, (event.action.kind, event.action.kind))
    if event.status == STARTED:
        return going
    if event.status == DONE:
        if event.action.kind == "wait":
            return "Completed" if "completed" in event.action.target else (
                "Healthy" if "healthy" in event.action.target else "Started")
        return gone
    if event.status == SKIPPED:
        return "Skipped"
    return "Error"


def _label(event: Event) -> str:
    target = event.action.target
    if event.action.kind == "wait":
        target = str(event.action.service)
    return f"{_noun(event.action.kind)} {target}"


class PlainReporter:
    """`Container p-web-1  Started` lines, as docker compose prints with --progress plain."""

    def __init__(self, out: TextIO) -> None:
        self.out, self.lock = out, threading.Lock()

    def __call__(self, event: Event) -> None:
        if event.status == STARTED and event.action.kind not in ("wait", "pull_image", "build_image"):
            return
        line = f" {_label(event)}  {_word(event)}"
        if event.status in (DONE, FAILED):
            line += f" {event.elapsed:.1f}s"
        if event.error:
            line += f": {event.error}"
        with self.lock:
            self.out.write(line + "\n")
            self.out.flush()


class TtyReporter:
    """One line per container/resource, redrawn in place with its state and elapsed time."""

    def __init__(self, out: TextIO, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.out, self.clock, self.lock = out, clock, threading.Lock()
        self.rows: dict[str, tuple[str, float, float | None]] = {}  # label -> (word, start, elapsed)
        self.drawn = 0

    def __call__(self, event: Event) -> None:
        label = _label(event)
        with self.lock:
            start = self.rows.get(label, ("", self.clock(), None))[1]
            if event.status == STARTED:
                start = self.clock()
            elapsed = None if event.status == STARTED else self.clock() - start
            word = _word(event) + (f": {event.error}" if event.error else "")
            self.rows[label] = (word, start, elapsed)
            self._draw()

    def _draw(self) -> None:
        if self.drawn:
            self.out.write(f"\x1b[{self.drawn}F")
        now = self.clock()
        width = max(len(k) for k in self.rows)
        for label, (word, start, elapsed) in self.rows.items():
            secs = elapsed if elapsed is not None else now - start
            self.out.write(f"\x1b[2K ✔ {label.ljust(width)}  {word:<12} {secs:5.1f}s\n"
                           if elapsed is not None and "Error" not in word else
                           f"\x1b[2K   {label.ljust(width)}  {word:<12} {secs:5.1f}s\n")
        self.drawn = len(self.rows)
        self.out.flush()


def reporter_for(out: TextIO, *, mode: str = "auto") -> Callable[[Event], None] | None:
    if mode == "quiet":
        return None
    tty = mode == "tty" or (mode == "auto" and out.isatty())
    return TtyReporter(out) if tty else PlainReporter(out)
