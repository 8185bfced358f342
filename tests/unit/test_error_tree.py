"""One exception root: every error class stackctl defines is in the tree of errors.py's docstring, under
its real parent, and library errors are matched by class, not by a class name."""

from __future__ import annotations

import importlib
import pkgutil
import re

import pytest

import stackctl
from stackctl import errors
from stackctl.drivers._errors import is_not_found, translate
from stackctl.drivers._unixhttp import EngineHTTPError, ImageNotFound, NotFound
from stackctl.errors import DriverError, StackctlError


def _documented_tree() -> dict[str, str | None]:
    """class name -> parent name, read from the box drawing of the docstring (depth = column of the name)."""
    parents: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        found = re.match(r"^    [│ ]*(?:[├└]── )?([A-Z]\w+)\s", line + " ")
        if not found:
            continue
        depth = found.start(1)
        while stack and stack[-1][0] >= depth:
            stack.pop()
        parents[found.group(1)] = stack[-1][1] if stack else None
        stack.append((depth, found.group(1)))
    return parents


def _defined_errors() -> dict[str, type[BaseException]]:
    for info in pkgutil.walk_packages(stackctl.__path__, "stackctl."):
        if not info.name.startswith("stackctl.__main__"):
            importlib.import_module(info.name)
    found: dict[str, type[BaseException]] = {}
    pending: list[type[BaseException]] = [StackctlError]
    while pending:
        cls = pending.pop()
        if cls.__module__.startswith("stackctl"):
            found[cls.__name__] = cls
        pending += cls.__subclasses__()
    return found


def test_every_error_class_is_in_the_documented_tree_under_its_parent() -> None:
    documented, defined = _documented_tree(), _defined_errors()
    assert sorted(documented) == sorted(defined)
    for name, cls in defined.items():
        parent = next((b.__name__ for b in cls.__bases__ if issubclass(b, StackctlError)), None)
        assert documented[name] == parent, name


@pytest.mark.parametrize("module, name", [
    ("stackctl.drivers.ssh", "NodeUnreachable"), ("stackctl.drivers.ssh", "CommandFailed"),
    ("stackctl.cluster.inventory", "InventoryError"), ("stackctl.drivers._unixhttp", "EngineHTTPError"),
])
def test_errors_raised_outside_errors_py_have_the_one_root(module: str, name: str) -> None:
    assert issubclass(getattr(importlib.import_module(module), name), StackctlError)


def test_an_engine_error_answer_is_translated_naming_the_step_and_service() -> None:
    raw = EngineHTTPError(409, "Conflict. The container name \"/p-web-1\" is already in use")
    with pytest.raises(DriverError) as info, translate(where="unix:///run/docker.sock", service="web",
                                                       what="create container p-web-1"):
        raise raw
    assert info.value.__cause__ is raw and info.value.service == "web"
    assert str(info.value) == f"create container p-web-1: {raw}"


def test_missing_image_answer_is_named_and_is_a_not_found() -> None:
    with pytest.raises(DriverError) as info, translate(where="unix:///run/docker.sock", what="create x"):
        raise ImageNotFound("No such image: nope:1")
    assert str(info.value) == "create x: image not found: No such image: nope:1"
    assert is_not_found(info.value.__cause__) and is_not_found(NotFound("No such container: x"))


def test_errors_are_matched_by_class_not_by_name() -> None:
    class NotFound(Exception):
        pass

    assert not is_not_found(NotFound("x")) and not is_not_found(EngineHTTPError(500, "boom"))
    with pytest.raises(NotFound), translate(where="unix:///run/docker.sock"):
        raise NotFound("not an engine error: passes through untouched")
