"""Project name rules and compose file discovery."""

from __future__ import annotations

import pathlib

import pytest

from stackctl.composefile import discovery
from stackctl.composefile.project_name import (
    check_imperative_name,
    choose_project_name,
    normalize_project_name,
)
from stackctl.errors import SpecError


@pytest.mark.parametrize(("raw", "normalized"), [
    ("pihole-cloudflared-DoH", "pihole-cloudflared-doh"),
    ("UNNORMALIZED PATH", "unnormalizedpath"),
    ("__-my_app", "my_app"),
    ("web.app", "webapp"),
    ("été", "t"),
])
def test_directory_and_file_names_are_normalized(raw: str, normalized: str) -> None:
    assert normalize_project_name(raw) == normalized


def test_imperative_name_must_already_be_normalized() -> None:
    assert check_imperative_name("good-name_1") is None
    message = check_imperative_name("Bad_Name")
    assert message is not None and message.startswith('invalid project name "Bad_Name": must consist only')


@pytest.mark.parametrize(("kwargs", "expected"), [
    ({"flag": "cli", "env_name": "env", "file_name": "file"}, ("cli", True)),
    ({"flag": None, "env_name": "env", "file_name": "file"}, ("env", True)),
    ({"flag": None, "env_name": None, "file_name": "My File"}, ("myfile", False)),
    ({"flag": None, "env_name": None, "file_name": None}, ("some_dir", False)),
])
def test_name_precedence(kwargs: dict[str, str | None], expected: tuple[str, bool]) -> None:
    assert choose_project_name(directory_name="Some_Dir", **kwargs) == expected


def test_no_normalize_keeps_the_file_name_as_written() -> None:
    assert choose_project_name(flag=None, env_name=None, file_name="My App", directory_name="d",
                               normalize=False) == ("My App", False)


def test_discovery_walks_up_to_the_nearest_parent_with_a_compose_file(tmp_path: pathlib.Path) -> None:
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    (tmp_path / "compose.override.yaml").write_text("services: {}\n")
    deep = tmp_path / "a" / "b"
    deep.mkdir(parents=True)
    found = discovery.choose_files((), {}, cwd=str(deep), project_directory=None)
    assert found.files == (str(tmp_path / "docker-compose.yml"), str(tmp_path / "compose.override.yaml"))


def test_discovery_prefers_compose_yaml_and_warns_about_the_others(tmp_path: pathlib.Path) -> None:
    for name in ("compose.yaml", "docker-compose.yml"):
        (tmp_path / name).write_text("services: {}\n")
    found = discovery.discover(str(tmp_path))
    assert found.files == (str(tmp_path / "compose.yaml"),)
    assert found.warnings[0].startswith("Found multiple config files with supported names")


def test_compose_file_variable_with_its_separator(tmp_path: pathlib.Path) -> None:
    for name in ("a.yml", "b.yml"):
        (tmp_path / name).write_text("services: {}\n")
    env = {"COMPOSE_FILE": "a.yml;b.yml", "COMPOSE_PATH_SEPARATOR": ";"}
    found = discovery.choose_files((), env, cwd=str(tmp_path), project_directory=None)
    assert found.files == (str(tmp_path / "a.yml"), str(tmp_path / "b.yml"))


def test_flags_win_over_compose_file_variable(tmp_path: pathlib.Path) -> None:
    found = discovery.choose_files(("x.yml", "-"), {"COMPOSE_FILE": "nope.yml"}, cwd=str(tmp_path),
                                   project_directory=None)
    assert found.files == (str(tmp_path / "x.yml"), "-")


def test_no_compose_file_anywhere_is_an_error(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SpecError, match="no configuration file provided"):
        discovery.choose_files((), {}, cwd=str(tmp_path), project_directory=None)


def test_project_directory_is_the_first_file_directory_unless_given(tmp_path: pathlib.Path) -> None:
    assert discovery.first_dir(["-", "sub/c.yml"], project_directory=None, cwd="/w") == "/w/sub"
    assert discovery.first_dir(["sub/c.yml"], project_directory="../p", cwd="/w") == "/p"
    assert discovery.first_dir(["-"], project_directory=None, cwd="/w") == "/w"
