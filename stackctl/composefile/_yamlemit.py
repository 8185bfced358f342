"""A fast writer for the YAML that :mod:`stackctl.composefile.serialize` prints, byte for byte what PyYAML writes.

``serialize`` describes its YAML as a PyYAML ``SafeDumper`` configuration (block style, 2-space indents,
sequences indented under their key, no line wrapping, its own string representer and implicit resolvers).
PyYAML's pure-Python emitter costs about 0.5 ms per service; :func:`emit` writes the same text directly for
the documents ``config`` prints: mappings, lists, strings, ints, floats, booleans and None, with simple
keys. It returns None for anything else (another type, a list or mapping met twice, which PyYAML would write
as an anchor and an alias, a key PyYAML writes as a complex ``?`` key, a string PyYAML would fold over
several lines), and the caller then runs PyYAML itself. Every decision below mirrors a line of PyYAML's
``Emitter`` (``analyze_scalar``, ``choose_scalar_style``, ``write_*``) or ``SafeRepresenter``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

_STR_TAG = "tag:yaml.org,2002:str"
_BREAKS = "\n\x85\u2028\u2029"
_SPACE_OR_BREAK = "\0 \t\r\n\x85\u2028\u2029"
# A string PyYAML's analysis surely allows plain in block context: printable ASCII without indicators
# that matter, no leading or trailing space, no ": " (checked apart) and not ending with ":".
_SIMPLE = re.compile(r"[A-Za-z0-9_/][A-Za-z0-9_/.:@=+~%^()<>;,$ -]*[A-Za-z0-9_/.@=+~%^()<>;,$-]\Z|[A-Za-z0-9_/]\Z")
_PRINTABLE_ASCII = re.compile(r"[\x20-\x7e]*\Z")
_ESCAPES = {"\0": "0", "\x07": "a", "\x08": "b", "\x09": "t", "\x0A": "n", "\x0B": "v", "\x0C": "f",
            "\x0D": "r", "\x1B": "e", '"': '"', "\\": "\\", "\x85": "N", "\xA0": "_", "\u2028": "L",
            "\u2029": "P"}


class _Unsupported(Exception):
    """The document holds something this writer leaves to PyYAML."""


class _Analysis:
    """The parts of PyYAML's ``ScalarAnalysis`` the style choice reads."""

    __slots__ = ("allow_block", "allow_block_plain", "allow_single_quoted", "empty", "multiline")

    def __init__(self, text: str) -> None:
        self.empty = not text
        self.multiline = False
        self.allow_block_plain = self.allow_single_quoted = self.allow_block = True
        if text:
            _analyze(text, self)


def _analyze(text: str, out: _Analysis) -> None:
    """PyYAML ``Emitter.analyze_scalar`` (with ``allow_unicode=True``), reduced to what block style needs."""
    block_indicators = text.startswith(("---", "..."))
    line_breaks = special = leading = trailing_space = trailing_break = break_space = space_break = False
    previous_space = previous_break = False
    preceded_by_whitespace = True
    followed_by_whitespace = len(text) == 1 or text[1] in _SPACE_OR_BREAK
    last = len(text) - 1
    for index, ch in enumerate(text):
        if index == 0:
            if ch in "#,[]{}&*!|>'\"%@`" or (ch in "?:-" and followed_by_whitespace):
                block_indicators = True
        elif (ch == ":" and followed_by_whitespace) or (ch == "#" and preceded_by_whitespace):
            block_indicators = True
        if ch in _BREAKS:
            line_breaks = True
        if not (ch == "\n" or "\x20" <= ch <= "\x7E") and not (
                (ch == "\x85" or "\xA0" <= ch <= "\uD7FF" or "\uE000" <= ch <= "\uFFFD"
                 or "\U00010000" <= ch < "\U0010ffff") and ch != "\uFEFF"):
            special = True
        if ch == " ":
            leading = leading or index == 0
            trailing_space = trailing_space or index == last
            break_space = break_space or previous_break
            previous_space, previous_break = True, False
        elif ch in _BREAKS:
            leading = leading or index == 0
            trailing_break = trailing_break or index == last
            space_break = space_break or previous_space
            previous_space, previous_break = False, True
        else:
            previous_space = previous_break = False
        preceded_by_whitespace = ch in _SPACE_OR_BREAK
        followed_by_whitespace = index + 2 > last or text[index + 2] in _SPACE_OR_BREAK
    if leading or trailing_space or trailing_break or line_breaks or block_indicators:
        out.allow_block_plain = False
    if trailing_space:
        out.allow_block = False
    if break_space:
        out.allow_block_plain = out.allow_single_quoted = False
    if space_break or special:
        out.allow_block_plain = out.allow_single_quoted = out.allow_block = False
    out.multiline = line_breaks


