"""Interpolation: the 114 shared cases (oracle answers), type casts and warnings checked live on the oracle."""

from __future__ import annotations

import json
import pathlib
import re
import struct
import subprocess
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stackctl.composefile.interpolate import interpolate, substitute
from stackctl.composefile.yaml12 import Override, Reset, load_yaml
from stackctl.errors import InterpolationError
from tests.support import env


def load_cases() -> list[dict[str, Any]]:
    shared = env.shared_or_none()
    if shared is None:
        return [{"id": "missing"}]  # one case, which skips (or fails in CI) through the `shared` fixture
    return json.loads((shared / "conformance" / "interpolation-cases.json").read_text())["cases"]


@pytest.mark.parametrize("case", load_cases(), ids=lambda case: case["id"])
def test_shared_interpolation_case_matches_the_oracle(case: dict[str, Any], shared: pathlib.Path) -> None:
    answer = case["oracle_v2.40.3"]
    if answer["rc"] == 0:
        out = interpolate({"x-test": case["input"]}, case["env"], file="c.yaml")
        assert out == {"x-test": answer["value"]}
        return
    with pytest.raises(InterpolationError) as info:
        interpolate({"x-test": case["input"]}, case["env"], file="c.yaml")
    problem = info.value.problems[0]
    assert (problem.file, problem.path) == ("c.yaml", "x-test")
    if answer["stderr"].startswith("invalid interpolation format"):
        template = answer["stderr"].split("\n", 2)[2]
        assert problem.message.startswith("invalid interpolation format") and f'"{template}"' in problem.message
    else:
        assert answer["stderr"] == f"error while interpolating x-test: {problem.message}"


def test_unset_variables_warn_once_and_become_empty() -> None:
    warnings: list[str] = []
    doc = {"services": {"a": {"image": "$IMG:${TAG}", "command": "echo $IMG", "labels": ["${TAG-}"]}}}
    out = interpolate(doc, {}, file="c.yaml", warn=warnings.append)
    assert out["services"]["a"] == {"image": ":", "command": "echo ", "labels": [""]}
    assert warnings == ['The "IMG" variable is not set. Defaulting to a blank string.',
                        'The "TAG" variable is not set. Defaulting to a blank string.']


def test_defaults_are_evaluated_eagerly_like_compose_go_2_9() -> None:
    warnings: list[str] = []
    assert substitute("${A:-$B}", {"A": "set"}, warn=warnings.append) == "set"
    assert warnings == ['The "B" variable is not set. Defaulting to a blank string.']
    with pytest.raises(InterpolationError, match="required variable U is missing a value: x"):
        substitute("${A-${U:?x}}", {"A": "set"})


def test_keys_are_never_interpolated_and_input_is_untouched() -> None:
    doc = {"services": {"$NAME": {"environment": {"$K": "$V", "L": "$$V"}, "labels": ["$K=v"]}}}
    out = interpolate(doc, {"NAME": "n", "K": "k", "V": "v"}, file="c.yaml")
    assert out == {"services": {"$NAME": {"environment": {"$K": "v", "L": "$V"}, "labels": ["k=v"]}}}
    assert doc["services"]["$NAME"]["environment"]["$K"] == "$V"


def test_markers_and_non_strings_pass_through() -> None:
    doc = {"services": {"a": {"image": Override("${I}"), "ports": Reset, "scale": 2, "tty": None,
                              "command": Override(["${I}"])}}}
    out = interpolate(doc, {"I": "busybox"}, file="c.yaml")
    assert out["services"]["a"] == {"image": Override("busybox"), "ports": Reset, "scale": 2, "tty": None,
                                    "command": Override(["busybox"])}


def test_error_names_path_and_line() -> None:
    text = "services:\n  web:\n    ports:\n      - \"${P:?set P}:80\"\n"
    doc = load_yaml(text, file="compose.yaml")[0]
    with pytest.raises(InterpolationError) as info:
        interpolate(doc.data, {}, file="compose.yaml", lines=doc.lines)
    assert str(info.value) == "compose.yaml:4: services.web.ports[0]: required variable P is missing a value: set P"


def test_cast_can_be_disabled() -> None:
    assert interpolate({"services": {"a": {"scale": "${N}"}}}, {"N": "3"}, file="c.yaml",
                       cast=False) == {"services": {"a": {"scale": "3"}}}


CAST_FILE = """\
services:
  a:
    image: x
    scale: ${N}
    cpus: ${C}
    init: ${B}
    tty: "yes"
    cpu_count: "${N}"
    oom_score_adj: -5
    pids_limit: "+7"
    ports:
      - target: ${T}
        published: "${T}"
    ulimits:
      nofile: {soft: "${N}", hard: "20000"}
      nproc: "${N}"
    healthcheck: {retries: "${N}", disable: "off"}
    volumes:
      - {type: volume, source: v, target: /x, read_only: "${B}", volume: {nocopy: "true"}}
    deploy:
      replicas: "${N}"
      update_config: {parallelism: "2", max_failure_ratio: "0.25"}
    environment:
      E: ${A:-$UNSETB}
      F: $$HOME
volumes:
  v: {}
"""
CAST_ENV = {"N": "3", "C": "0.1", "B": "y", "T": "8080", "A": "set"}
CAST_PATHS = [("cpu_count",), ("cpus",), ("deploy", "replicas"), ("deploy", "update_config"), ("init",),
              ("healthcheck", "retries"), ("oom_score_adj",), ("pids_limit",), ("ports", 0, "target"),
              ("ports", 0, "published"), ("scale",), ("tty",), ("ulimits",), ("volumes", 0, "read_only"),
              ("volumes", 0, "volume"), ("environment", "E")]


