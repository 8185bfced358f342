""".env / env_file parsing with compose-go's dotenv semantics, and the project's interpolation environment.

Contract (engineer A's loader and engineer C's normalize call these)::

    parse_dotenv(text, *, file, lookup, warn=None, earlier=None) -> dict[str, str | None]
    read_env_file(path, *, lookup, required=True, fmt=None, warn=None, earlier=None) -> dict[str, str | None]
    project_environment(*, environ, env_files, project_dir, cwd=None, warn=None) -> dict[str, str]

``parse_dotenv`` (compose-go v2.9.1 ``dotenv/parser.go``): ``KEY=value`` or ``KEY: value``, optional
``export`` prefix, ``#`` comment lines, blank lines; spaces around the key and after ``=`` are dropped.
Unquoted values end at the newline, lose an inline comment that starts with `` #`` and trailing spaces.
``'single'`` quotes are literal (only ``\\'`` is unescaped); ``"double"`` quotes expand ``\\n \\t \\r \\a \\b
\\f \\v \\\\ \\" \\$`` and ``\\0NNN`` octal escapes; both may span lines. Unquoted and double-quoted values are
interpolated (every ``${...}`` form of :mod:`stackctl.composefile.interpolate`): a variable is looked up in ``lookup``
first, then in the values of the earlier lines. A bare ``KEY`` line takes ``lookup[KEY]`` and is left out when
``lookup`` lacks it. A leading UTF-8 BOM is ignored. Keys may hold letters, digits, ``_ . - [ ]``; anything
else raises SpecError naming the file and line (``key cannot contain a space``, ``unterminated quoted
value``...). Quirks kept on purpose because the oracle has them: ``A="x" B=y`` on one line sets both, and a
last line ``FOO`` without a newline sets the key ``""`` to ``"FOO"``. The values are always strings; the
``str | None`` in the signature leaves room for callers that merge with ``environment`` entries.

``read_env_file`` reads ``path`` (``required=False``: a missing file gives ``{}``); ``fmt="raw"`` uses the
``docker run --env-file`` rules instead (``KEY=VALUE`` kept verbatim, no quotes, no interpolation).

``project_environment``: the OS environment always wins, then the ``--env-file`` files in order (later
ones override earlier ones), or ``<project_dir>/.env`` when no file is given, unless
``COMPOSE_DISABLE_ENV_FILE`` is true in ``environ``; ``PWD`` is set to ``cwd`` when ``environ`` lacks it.
Relative ``env_files`` are resolved against ``cwd`` (default: the process's working directory).
"""

from __future__ import annotations

import os
import re
from collections import ChainMap
from collections.abc import Callable, Mapping, Sequence

from stackctl.composefile.interpolate import MAX_EXPANDED, substitute
from stackctl.errors import Problem, SpecError

Warn = Callable[[str], None]

_EXPORT = re.compile(r"export[\t\n\f\r ]+")
_ESCAPE = re.compile(r"\\(?:[abcfnrtv$\"\\]|0[0-9]{0,3})")
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", '"': '"', "\\": "\\"}
_INLINE_SPACE = "\t\v\f\r \x85\xa0"  # compose-go's isSpace: white space that is not a line break
_KEY_PUNCTUATION = "_.-[]"
_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


class _DotenvError(Exception):
    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def parse_dotenv(text: str, *, file: str, lookup: Mapping[str, str], warn: Warn | None = None,
                 earlier: Mapping[str, str | None] | None = None) -> dict[str, str | None]:
    """The variables a .env text defines (see the module docstring).

    ``earlier``: values of the env files read before this one (compose-go shares one map between the
    ``env_file`` entries of a service): looked up after ``lookup``, and shadowed by this text's own lines.
    """
    values: dict[str, str | None] = {}
    _parse_into(values, text, file=file, lookup=lookup, warn=warn, earlier=earlier)
    return values


def read_env_file(path: str, *, lookup: Mapping[str, str], required: bool = True, fmt: str | None = None,
                  warn: Warn | None = None, earlier: Mapping[str, str | None] | None = None,
                  ) -> dict[str, str | None]:
    """The variables of the env file at ``path`` (``fmt``: None or ``"raw"``; ``earlier`` as in parse_dotenv)."""
    if fmt not in (None, "", "raw"):
        raise SpecError(Problem(path, "", f'unsupported env_file format "{fmt}"'))
    if not os.path.exists(path):
        if required:
            raise SpecError(Problem(path, "", f"env file {path} not found"))
        return {}
    text = _read(path)
    if fmt == "raw":
        return _parse_raw(text, file=path, lookup=lookup)
    return parse_dotenv(text, file=path, lookup=lookup, warn=warn, earlier=earlier)


