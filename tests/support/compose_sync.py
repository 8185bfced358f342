"""Blocking calls of the compose effects for tests (the product's only blocking edge is the CLI):
each runs the coroutine to its end on a new event loop."""

from __future__ import annotations

import asyncio
from typing import Any

from stackctl.compose import control
from stackctl.compose import up as compose_up


def up(*args: Any, **kwargs: Any) -> compose_up.UpResult:
    return asyncio.run(compose_up.up(*args, **kwargs))


def down(*args: Any, **kwargs: Any) -> Any:
    return asyncio.run(control.down(*args, **kwargs))


def stop_like(*args: Any, **kwargs: Any) -> Any:
    return asyncio.run(control.stop_like(*args, **kwargs))
