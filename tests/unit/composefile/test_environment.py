""".env / env_file parsing and the project environment, compared live with the oracle's env_file handling."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackctl.composefile.environment import parse_dotenv, project_environment, read_env_file
from stackctl.errors import SpecError

OS_ENV = {"VAR_TO_BE_LOADED_FROM_OS_ENV": "from-os", "OPTION_A": "os-a", "TEST_VAR": "Test Value",
          "EMPTY_VAR": ""}

# Snippets from compose-go's dotenv tests (TestParsing, TestExpanding...), plus a few of our own.
SNIPPETS = [
    "FOO=bar", "FOO =bar", "FOO= bar", 'FOO="bar"', "FOO='bar'", 'FOO="escaped\\"bar"', 'FOO="\\"quoted\\""',
    "FOO=\"'d'\"", "OPTION_X: 1", "OPTION_X: Foo=bar", "OPTION_X=1:B", "export OPTION_X=2",
    "export OPTION_B='\\n'", "export exportFoo=2", "exportFOO=2", "export_FOO =2", "export.FOO= 2",
    "export\tOPTION_X=2", "  export OPTION_X=2", 'export OPTION_X="export A"', 'FOO="bar\\nbaz"', "FOO=a\\tb",
    'FOO="a\\tb"', 'KEY="Z\\aZ\\bZ\\fZ\\nZ\\rZ\\tZ\\vZ\\\\Z\\0123Z"', "FOO.BAR=foobar", "FOO=foobar=", "FOO=bar ",
    "FOO=bar # this is foo", "FOO=bar #this is foo", "FOO=bar #", "FOO=123#not-an-inline-comment",
    'FOO="bar#baz"', 'FOO="bar#baz"#', 'FOO="bar#baz" # comment', "FOO='bar#baz' # comment",
    'FOO="bar\\n\\ b\\az"', 'FOO="bar\\\\\\n\\ b\\az"', 'FOO="bar\\\\r\\ b\\az"', 'FOO="bar\\nbaz\\\\"',
    " KEY =value", "\tKEY=value", 'KEY="\\0123"', 'KEY="\\x07"', 'KEY="\\u12e4"', 'KEY="\\01"', 'KEY="\\0777"',
    "FOO=test\nBAR=$FOO", "FOO=test\nBAR=${FOO}bar", "BAR=$FOO_UNSET", 'FOO=test\nBAR="quote $FOO"',
    "BAR='quote $FOO'", 'FOO="foo\\$BAR"', 'FOO="foo\\${BAR}"', 'FOO=test\nBAR="foo\\${FOO} ${FOO}"',
    'TEST_URLS="stratum+tcp://a:3333\nstratum+tcp://b:443"', "A=\"x\" B=y", "A=1\r\nB=2\r\n", "# only\n\n",
    "OPTION_A=file\nB=$OPTION_A", "X=${TEST_VAR:-d} ${EMPTY_VAR:-e} ${UNSET_V-u} ${TEST_VAR:+p}",
    "BARE_LAST_LINE", "VAR_TO_BE_LOADED_FROM_OS_ENV\nNOT_THERE\nZ=1", "K='multi\nline' # c\nL=2",
    "\ufeffBOM=1", "A=1\nA=2\nB=$A", "C=$${X}", "D=\"$$X\"", "E='$$X'",
]
BAD_SNIPPETS = ["INVALID LINE=1", "lol$wut", 'KEY="', 'KEY="value\\"', "KEY='value", "B=${", 'Q="${X:?need X}"']


def run_oracle(oracle: pathlib.Path, tmp: pathlib.Path, text: str,
               env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    (tmp / "compose.yaml").write_text(text)
    return subprocess.run([str(oracle), "-p", "t", "-f", str(tmp / "compose.yaml"), "config", "--format", "json"],
                          capture_output=True, text=True, timeout=60, cwd=tmp, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp), **env})


def unescape(printed: dict[str, Any]) -> dict[str, Any]:
    """``config`` prints every literal ``$`` of a value as ``$$``."""
    return {k: v.replace("$$", "$") if isinstance(v, str) else v for k, v in printed.items()}


def services_with_env_files(tmp: pathlib.Path, texts: list[str]) -> str:
    lines = ["services:"]
    for index, text in enumerate(texts):
        (tmp / f"s{index}.env").write_bytes(text.encode())
        lines += [f"  s{index}:", "    image: x", f"    env_file: s{index}.env"]
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def oracle_snippets(oracle: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("dotenv")
    done = run_oracle(oracle, tmp, services_with_env_files(tmp, SNIPPETS), OS_ENV)
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    return {text: unescape(services[f"s{i}"].get("environment", {})) for i, text in enumerate(SNIPPETS)}


def lookup_for(tmp: pathlib.Path) -> dict[str, str]:
    return {**OS_ENV, "PWD": str(tmp)}


@pytest.mark.parametrize("text", SNIPPETS)
def test_env_file_snippet_parses_like_the_oracle(text: str, oracle_snippets: dict[str, Any]) -> None:
    assert parse_dotenv(text, file="s.env", lookup=OS_ENV) == oracle_snippets[text]


def test_compose_go_fixtures_parse_like_the_oracle(shared: pathlib.Path, oracle: pathlib.Path,
                                                   tmp_path: pathlib.Path) -> None:
    fixtures = sorted((shared / "conformance/compose-go/files/dotenv/fixtures").iterdir())
    good = [f for f in fixtures if f.name != "invalid1.env"]
    assert len(good) >= 13
    done = run_oracle(oracle, tmp_path, services_with_env_files(tmp_path, [f.read_text() for f in good]),
                      OS_ENV)
    assert done.returncode == 0, done.stderr
    services = json.loads(done.stdout)["services"]
    for index, path in enumerate(good):
        ours = read_env_file(str(path), lookup=lookup_for(tmp_path))
        assert ours == unescape(services[f"s{index}"].get("environment", {})), path.name


def test_invalid_fixture_names_its_line(shared: pathlib.Path, oracle: pathlib.Path, tmp_path: pathlib.Path) -> None:
    path = shared / "conformance/compose-go/files/dotenv/fixtures/invalid1.env"
    done = run_oracle(oracle, tmp_path, services_with_env_files(tmp_path, [path.read_text()]), {})
    with pytest.raises(SpecError) as info:
        read_env_file(str(path), lookup={})
    problem = info.value.problems[0]
    assert done.returncode != 0 and f"line {problem.line}: {problem.message}" in done.stderr
    assert (problem.file, problem.line, problem.message) == (str(path), 7, "key cannot contain a space")


@pytest.mark.parametrize("text", BAD_SNIPPETS)
def test_bad_env_file_is_refused_like_the_oracle(text: str, oracle: pathlib.Path, tmp_path: pathlib.Path) -> None:
    done = run_oracle(oracle, tmp_path, services_with_env_files(tmp_path, [text]), {})
    assert done.returncode != 0
    with pytest.raises(SpecError) as info:
        parse_dotenv(text, file="s.env", lookup={})
    problem = info.value.problems[0]
    if problem.message.startswith("invalid interpolation format"):  # compose-go says "Invalid template"
        assert 'Invalid template: "${"' in done.stderr and '"${"' in problem.message
    else:
        assert problem.message in done.stderr and problem.line == 1
        assert "line " not in done.stderr or f"line {problem.line}" in done.stderr


def test_unset_variables_in_env_files_warn() -> None:
    warnings: list[str] = []
    assert parse_dotenv("A=$NOPE\nB=\"${NOPE}\"\nC='$NOPE'", file="s.env", lookup={}, warn=warnings.append) == {
        "A": "", "B": "", "C": "$NOPE"}
    assert warnings == ['The "NOPE" variable is not set. Defaulting to a blank string.']


def test_raw_format_keeps_values_verbatim(tmp_path: pathlib.Path) -> None:
    path = tmp_path / "raw.env"
    path.write_text("# c\nA='quoted' # not a comment\n  B=${X} \nC\nD\nE==x\n")
    assert read_env_file(str(path), lookup={"C": "from-env"}, fmt="raw") == {
        "A": "'quoted' # not a comment", "B": "${X} ", "C": "from-env", "E": "=x"}
    path.write_text("BAD KEY=1\n")
    with pytest.raises(SpecError, match="variable 'BAD KEY' contains whitespaces"):
        read_env_file(str(path), lookup={}, fmt="raw")


def test_missing_and_unsupported_env_files(tmp_path: pathlib.Path) -> None:
    missing = str(tmp_path / "nope.env")
    assert read_env_file(missing, lookup={}, required=False) == {}
    with pytest.raises(SpecError, match="not found"):
        read_env_file(missing, lookup={})
    with pytest.raises(SpecError, match='unsupported env_file format "yaml"'):
        read_env_file(missing, lookup={}, fmt="yaml")
    with pytest.raises(SpecError, match="is a directory"):
        read_env_file(str(tmp_path), lookup={})


INTERPOLATED = "services:\n  a:\n    image: x\nx-v: {a: '${A}', b: '${B}', c: '${C-unset}', pwd: '${PWD}'}\n"


def oracle_values(oracle: pathlib.Path, tmp: pathlib.Path, env: dict[str, str], *flags: str) -> dict[str, str]:
    (tmp / "compose.yaml").write_text(INTERPOLATED)
    done = subprocess.run([str(oracle), *flags, "-p", "t", "-f", "compose.yaml", "config", "--format", "json"],
                          capture_output=True, text=True, timeout=60, cwd=tmp, check=False,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp), **env})
    assert done.returncode == 0, done.stderr
    return unescape(json.loads(done.stdout)["x-v"])


def ours(env: dict[str, str], tmp: pathlib.Path, env_files: list[str]) -> dict[str, str]:
    result = project_environment(environ={"PATH": "/usr/bin:/bin", "HOME": str(tmp), **env},
                                 env_files=env_files, project_dir=str(tmp), cwd=str(tmp))
    return {"a": result.get("A", ""), "b": result.get("B", ""), "c": result.get("C", "unset"),
            "pwd": result["PWD"]}


@pytest.mark.parametrize(("env", "env_files"), [
    ({"A": "os"}, []),
    ({"A": "os", "PWD": "/somewhere"}, []),
    ({}, ["one.env", "two.env"]),
    ({"B": "os"}, ["two.env"]),
    ({"COMPOSE_DISABLE_ENV_FILE": "true"}, []),
    ({"COMPOSE_DISABLE_ENV_FILE": "0"}, []),
    ({"COMPOSE_DISABLE_ENV_FILE": "1"}, ["one.env"]),
])
def test_project_environment_precedence_matches_the_oracle(env: dict[str, str], env_files: list[str],
                                                           oracle: pathlib.Path, tmp_path: pathlib.Path) -> None:
    (tmp_path / ".env").write_text("A=dotenv\nB=dotenv-$A\nC=dotenv\n")
    (tmp_path / "one.env").write_text("A=one\nB=one\n")
    (tmp_path / "two.env").write_text("B=two-${A}\n")
    flags = [arg for name in env_files for arg in ("--env-file", name)]
    assert ours(env, tmp_path, env_files) == oracle_values(oracle, tmp_path, env, *flags)


def test_missing_env_file_flag_and_bad_disable_flag(tmp_path: pathlib.Path) -> None:
    with pytest.raises(SpecError, match="couldn't find env file: .*nope.env"):
        project_environment(environ={}, env_files=["nope.env"], project_dir=str(tmp_path), cwd=str(tmp_path))
    with pytest.raises(SpecError, match="COMPOSE_DISABLE_ENV_FILE"):
        project_environment(environ={"COMPOSE_DISABLE_ENV_FILE": "maybe"}, env_files=[],
                            project_dir=str(tmp_path), cwd=str(tmp_path))


def test_env_directory_is_not_an_env_file(tmp_path: pathlib.Path) -> None:
    (tmp_path / ".env").mkdir()
    result = project_environment(environ={"X": "1"}, env_files=[], project_dir=str(tmp_path), cwd="/w")
    assert result == {"X": "1", "PWD": "/w"}
    assert os.path.isdir(tmp_path / ".env")


DOTENV_ALPHABET = st.sampled_from(list("AB=:#'\"\\ \t\n$_.{}-") + ["export ", "${A}", "\r\n", "é", "\ufeff"])


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(DOTENV_ALPHABET, max_size=20))
def test_any_env_file_gives_strings_or_a_spec_error(parts: list[str]) -> None:
    try:
        values = parse_dotenv("".join(parts), file="s.env", lookup={"A": "a"})
    except SpecError as exc:
        assert exc.problems[0].file == "s.env" and exc.problems[0].message
    else:
        assert all(isinstance(k, str) and isinstance(v, str) for k, v in values.items())


def test_later_env_file_sees_earlier_ones_like_the_oracle(oracle: pathlib.Path, tmp_path: pathlib.Path) -> None:
    (tmp_path / "e1.env").write_text("X=one\nW=w1\n")
    (tmp_path / "e2.env").write_text("Y=${X}-two\nX=re\nZ=$X\nV=${W}\n")
    compose = "services:\n  s:\n    image: x\n    env_file: [e1.env, e2.env]\n    environment: {W: declared}\n"
    done = run_oracle(oracle, tmp_path, compose, {})
    assert done.returncode == 0, done.stderr
    lookup = {"PWD": str(tmp_path), "W": "declared"}  # project environment, then the service's own
    merged = read_env_file(str(tmp_path / "e1.env"), lookup=lookup)
    merged.update(read_env_file(str(tmp_path / "e2.env"), lookup=lookup, earlier=merged))
    merged.update({"W": "declared"})
    assert merged == json.loads(done.stdout)["services"]["s"]["environment"]
