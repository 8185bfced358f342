"""The short volume syntax ``[SOURCE:]TARGET[:OPTIONS]`` (compose-go ``format.ParseVolume``).

``VolumeMount.parse("./data:/data:ro,z")`` -> a value whose ``to_dict()`` is the long form compose-go
writes into the model (``type`` bind/volume, ``bind.create_host_path`` for short binds, ``volume: {}`` for
named/anonymous volumes); ``str()`` gives the short form back. Paths are not made absolute here.
"""

from __future__ import annotations

import posixpath
from dataclasses import dataclass
from typing import TypedDict

PROPAGATIONS = ("rprivate", "private", "rshared", "shared", "rslave", "slave")
SELINUX = ("z", "Z")


class VolumeSyntaxError(ValueError):
    """A short volume string that cannot be parsed."""


@dataclass(frozen=True)
class VolumeMount:
    type: str
    target: str
    source: str = ""
    read_only: bool = False
    selinux: str = ""
    propagation: str = ""
    nocopy: bool = False

    @classmethod
    def parse(cls, spec: str) -> VolumeMount:
        if not spec:
            raise VolumeSyntaxError("invalid empty volume spec")
        if len(spec) <= 2:
            return cls(type="volume", target=_clean(spec))
        fields = _split(spec)
        source, target, options = _assign(spec, fields)
        kwargs = _options(options)
        kind = "bind" if _is_file_path(source) else "volume"
        return cls(type=kind, target=_clean(target), source=source, **kwargs)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {"type": self.type}
        if self.source:
            out["source"] = self.source
        if self.target:
            out["target"] = self.target
        if self.read_only:
            out["read_only"] = True
        if self.type == "bind" or self.selinux or self.propagation:
            bind: dict[str, object] = {k: v for k, v in (("selinux", self.selinux),
                                                          ("propagation", self.propagation)) if v}
            if self.type == "bind":
                bind["create_host_path"] = True
            out["bind"] = bind
        if self.type == "volume" or self.nocopy:
            out["volume"] = {"nocopy": True} if self.nocopy else {}
        return out

    def __str__(self) -> str:
        opts = ["ro" if self.read_only else "rw"]
        opts += [o for o in (self.selinux, self.propagation) if o]
        if self.nocopy:
            opts.append("nocopy")
        if not self.source:
            return self.target
        return f"{self.source}:{self.target}:{','.join(opts)}"


def _split(spec: str) -> list[str]:
    """Split on ``:`` outside ``${...}``, keeping a Windows drive letter ``C:`` whole."""
    fields: list[str] = []
    buf = ""
    depth = 0
    for i, char in enumerate(spec + "\0"):
        if char == "$" and i + 1 < len(spec) and spec[i + 1] == "{":
            depth += 1
            buf += char
        elif char == "}" and depth > 0:
            depth -= 1
            buf += char
        elif char == ":" and len(buf) == 1 and buf.isalpha():
            buf += char
        elif char in ":\0" and depth == 0:
            if not buf:
                raise VolumeSyntaxError(f"invalid spec: {spec}: empty section between colons")
            fields.append(buf)
            buf = ""
        else:
            buf += char
    return fields


def _assign(spec: str, fields: list[str]) -> tuple[str, str, str]:
    if len(fields) == 1:
        return "", fields[0], ""
    if len(fields) > 3:
        raise VolumeSyntaxError(f"invalid spec: {spec}: too many colons")
    return fields[0], fields[1], fields[2] if len(fields) == 3 else ""


class _Options(TypedDict, total=False):
    read_only: bool
    nocopy: bool
    selinux: str
    propagation: str


def _options(text: str) -> _Options:
    out: _Options = {}
    for option in text.split(",") if text else []:
        if option in ("ro", "rw"):
            out["read_only"] = option == "ro"
        elif option == "nocopy":
            out["nocopy"] = True
        elif option in SELINUX:
            out["selinux"] = option
        elif option in PROPAGATIONS:
            out["propagation"] = option
    return out


def _is_file_path(source: str) -> bool:
    if not source:
        return False
    if source[0] in "./~" or source.startswith("\\\\"):
        return True
    return len(source) > 1 and source[0].isalpha() and source[1] == ":"


def _clean(target: str) -> str:
    return clean_path(target) if target else ""


def clean_path(path: str) -> str:
    """Go's ``path.Clean``: like ``posixpath.normpath`` but a leading ``//`` becomes ``/``."""
    cleaned = posixpath.normpath(path)
    return "/" + cleaned.lstrip("/") if cleaned.startswith("//") else cleaned