def project_environment(*, environ: Mapping[str, str], env_files: Sequence[str], project_dir: str,
                        cwd: str | None = None, warn: Warn | None = None) -> dict[str, str]:
    """The variables used for interpolation: OS environment, then env files (see the module docstring)."""
    cwd = cwd if cwd is not None else os.getcwd()
    result = dict(environ)
    if "PWD" not in result:
        result["PWD"] = cwd
    files = [os.path.join(cwd, f) for f in env_files] or _default_env_file(environ, project_dir)
    loaded: dict[str, str | None] = {}  # shared by the files: a later file sees the earlier ones
    for path in files:
        path = os.path.abspath(path)
        if not os.path.exists(path):
            raise SpecError(Problem(path, "", f"couldn't find env file: {path}"))
        _parse_into(loaded, _read(path), file=path, lookup=result, warn=warn)
    for key, value in loaded.items():
        if key not in result and value is not None:
            result[key] = value
    return result


def _parse_into(out: dict[str, str | None], text: str, *, file: str, lookup: Mapping[str, str],
                warn: Warn | None, earlier: Mapping[str, str | None] | None = None) -> None:
    try:
        _Parser(text.removeprefix("\ufeff"), lookup, out, warn, earlier or {}).run()
    except _DotenvError as exc:
        raise SpecError(Problem(file, "", exc.message, exc.line)) from exc


def _read(path: str) -> str:
    from stackctl.composefile.readers import read_text

    return read_text(path, what="env file")


def _default_env_file(environ: Mapping[str, str], project_dir: str) -> list[str]:
    flag = environ.get("COMPOSE_DISABLE_ENV_FILE")
    if flag is not None:
        if flag not in _TRUE | _FALSE:
            raise SpecError(Problem("", "", f'COMPOSE_DISABLE_ENV_FILE: strconv.ParseBool: parsing "{flag}": '
                                            "invalid syntax"))
        if flag in _TRUE:
            return []
    path = os.path.join(project_dir, ".env")
    return [path] if os.path.isfile(path) else []


class _Chain(Mapping[str, str]):
    """Lookup in ``first`` then in ``second`` (values that are None count as unset)."""

    def __init__(self, first: Mapping[str, str], second: Mapping[str, str | None]) -> None:
        self.first, self.second = first, second

    def __getitem__(self, key: str) -> str:
        if key in self.first:
            return self.first[key]
        value = self.second[key]
        if value is None:
            raise KeyError(key)
        return value

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter({**self.second, **self.first})

    def __len__(self) -> int:
        return len({**self.second, **self.first})