class _Writer:
    """Writes one document; ``pieces`` is the text so far, ``open_ended`` PyYAML's flag of that name."""

    def __init__(self, *, quote: Callable[[str], bool], resolvers: dict[Any, list[tuple[str, Any]]]) -> None:
        self.quote = quote
        self.resolvers = resolvers
        self.pieces: list[str] = []
        self.at_line_start = True
        self.open_ended = False
        self.seen: set[int] = set()
        self.value_cache: dict[str, str] = {}
        self.key_cache: dict[str, str] = {}

    # --- structure -----------------------------------------------------------------------------------

    def document(self, doc: Any) -> str:
        if type(doc) is not dict:
            raise _Unsupported
        if doc:
            self.mapping(doc, 0, inline=False)
        else:
            self.pieces.append("{}")
            self.at_line_start = False
        if not self.at_line_start:
            self.pieces.append("\n")
        if self.open_ended:
            self.pieces.append("...\n")
        return "".join(self.pieces)

    def _track(self, value: Any) -> None:
        key = id(value)
        if key in self.seen:  # PyYAML would write an anchor and an alias
            raise _Unsupported
        self.seen.add(key)

    def _indent(self, indent: int) -> None:
        if not self.at_line_start:
            self.pieces.append("\n")
        self.pieces.append(" " * indent)
        self.at_line_start = False

    def mapping(self, value: dict[Any, Any], indent: int, *, inline: bool) -> None:
        self._track(value)
        pieces = self.pieces
        for key, item in value.items():
            if inline:  # the first key of a mapping that is a sequence item follows its "- "
                inline = False
            else:
                self._indent(indent)
            pieces.append(self.key(key))
            pieces.append(":")
            self.open_ended = False
            self.node(item, indent, in_mapping=True)

    def sequence(self, value: list[Any], indent: int, *, inline: bool) -> None:
        self._track(value)
        pieces = self.pieces
        for item in value:
            if inline:
                inline = False
            else:
                self._indent(indent)
            pieces.append("-")
            self.open_ended = False
            self.node(item, indent, in_mapping=False)

    def node(self, value: Any, indent: int, *, in_mapping: bool) -> None:
        """A value after ``key:`` (a mapping's indent) or after ``-`` (a sequence's indent)."""
        kind = type(value)
        if kind is str:
            self.pieces.append(" ")
            self.pieces.append(self.string(value, indent))
        elif kind is dict or kind is list:
            if not value:
                self.pieces.append(" {}" if kind is dict else " []")
                self._track(value)
                return
            if not in_mapping:  # a block after "-" starts on the dash's line
                self.pieces.append(" ")
            block = self.mapping if kind is dict else self.sequence
            block(value, indent + 2, inline=not in_mapping)
        else:
            self.pieces.append(" ")
            self.pieces.append(self.other_scalar(value))

    # --- scalars -------------------------------------------------------------------------------------

    def key(self, key: Any) -> str:
        if type(key) is not str:
            raise _Unsupported
        cached = self.key_cache.get(key)
        if cached is None:
            cached = self.key_cache[key] = self._key_text(key)
        return cached

    def _key_text(self, text: str) -> str:
        if len(text) + 5 >= 128:  # "!!str" counts: PyYAML writes a longer key as a complex "? " key
            raise _Unsupported
        if not text:
            return '""'  # go-yaml writes an empty key as a simple "" key (PyYAML would write `? ""`)
        analysis = _Analysis(text)
        if analysis.empty or analysis.multiline:
            raise _Unsupported
        if self.quote(text):
            return _double_quoted(text)
        return self._flow_scalar(text, analysis)

    def string(self, text: str, indent: int) -> str:
        if "\n" in text:  # the representer asks for a literal block
            analysis = _Analysis(text)
            if analysis.allow_block:
                return self._literal(text, indent + 2)
            return _double_quoted(text)
        cached = self.value_cache.get(text)
        if cached is None:
            cached = self.value_cache[text] = self._value_text(text)
        return cached

    def _value_text(self, text: str) -> str:
        if self.quote(text):
            return _double_quoted(text)
        if _SIMPLE.match(text) and ": " not in text and self._implicit_str(text):
            return text
        analysis = _Analysis(text)
        if analysis.multiline:  # PyYAML would write plain or single-quoted text over several lines
            raise _Unsupported
        return self._flow_scalar(text, analysis)

    def _flow_scalar(self, text: str, analysis: _Analysis) -> str:
        """Plain, single-quoted or double-quoted, as ``choose_scalar_style`` picks for an unstyled string."""
        if analysis.allow_block_plain and self._implicit_str(text):
            return text
        if analysis.allow_single_quoted:
            return "'" + text.replace("'", "''") + "'"
        return _double_quoted(text)

    def _implicit_str(self, text: str) -> bool:
        """True when PyYAML's resolver reads ``text`` written plain back as a string."""
        return self._resolve(text) == _STR_TAG

    def _resolve(self, text: str) -> str:
        resolvers = self.resolvers.get(text[0] if text else "", [])
        for tag, regexp in [*resolvers, *self.resolvers.get(None, [])]:
            if regexp.match(text):
                return str(tag)
        return _STR_TAG

    def other_scalar(self, value: Any) -> str:
        """An int, float, bool or None as ``SafeRepresenter`` writes it (plain, its tag implied)."""
        kind = type(value)
        if value is None:
            text, tag = "null", "tag:yaml.org,2002:null"
        elif kind is bool:
            text, tag = ("true" if value else "false"), "tag:yaml.org,2002:bool"
        elif kind is int:
            text, tag = str(value), "tag:yaml.org,2002:int"
        elif kind is float:
            text, tag = _float_text(value), "tag:yaml.org,2002:float"
        else:
            raise _Unsupported
        if self._resolve(text) != tag:  # PyYAML would add an explicit tag
            raise _Unsupported
        return text

    def _literal(self, text: str, indent: int) -> str:
        """PyYAML ``write_literal`` (``determine_block_hints`` with a 2-space indent)."""
        hints = ""
        if text[0] in " " + _BREAKS:
            hints += "2"
        if text[-1] not in _BREAKS:
            hints += "-"
        elif len(text) == 1 or text[-2] in _BREAKS:
            hints += "+"
        out = ["|" + hints, "\n"]
        margin = " " * indent
        breaks = True
        start = 0
        for end in range(len(text) + 1):
            ch = text[end] if end < len(text) else None
            if breaks:
                if ch is None or ch not in _BREAKS:
                    out.append(text[start:end])
                    if ch is not None:
                        out.append(margin)
                    start = end
            elif ch is None or ch in _BREAKS:
                out.append(text[start:end])
                if ch is None:
                    out.append("\n")
                start = end
            if ch is not None:
                breaks = ch in _BREAKS
        self.at_line_start = True
        self.open_ended = hints.endswith("+")
        return "".join(out)