def run_oracle(oracle: pathlib.Path, tmp: pathlib.Path, text: str,
               env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    (tmp / "compose.yaml").write_text(text)
    return subprocess.run([str(oracle), "-p", "t", "-f", str(tmp / "compose.yaml"), "config", "--format",
                           "json", "--no-normalize"], capture_output=True, text=True, timeout=60, cwd=tmp,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp), **env}, check=False)


def dig(value: Any, path: tuple[Any, ...]) -> Any:
    for part in path:
        value = value[part]
    return value


def test_type_casts_and_warnings_match_the_oracle(oracle: pathlib.Path, tmp_path: pathlib.Path) -> None:
    done = run_oracle(oracle, tmp_path, CAST_FILE, CAST_ENV)
    assert done.returncode == 0, done.stderr
    theirs = json.loads(done.stdout)["services"]["a"]
    warnings: list[str] = []
    ours = interpolate(load_yaml(CAST_FILE, file="c.yaml")[0].data, CAST_ENV, file="c.yaml",
                       warn=warnings.append)["services"]["a"]
    for path in CAST_PATHS:
        mine, go = dig(ours, path), dig(theirs, path)
        assert mine == go and type(mine) is type(go), (path, mine, go)
    assert ours["environment"]["F"] == "$HOME" and theirs["environment"]["F"] == "$$HOME"  # printed re-escaped
    oracle_warnings = {json.loads(f'"{m}"') for m in re.findall(r'msg="((?:[^"\\]|\\.)*)"', done.stderr)}
    assert set(warnings) == oracle_warnings


@pytest.mark.parametrize("line", [
    "scale: abc", "scale: ''", "scale: '1.5'", "scale: '99999999999999999999'", "cpus: x", "cpus: ' 1'",
    "cpus: '1e400'", "init: maybe", "tty: '1'", "oom_score_adj: '0x10'", "healthcheck: {retries: '-'}",
])
def test_cast_errors_match_the_oracle(line: str, oracle: pathlib.Path, tmp_path: pathlib.Path) -> None:
    text = f"services:\n  a:\n    image: x\n    {line}\n"
    done = run_oracle(oracle, tmp_path, text, {})
    with pytest.raises(InterpolationError) as info:
        interpolate(load_yaml(text, file="c.yaml")[0].data, {}, file="c.yaml")
    problem = info.value.problems[0]
    assert done.returncode != 0
    assert done.stderr.strip() == f"error while interpolating {problem.path}: {problem.message}"


def single(value: float) -> float:
    return float(struct.unpack("f", struct.pack("f", value))[0])


FLOAT_TEXTS = ["1_0.5", "1__0", "_1", "1_", "0x1p-2", "0x_1p-2", "0x1.8p1", "-.5", "+1e3", "1.", ".", "e5", "0.1",
               "0.3", "1.5e+38", "3.5e38", "1e-50", "1e400", "12345.678901", "1,5"]


@pytest.mark.parametrize("text", FLOAT_TEXTS)
def test_float_casts_follow_go_parse_float(text: str, oracle: pathlib.Path, tmp_path: pathlib.Path) -> None:
    compose = (f"services:\n  a:\n    image: x\n    cpus: '{text}'\n"
               f"    deploy: {{update_config: {{max_failure_ratio: '{text}'}}}}\n")
    done = run_oracle(oracle, tmp_path, compose, {})
    doc = load_yaml(compose, file="c.yaml")[0].data
    if done.returncode != 0:
        with pytest.raises(InterpolationError) as info:
            interpolate(doc, {}, file="c.yaml")
        assert done.stderr.strip().endswith(info.value.problems[0].message)
        return
    theirs = json.loads(done.stdout)["services"]["a"]
    ours = interpolate(doc, {}, file="c.yaml")["services"]["a"]
    assert ours["cpus"] == theirs.get("cpus", 0.0)  # config omits a zero
    ratio = ours["deploy"]["update_config"]["max_failure_ratio"]
    assert single(ratio) == single(theirs["deploy"]["update_config"].get("max_failure_ratio", 0.0))  # a float32 field


TEMPLATE_ALPHABET = st.sampled_from(list("$${}:-+?AB_x 1\"'\n") + ["${A", "${B:-", "$$", "}"])


@settings(max_examples=300, deadline=None)
@given(parts=st.lists(TEMPLATE_ALPHABET, max_size=14), env=st.dictionaries(st.sampled_from(["A", "B"]),
                                                                             st.sampled_from(["", "v", "$x"])))
def test_any_template_gives_a_string_or_an_interpolation_error(parts: list[str], env: dict[str, str]) -> None:
    template = "".join(parts)
    try:
        result = substitute(template, env)
    except InterpolationError as exc:
        assert exc.problems[0].message
    else:
        assert isinstance(result, str)
        if "$" not in template:
            assert result == template
