"""Library errors become one-line stackctl errors naming the engine, the step and the service."""

from __future__ import annotations

import docker.errors
import paramiko
import pytest
import requests

from stackctl.drivers._errors import translate
from stackctl.errors import DriverError, EngineUnavailable, HostKeyError

WHERE = "unix:///var/run/docker.sock"


def _raised(exc: Exception, **kw) -> DriverError:
    with pytest.raises(DriverError) as info, translate(where=WHERE, **kw):
        raise exc
    assert info.value.__cause__ is exc
    return info.value


@pytest.mark.parametrize("exc, kind, text", [
    (PermissionError(13, "Permission denied"), EngineUnavailable, "permission denied on the Docker socket"),
    (FileNotFoundError(2, "No such file or directory"), EngineUnavailable, "is dockerd running?"),
    (ConnectionRefusedError(111, "Connection refused"), EngineUnavailable, "is dockerd running?"),
    (requests.exceptions.ConnectionError("Connection aborted."), EngineUnavailable, "is dockerd running?"),
    (paramiko.SSHException("Server '[h]:22' not found in known_hosts"), HostKeyError, "is unknown"),
])
def test_engine_and_transport_faults(exc, kind, text) -> None:
    err = _raised(exc)
    assert type(err) is kind and text in str(err)


def test_api_errors_keep_the_engine_explanation_and_name_the_service_and_step() -> None:
    response = requests.Response()
    response.status_code = 500
    api = docker.errors.APIError("500 Server Error", response=response,
                                 explanation="driver failed programming external connectivity: "
                                             "Bind for 0.0.0.0:8080 failed: port is already allocated")
    err = _raised(api, service="web", what="start container p-web-1")
    assert err.service == "web"
    assert str(err) == ("start container p-web-1: driver failed programming external connectivity: "
                        "Bind for 0.0.0.0:8080 failed: port is already allocated")


def test_missing_image_is_named() -> None:
    err = _raised(docker.errors.ImageNotFound("No such image: nope:1"), service="db", what="create container p-db-1")
    assert str(err) == "create container p-db-1: image not found: No such image: nope:1"