def _double_quoted(text: str) -> str:
    """PyYAML ``write_double_quoted`` (``allow_unicode=True``, never split: the width is unlimited)."""
    if _PRINTABLE_ASCII.match(text) and '"' not in text and "\\" not in text:
        return '"' + text + '"'
    out = ['"']
    start = 0
    for end, ch in enumerate(text):
        if ch in '"\\\x85\u2028\u2029\uFEFF' or not (
                "\x20" <= ch <= "\x7E" or "\xA0" <= ch <= "\uD7FF" or "\uE000" <= ch <= "\uFFFD"):
            out.append(text[start:end])
            if ch in _ESCAPES:
                out.append("\\" + _ESCAPES[ch])
            elif ch <= "\xFF":
                out.append(f"\\x{ord(ch):02X}")
            elif ch <= "\uFFFF":
                out.append(f"\\u{ord(ch):04X}")
            else:
                out.append(f"\\U{ord(ch):08X}")
            start = end + 1
    out.append(text[start:])
    out.append('"')
    return "".join(out)


def _float_text(value: float) -> str:
    """``SafeRepresenter.represent_float``."""
    if math.isnan(value):
        return ".nan"
    if value == math.inf:
        return ".inf"
    if value == -math.inf:
        return "-.inf"
    text = repr(value).lower()
    if "." not in text and "e" in text:
        text = text.replace("e", ".0e", 1)
    return text


def emit(doc: Any, *, quote: Callable[[str], bool], resolvers: dict[Any, list[tuple[str, Any]]]) -> str | None:
    """The text PyYAML writes for ``doc``, or None when ``doc`` holds something left to PyYAML.

    ``quote(text)`` is the representer's rule for double-quoting a string; ``resolvers`` the dumper's
    ``yaml_implicit_resolvers`` (they decide which plain strings PyYAML must quote)."""
    try:
        return _Writer(quote=quote, resolvers=resolvers).document(doc)
    except _Unsupported:
        return None
