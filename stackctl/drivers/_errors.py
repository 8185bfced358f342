"""Docker SDK / requests / paramiko errors -> DriverError, EngineUnavailable, HostKeyError.

Used as ``with translate(service="web", what="create container p-web-1"): ...`` around every
engine call, so that a failure names the service and the step, and keeps the library error as
``__cause__``.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Mapping

from stackctl.drivers._unixhttp import EngineHTTPError, ImageNotFound, NotFound
from stackctl.errors import DriverError, EngineUnavailable, HostKeyError

# The library errors an engine or transport call may raise, by defining module. Errors are matched by
# class (isinstance), looked up only in modules already imported: an exception whose class was never
# imported cannot have been raised, so the error path never pays for importing docker or paramiko.
_BAD_HOST_KEY = {"paramiko.ssh_exception": ("BadHostKeyException",)}
_SSH = {"paramiko.ssh_exception": ("SSHException",)}
_SDK_IMAGE_NOT_FOUND = {"docker.errors": ("ImageNotFound",)}
_SDK_NOT_FOUND = {"docker.errors": ("NotFound",)}
_SDK_API = {"docker.errors": ("APIError",)}
_LIBRARY = {"docker.errors": ("DockerException",), "requests.exceptions": ("RequestException",),
            "urllib3.exceptions": ("HTTPError",), "paramiko.ssh_exception": ("SSHException",),
            "http.client": ("HTTPException",)}


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


def _loaded(classes: Mapping[str, tuple[str, ...]]) -> tuple[type[BaseException], ...]:
    found: list[type[BaseException]] = []
    for module, names in classes.items():
        loaded = sys.modules.get(module)
        found += [getattr(loaded, name) for name in names if loaded is not None and hasattr(loaded, name)]
    return tuple(found)


def _is(exc: BaseException, classes: Mapping[str, tuple[str, ...]]) -> bool:
    return isinstance(exc, _loaded(classes))


def convert(exc: BaseException, *, where: str, service: str | None = None, what: str = "") -> DriverError:
    """The stackctl error for a library error raised while doing ``what``."""
    prefix = f"{what}: " if what else ""
    host, port = _ssh_host(where)
    known = f"[{host}]:{port}" if port else host
    if _is(exc, _BAD_HOST_KEY):
        return HostKeyError(f"the SSH host key of {where} changed (possible man-in-the-middle); if the change "
                            f"is expected, remove the old key with `ssh-keygen -R '{known}'`", service=service)
    if _is(exc, _SSH) and "known_hosts" in str(exc):
        scan = f"ssh-keyscan -p {port} {host}" if port else f"ssh-keyscan {host}"
        return HostKeyError(f"the SSH host key of {where} is unknown; check it and trust it with "
                            f"`{scan} >> ~/.ssh/known_hosts`", service=service)
    if isinstance(exc, ImageNotFound) or _is(exc, _SDK_IMAGE_NOT_FOUND):
        return DriverError(f"{prefix}image not found: {_explanation(exc)}", service=service)
    if isinstance(exc, EngineHTTPError) or _is(exc, _SDK_API):
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
    return isinstance(exc, NotFound) or _is(exc, _SDK_NOT_FOUND)


@contextlib.contextmanager
def translate(*, where: str, service: str | None = None, what: str = "") -> Iterator[None]:
    try:
        yield
    except EngineHTTPError as exc:  # the unix client's raw answer: name the step and the service
        raise convert(exc, where=where, service=service, what=what) from exc
    except DriverError:
        raise
    except Exception as exc:  # every library error becomes a DriverError naming the step
        if isinstance(exc, OSError) or _is(exc, _LIBRARY):
            raise convert(exc, where=where, service=service, what=what) from exc
        raise