class _Parser:
    """compose-go's dotenv statement scanner (one statement per call of ``statement``)."""

    def __init__(self, text: str, lookup: Mapping[str, str], out: dict[str, str | None],
                 warn: Warn | None, earlier: Mapping[str, str | None]) -> None:
        self.rest = text
        self.line = 1
        self.out = out
        self.lookup = _Chain(lookup, ChainMap(out, dict(earlier)) if earlier else out)
        self.warn = _once(warn) if warn is not None else None
        self.produced = 0

    def run(self) -> None:
        while self.skip_to_statement():
            self.statement()

    def skip_to_statement(self) -> bool:
        """Drop blank space and comment lines; False at the end of the text."""
        while True:
            index = next((i for i, ch in enumerate(self.rest) if not _go_space(ch)), None)
            self.line += self.rest[:index].count("\n") if index is not None else self.rest.count("\n")
            if index is None:
                return False
            self.rest = self.rest[index:]
            if self.rest[0] != "#":
                return True
            newline = self.rest.find("\n")
            if newline < 0:
                return False
            self.rest = self.rest[newline:]

    def statement(self) -> None:
        key, inherited = self.key()
        if " " in key:
            raise _DotenvError(self.line, "key cannot contain a space")
        if inherited:
            if key in self.lookup:
                self.out[key] = self.lookup[key]
            return
        self.out[key] = self.value()

    def key(self) -> tuple[str, bool]:
        src = self.rest
        match = _EXPORT.match(src)
        if match:
            src = src[len("export"):].lstrip(_INLINE_SPACE)
        end, inherited = 0, False
        if not src:
            raise _DotenvError(self.line, "zero length string")
        for index, ch in enumerate(src):
            if ch in "=:\n":
                end, inherited = index, ch == "\n"
                break
            if ch in _INLINE_SPACE or ch in _KEY_PUNCTUATION or ch.isalpha() or ch.isnumeric():
                continue
            first_line = src.split("\n", 1)[0]
            raise _DotenvError(self.line, f'unexpected character "{ch}" in variable name "{first_line}"')
        else:
            end = -1  # no separator at all: the key is empty and the whole text is the value
        key = src[:end].rstrip() if end >= 0 else ""
        if inherited and " " not in src[:end]:
            self.line += 1
        self.rest = src[end + 1:].lstrip(_INLINE_SPACE)
        return key, inherited

    def value(self) -> str:
        src = self.rest
        if not src or src[0] not in "'\"":
            value, _, self.rest = src.partition("\n")
            self.line += 1
            value = value.split(" #", 1)[0].rstrip()
            return self.expand(value)
        return self.quoted(src, src[0])

    def quoted(self, src: str, quote: str) -> str:
        chars: list[str] = []
        escaped = False
        for index in range(1, len(src)):
            ch = src[index]
            if ch == "\n":
                self.line += 1
            if ch != quote:
                if not escaped and ch == "\\":
                    escaped = True
                    continue
                if escaped:
                    escaped = False
                    chars.append("\\")
                chars.append(ch)
                continue
            if escaped:
                escaped = False
                chars.append(ch)
                continue
            self.rest = src[index + 1:]
            value = "".join(chars)
            return self.expand(_expand_escapes(value)) if quote == '"' else value
        raise _DotenvError(self.line, f"unterminated quoted value {src.split(chr(10), 1)[0]}")

    def expand(self, value: str) -> str:
        try:
            result = substitute(value, self.lookup, warn=self.warn)
        except SpecError as exc:
            raise _DotenvError(self.line, exc.problems[0].message) from exc
        self.produced += len(result)
        if self.produced > MAX_EXPANDED:  # each line may double the last one: cap the whole file
            raise _DotenvError(self.line, f"the values expand to more than {MAX_EXPANDED // (1024 * 1024)} MiB")
        return result


def _expand_escapes(value: str) -> str:
    return _ESCAPE.sub(_unescape, value)


def _unescape(match: re.Match[str]) -> str:
    text = match.group(0)
    if text == "\\$":
        return "$$"  # a literal $ for the interpolation that follows
    if text.startswith("\\0"):
        digits = text[2:]
        if len(digits) == 3 and all(d in "01234567" for d in digits) and int(digits, 8) < 256:
            return chr(int(digits, 8))
        return "\\" + digits  # compose-go drops the 0 even when the octal escape is invalid
    return _ESCAPES[text[1]]


def _once(warn: Warn) -> Warn:
    seen: set[str] = set()

    def emit(message: str) -> None:
        if message not in seen:
            seen.add(message)
            warn(message)
    return emit


def _go_space(ch: str) -> bool:
    """Go's unicode.IsSpace."""
    return ch.isspace() and ch not in "\x1c\x1d\x1e\x1f"


def _parse_raw(text: str, *, file: str, lookup: Mapping[str, str]) -> dict[str, str | None]:
    """``docker run --env-file`` rules (docker/cli kvfile), used by ``env_file: {format: raw}``."""
    values: dict[str, str | None] = {}
    for number, raw_line in enumerate(text.removeprefix("\ufeff").split("\n"), start=1):
        line = raw_line.removesuffix("\r").lstrip()
        if not line or line.startswith("#"):
            continue
        key, has_value, _ = line.partition("=")
        if not key:
            raise SpecError(Problem(file, "", f"no variable name on line '{line}'", number))
        if " " in key or "\t" in key:
            raise SpecError(Problem(file, "", f"variable '{key}' contains whitespaces", number))
        if has_value:
            values[key] = line[len(key) + 1:]
        elif key in lookup:
            values[key] = lookup[key]
    return values
