"""Generic, type-driven conversion between plain compose dicts and the frozen model.

Every model class is a frozen, slotted, keyword-only dataclass whose fields have plain defaults,
or :func:`key` for a different JSON name, aliases, or ``always``. The field's type hint drives decoding:

* ``X | None = None``     absent key = ``None``; omitted again by ``to_dict`` (unless ``always``)
* ``tuple[X, ...] = ()``  a JSON list; absent = ``()``; omitted when empty (Go's ``omitempty``)
* ``Mapping[str, X] = EMPTY``  a JSON object, stored as :class:`FrozenMap`; absent = empty; omitted when empty
* a model class           decoded recursively
* ``str``/``int``/``float``/``bool``  checked (``float`` accepts integers and keeps them as given)
* ``Any``                 kept as is, deep-frozen (dict -> FrozenMap, list -> tuple)

The field named ``extensions`` collects every ``x-*`` key of the object; a field named ``absent_keys``
records which ``always`` keys the document did not have. An unknown key,
or a value of the wrong type, is a :class:`~stackctl.errors.SpecError` naming its path
(``services.web.ports[0].target``). Nothing here does I/O.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Generic, TypeVar

from stackctl.errors import Problem, SpecError

K = TypeVar("K")
V = TypeVar("V")
T = TypeVar("T")

Path = tuple[str | int, ...]


class FrozenMap(Mapping[K, V], Generic[K, V]):
    """An immutable, hashable mapping that keeps insertion order and compares equal to a dict."""

    __slots__ = ("_data", "_hash")

    def __init__(self, data: Mapping[K, V] | None = None) -> None:
        self._data: dict[K, V] = dict(data or {})
        self._hash: int | None = None

    def __getitem__(self, name: K) -> V:
        return self._data[name]

    def __iter__(self) -> Iterator[K]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __hash__(self) -> int:
        if self._hash is None:
            self._hash = hash(frozenset(self._data.items()))
        return self._hash

    def __repr__(self) -> str:
        return f"FrozenMap({self._data!r})"

    def __reduce__(self) -> tuple[type, tuple[dict[K, V]]]:
        return (type(self), (self._data,))  # the cached hash is not carried to another process


EMPTY: FrozenMap[Any, Any] = FrozenMap()


def key(name: str | None = None, *, always: bool = False, skip: bool = False,
        aliases: tuple[str, ...] = (), default: Any = None) -> Any:
    """Declare a model field: its JSON ``name`` when it differs from the attribute name, ``always``
    to print it even when None/empty, ``skip`` for attributes that are not part of the document,
    ``aliases`` other spellings accepted on input (printed as ``name``)."""
    meta = {"name": name, "always": always, "skip": skip, "aliases": aliases}
    return dataclasses.field(default=default, metadata=meta)


def render_path(path: Path) -> str:
    """``("services", "web", "ports", 0)`` -> ``services.web.ports[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def fail(path: Path, message: str, file: str) -> SpecError:
    return SpecError(Problem(file, render_path(path), message))


# -- decoding -------------------------------------------------------------------------------------

Decoder = Callable[[Any, Path, str], Any]

_SCALARS: dict[type, tuple[tuple[type, ...], str]] = {
    str: ((str,), "a string"),
    bool: ((bool,), "a boolean"),
    int: ((int,), "an integer"),
    float: ((int, float), "a number"),
}


def _scalar_decoder(kind: type) -> Decoder:
    accepted, label = _SCALARS[kind]

    def decode(value: Any, path: Path, file: str) -> Any:
        if isinstance(value, accepted) and (kind is bool or not isinstance(value, bool)):
            return value
        raise fail(path, f"must be {label}, not {type(value).__name__} {value!r}", file)
    return decode


def freeze(value: Any) -> Any:
    """Deep-freeze plain JSON-like data: dict -> FrozenMap, list -> tuple."""
    if isinstance(value, Mapping):
        return FrozenMap({k: freeze(v) for k, v in value.items()})
    if isinstance(value, (list, tuple)):
        return tuple(freeze(v) for v in value)
    return value


def thaw(value: Any) -> Any:
    """The inverse of :func:`freeze`: back to dicts and lists."""
    if isinstance(value, Mapping):
        return {k: thaw(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [thaw(v) for v in value]
    return value


def _optional_decoder(inner: Decoder) -> Decoder:
    return lambda value, path, file: None if value is None else inner(value, path, file)


def _tuple_decoder(inner: Decoder) -> Decoder:
    def decode(value: Any, path: Path, file: str) -> tuple[Any, ...]:
        if not isinstance(value, (list, tuple)):
            raise fail(path, f"must be a list, not {type(value).__name__}", file)
        return tuple(inner(v, (*path, i), file) for i, v in enumerate(value))
    return decode


def _mapping_decoder(inner: Decoder) -> Decoder:
    def decode(value: Any, path: Path, file: str) -> FrozenMap[str, Any]:
        if not isinstance(value, Mapping):
            raise fail(path, f"must be a mapping, not {type(value).__name__}", file)
        return FrozenMap({str(k): inner(v, (*path, str(k)), file) for k, v in value.items()})
    return decode


def _union_decoder(members: tuple[Any, ...]) -> Decoder:
    """``int | Ulimit`` or ``str | bool``: a mapping goes to the model member, a scalar to the first
    scalar member whose type matches."""
    models: list[type] = [m for m in members if isinstance(m, type) and dataclasses.is_dataclass(m)]
    scalars = [(m, decoder_for(m)) for m in members if m in _SCALARS]

    def decode(value: Any, path: Path, file: str) -> Any:
        if isinstance(value, Mapping) and models:
            return decode_object(models[0], value, path, file)
        for kind, dec in scalars:
            if isinstance(value, _SCALARS[kind][0]) and (kind is bool) == isinstance(value, bool):
                return dec(value, path, file)
        names = " or ".join(getattr(m, "__name__", str(m)) for m in members)
        raise fail(path, f"must be {names}, not {type(value).__name__} {value!r}", file)
    return decode


@functools.cache
def decoder_for(hint: Any) -> Decoder:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if hint is Any:
        return lambda value, path, file: freeze(value)
    if origin in (types.UnionType, typing.Union):
        members = tuple(a for a in args if a is not type(None))
        inner = decoder_for(members[0]) if len(members) == 1 else _union_decoder(members)
        return _optional_decoder(inner) if len(members) < len(args) else inner
    if origin is tuple:
        return _tuple_decoder(decoder_for(args[0]))
    if origin in (Mapping, FrozenMap, dict):
        return _mapping_decoder(decoder_for(args[1]))
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        cls: type = hint
        return lambda value, path, file: decode_object(cls, value, path, file)
    if hint in _SCALARS:
        return _scalar_decoder(hint)
    raise TypeError(f"no decoder for {hint!r}")


@dataclasses.dataclass(frozen=True, slots=True)
class _Field:
    attr: str
    name: str
    decode: Decoder
    always: bool
    skip: bool
    extensions: bool


_FIELDS: dict[type, tuple[_Field, ...]] = {}
_BY_NAME: dict[type, dict[str, _Field]] = {}
_ATTRS: dict[type, frozenset[str]] = {}


def fields_of(cls: type) -> tuple[_Field, ...]:
    """The codec's view of a model class's fields (cached per class)."""
    if cls not in _FIELDS:
        _FIELDS[cls] = _compute_fields(cls)
    return _FIELDS[cls]


def _compute_fields(cls: type) -> tuple[_Field, ...]:
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        meta = f.metadata
        name = meta.get("name") or f.name
        skip = bool(meta.get("skip")) or f.name == "absent_keys"
        decode = (lambda v, p, fl: v) if skip else decoder_for(hints[f.name])
        out.append(_Field(f.name, name, decode, bool(meta.get("always")), skip, f.name == "extensions"))
    return tuple(out)


def _by_name(cls: type) -> dict[str, _Field]:
    if cls not in _BY_NAME:
        _BY_NAME[cls] = _compute_by_name(cls)
    return _BY_NAME[cls]


def _compute_by_name(cls: type) -> dict[str, _Field]:
    by_name = {f.name: f for f in fields_of(cls) if not f.skip and not f.extensions}
    for f in dataclasses.fields(cls):
        for alias in f.metadata.get("aliases", ()):
            by_name[alias] = by_name[f.metadata.get("name") or f.name]
    return by_name


def decode_object(cls: type[T], value: Any, path: Path, file: str) -> T:
    """Build model class ``cls`` from ``value`` found at ``path`` (through its ``_decode`` hook if any)."""
    custom = getattr(cls, "_decode", None)
    if custom is not None:
        return custom(value, path, file)  # type: ignore[no-any-return]
    return decode_fields(cls, value, path, file)


def decode_fields(cls: type[T], value: Any, path: Path, file: str) -> T:
    """Build model class ``cls`` key by key from the mapping ``value``."""
    if not isinstance(value, Mapping):
        raise fail(path, f"must be a mapping, not {type(value).__name__}", file)
    known = _by_name(cls)
    kwargs: dict[str, Any] = {}
    ext: dict[str, Any] = {}
    for name, item in value.items():
        field = known.get(name)
        if field is not None:
            kwargs[field.attr] = field.decode(item, (*path, name), file)
        elif isinstance(name, str) and name.startswith("x-"):
            ext[name] = freeze(item)
        else:
            raise fail((*path, str(name)), f"unknown key {name!r} for {cls.__name__}", file)
    if ext:
        ext_field = next((f for f in fields_of(cls) if f.extensions), None)
        if ext_field is None:
            raise fail((*path, next(iter(ext))), f"extensions are not allowed in {cls.__name__}", file)
        kwargs[ext_field.attr] = FrozenMap(ext)
    if "absent_keys" in _attrs(cls):
        kwargs["absent_keys"] = frozenset(f.name for f in fields_of(cls) if f.always and f.name not in value)
    return cls(**kwargs)


def _attrs(cls: type) -> frozenset[str]:
    if cls not in _ATTRS:
        _ATTRS[cls] = frozenset(f.name for f in dataclasses.fields(cls))
    return _ATTRS[cls]


# -- encoding -------------------------------------------------------------------------------------

def encode(value: Any) -> Any:
    """Model value -> plain JSON-like data."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        custom = getattr(value, "_encode", None)
        return custom() if custom is not None else encode_object(value)
    if isinstance(value, Mapping):
        return {k: encode(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [encode(v) for v in value]
    return value


def _empty(value: Any) -> bool:
    return value is None or (isinstance(value, (tuple, Mapping)) and not value)


def encode_object(obj: Any) -> dict[str, Any]:
    """A model object -> its dict: None and empty collections left out, except ``always`` keys the
    document had (or that were set in code), and the ``x-*`` extensions merged in."""
    out: dict[str, Any] = {}
    missing: frozenset[str] = getattr(obj, "absent_keys", frozenset())
    for field in fields_of(type(obj)):
        value = getattr(obj, field.attr)
        if field.extensions:
            out.update(thaw(value))
        elif not field.skip and (not _empty(value) or (field.always and field.name not in missing)):
            out[field.name] = encode(value)
    return out


class Model:
    """Base of every model class: ``from_dict`` / ``to_dict`` through the generic codec."""

    __slots__ = ()

    @classmethod
    def from_dict(cls, value: Mapping[str, Any], *, file: str = "", path: Path = ()) -> typing.Self:
        return decode_object(cls, value, path, file)

    def to_dict(self) -> dict[str, Any]:
        return encode_object(self)


@typing.dataclass_transform(kw_only_default=True, field_specifiers=(dataclasses.field, key))
def model(cls: type[T]) -> type[T]:
    """Class decorator: a frozen, slotted, keyword-only dataclass."""
    return dataclasses.dataclass(frozen=True, slots=True, kw_only=True)(cls)
