"""Our JSON Schemas (``schemas/`` in the checkout, ``stackctl._schemas`` in an installed wheel)."""

from __future__ import annotations

import json
import pathlib
from typing import Any


def schema_text(name: str) -> str:
    """The text of ``schemas/<name>``, from the installed package or from the checkout."""
    beside = pathlib.Path(__file__).resolve().parent / "_schemas" / name
    if beside.is_file():  # the package data as installed (or the checkout's symlink): no importlib.resources
        return beside.read_text(encoding="utf-8")
    try:
        from importlib.resources import files

        return files("stackctl._schemas").joinpath(name).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError):
        checkout = pathlib.Path(__file__).resolve().parents[1] / "schemas" / name
        return checkout.read_text(encoding="utf-8")


def load(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(schema_text(name))
    return schema
