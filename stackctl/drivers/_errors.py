"""Docker SDK / requests / paramiko errors -> DriverError, EngineUnavailable, HostKeyError.

Used as ``with translate(service="web", what="create container p-web-1"): ...`` around every
engine call, so that a failure names the service and the step, and keeps the library error as
``__cause__``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from stackctl.errors import DriverError, EngineUnavailable, HostKeyError


def _explanation(exc: BaseException) -> str:
    text = getattr(exc, "explanation", None) or str(exc)
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    return " ".join(str(text).split())


def _unavailable(exc: BaseException, where: str) -> EngineUnavailable | None:
    text = str(exc)
    if isinstance(exc, PermissionError) or "Permission denied" in text:
        return EngineUnavailable(f"permission denied on the Docker socket {where}: "
                                 "add your user to the docker group or use sudo")
    markers = ("Connection refused", "No such file or directory", "Connection aborted",
               "Error while fetching server API version", "Max retries exceeded", "timed out")
    if any(m in text for m in markers):
        return EngineUnavailable(f"cannot connect to the Docker engine at {where}: is dockerd running?")
    return None


def _is(exc: BaseException, *names: str) -> bool:
    return any(cls.__name__ in names for cls in type(exc).__mro__)


def convert(exc: BaseException, *, where: str, service: str | None = None, what: str = "") -> DriverError:
    """The stackctl error for a library error raised while doing ``what``."""
    prefix = f"{what}: " if what else ""
    host, port = _ssh_host(where)
    known = f"[{host}]:{port}" if port else host
    if _is(exc, "BadHostKeyException"):
        return HostKeyError(f"the SSH host key of {where} changed (possible man-in-the-middle); if the change "
                            f"is expected, remove the old key with `ssh-keygen -R '{known}'`", service=service)
    if _is(exc, "SSHException") and "known_hosts" in str(exc):
        scan = f"ssh-keyscan -p {port} {host}" if port else f"ssh-keyscan {host}"
        return HostKeyError(f"the SSH host key of {where} is unknown; check it and trust it with "
                            f"`{scan} >> ~/.ssh/known_hosts`", service=service)
    if _is(exc, "ImageNotFound"):
        return DriverError(f"{prefix}image not found: {_explanation(exc)}", service=service)
    if _is(exc, "NotFound", "EngineHTTPError"):
        return DriverError(f"{prefix}{_explanation(exc)}", service=service)
    if _is(exc, "APIError"):
        return DriverError(f"{prefix}{_explanation(exc)}", service=service)
    down = _unavailable(exc, where)
    if down is not None:
        down.service = service
        return down
    return DriverError(f"{prefix}{_explanation(exc)}", service=service)


def _ssh_host(where: str) -> tuple[str, int | None]:
    from urllib.parse import urlparse

    url = urlparse(where)
    return url.hostname or where, url.port


def is_not_found(exc: BaseException) -> bool:
    return _is(exc, "NotFound")


@contextlib.contextmanager
def translate(*, where: str, service: str | None = None, what: str = "") -> Iterator[None]:
    try:
        yield
    except DriverError:
        raise
    except Exception as exc:  # every library error becomes a DriverError naming the step
        if _is(exc, "DockerException", "RequestException", "SSHException", "OSError", "HTTPError", "NotFound",
               "EngineHTTPError", "HTTPException"):
            raise convert(exc, where=where, service=service, what=what) from exc
        raise
