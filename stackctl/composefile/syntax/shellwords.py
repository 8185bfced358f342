"""Command strings split into words as compose-go does it (mattn/go-shellwords v1.0.12, no env, no backticks).

Quotes group words, a backslash escapes the next character outside single quotes, and an unquoted
``; & | < >`` ends the command: what follows it is dropped, as in compose-go.
"""

from __future__ import annotations

_SPACES = " \t\r\n"
_STOPS = ";&|<>"


class ShellwordsError(ValueError):
    """Unbalanced quotes or a stray parenthesis."""


class _State:
    def __init__(self) -> None:
        self.args: list[str] = []
        self.buf = ""
        self.got = False
        self.escaped = self.double = self.single = self.back = self.dollar = False

    @property
    def quoted(self) -> bool:
        return self.single or self.double or self.back or self.dollar

    def flush(self) -> None:
        if self.got:
            self.args.append(self.buf)
        self.buf, self.got = "", False


def split(line: str) -> list[str]:
    """The words of ``line``: ``'echo "a b" c'`` -> ``["echo", "a b", "c"]``."""
    s = _State()
    for r in line:
        if s.escaped:
            s.buf, s.escaped, s.got = s.buf + r, False, True
            continue
        if r == "\\":
            if s.single:
                s.buf += r
            else:
                s.escaped = True
            continue
        if r in _SPACES:
            if s.quoted:
                s.buf += r
            else:
                s.flush()
            continue
        step = _special(s, r)
        if step == "stop":
            break
        if step == "skip":
            continue
        s.got = True
        s.buf += r
    s.flush()
    if s.escaped or s.quoted:
        raise ShellwordsError("invalid command line string")
    return s.args


def _special(s: _State, r: str) -> str:
    """What a special character does: "skip" (consumed), "stop" (end of command) or "" (literal)."""
    if r == "`" and not (s.single or s.double or s.dollar):
        s.back = not s.back
    elif r == ")" and not (s.single or s.double or s.back):
        s.dollar = not s.dollar
    elif r == "(" and not (s.single or s.double or s.back):
        if s.dollar or not s.buf.endswith("$"):
            raise ShellwordsError("invalid command line string")
        s.dollar = True
        s.buf += "("
        return "skip"
    elif r == '"' and not (s.single or s.dollar):
        if s.double:
            s.got = True
        s.double = not s.double
        return "skip"
    elif r == "'" and not (s.double or s.dollar):
        if s.single:
            s.got = True
        s.single = not s.single
        return "skip"
    elif r in _STOPS and not s.quoted:
        return "stop"
    return ""
