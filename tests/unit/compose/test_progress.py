"""What the user sees while a plan runs: plain lines off a TTY, one redrawn line per item on a TTY."""

from __future__ import annotations

import io

from stackctl.compose.progress import PlainReporter, TtyReporter, reporter_for
from stackctl.execute import DONE, FAILED, SKIPPED, STARTED, Event
from stackctl.plan.actions import Action, Reason

START = Action("start_container", "p-web-1", Reason("created"), "web", 1)
NET = Action("create_network", "p_default", Reason("missing"))


def test_plain_lines_name_the_container_state_and_time() -> None:
    out = io.StringIO()
    report = PlainReporter(out)
    report(Event(START, STARTED))
    report(Event(START, DONE, 1.25))
    report(Event(NET, FAILED, 0.5, "address pool exhausted"))
    report(Event(START, SKIPPED, error="create_network:p_default failed"))
    assert out.getvalue().splitlines() == [
        " Container p-web-1  Started 1.2s",
        " Network p_default  Error 0.5s: address pool exhausted",
        " Container p-web-1  Skipped: create_network:p_default failed",
    ]


def test_tty_redraws_one_line_per_item_with_elapsed_time() -> None:
    out = io.StringIO()
    now = [0.0]
    report = TtyReporter(out, clock=lambda: now[0])
    report(Event(NET, STARTED))
    report(Event(START, STARTED))
    now[0] = 2.0
    report(Event(START, DONE))
    screen = out.getvalue()
    last = screen.split("\x1b[2F")[-1]  # the final redraw of both lines
    lines = [line.replace("\x1b[2K", "") for line in last.splitlines()]
    assert lines[0].split() == ["Network", "p_default", "Creating", "2.0s"]
    assert lines[1].split() == ["✔", "Container", "p-web-1", "Started", "2.0s"]


def test_reporter_for_picks_by_terminal_and_quiet_prints_nothing() -> None:
    assert isinstance(reporter_for(io.StringIO()), PlainReporter)
    assert isinstance(reporter_for(io.StringIO(), mode="tty"), TtyReporter)
    assert reporter_for(io.StringIO(), mode="quiet") is None
