"""YAML 1.2 reading as docker compose reads it: checked live against the oracle binary and the corpus."""

from __future__ import annotations

import json
import math
import pathlib
import subprocess
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from stackctl.composefile.yaml12 import Override, Reset, load_yaml
from stackctl.errors import SpecError

# Plain scalars whose meaning differs between YAML 1.1 (PyYAML) and go-yaml v3, plus the ordinary ones.
SCALARS = [
    "no", "yes", "on", "off", "y", "n", "Yes", "NO", "true", "True", "TRUE", "tRue", "false", "FALSE",
    "22:22", "1:30", "190:20:30", "0x1F", "0X1f", "0o440", "0O17", "0440", "010", "08", "09.5", "00", "0",
    "-0", "+12", "-0o17", "0b101", "-0b101", "1_000", "0x_1F", "1_0.5", "1e3", "1E3", "1.5e-3", "+.5",
    "-.5e3", ".5", "5.", "1.0", "0.1", "1e21", "1e-7", "12e", "1.2.3", "0xG", "1e400",
    "~", "null", "Null", "NULL", "nULL", "", "99999999999999999999", "18446744073709551615",
    "18446744073709551616", "9223372036854775807", "9223372036854775808", "-9223372036854775808",
    "-9223372036854775809", "+18446744073709551615", "0xffffffffffffffff", "123456789012345678",
    "3.14159265358979", "100000000000000000000.0", "2001-12-14", "2001-12-14t21:59:43.10-05:00",
    "2001-12-14T21:59:43.123456789012Z", "2001-12-14 21:59:43.10", "2001-1-2", "2001-02-30",
    "2001-12-14T21:59:43+00:00", "2001-12-14 21:59:43.10 -5", "1234-", "<<", "=", ".", "+",
    "-.inf-", "0x", "0b", "0o", "1__0", "_1", "1_", "+0x10", "-0x10", "0.", "-.0",
]


def run_oracle(oracle: pathlib.Path, tmp: pathlib.Path, text: str) -> subprocess.CompletedProcess[str]:
    (tmp / "compose.yaml").write_text(text)
    return subprocess.run([str(oracle), "-p", "t", "-f", str(tmp / "compose.yaml"), "config", "--format",
                           "json", "--no-normalize"], capture_output=True, text=True, timeout=60, cwd=tmp,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(tmp)}, check=False)


def same_json(ours: Any, theirs: Any) -> bool:
    """JSON equality that still tells booleans, numbers, strings and null apart."""
    if isinstance(ours, bool) or isinstance(theirs, bool):
        return type(ours) is type(theirs) and ours == theirs
    if isinstance(ours, (int, float)) and isinstance(theirs, (int, float)):
        if isinstance(ours, float) or isinstance(theirs, float):  # JSON prints floats to 17 digits
            return float(ours) == float(theirs)
        return ours == theirs
    return type(ours) is type(theirs) and ours == theirs


@pytest.fixture(scope="module")
def oracle_scalars(oracle: pathlib.Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    tmp = tmp_path_factory.mktemp("scalars")
    text = "x-v:\n  a:\n" + "\n".join(f"    k{i}: {s}" for i, s in enumerate(SCALARS)) + "\n"
    done = run_oracle(oracle, tmp, text.replace("x-v:", "services: {a: {image: x}}\nx-v:", 1))
    assert done.returncode == 0, done.stderr
    values = json.loads(done.stdout)["x-v"]["a"]
    return {s: values.get(f"k{i}") for i, s in enumerate(SCALARS)}


@pytest.mark.parametrize("scalar", SCALARS)
def test_plain_scalar_reads_like_the_oracle(scalar: str, oracle_scalars: dict[str, Any]) -> None:
    ours = load_yaml(f"x: {scalar}\n", file="c.yaml")[0].data["x"]
    assert same_json(ours, oracle_scalars[scalar]), (scalar, ours, oracle_scalars[scalar])


def test_special_floats_follow_yaml_1_2() -> None:
    data = load_yaml("a: .inf\nb: -.Inf\nc: +.INF\nd: .nan\ne: .NaN\nf: .Nan\n", file="c.yaml")[0].data
    assert data["a"] == math.inf and data["b"] == -math.inf and data["c"] == math.inf
    assert math.isnan(data["d"]) and math.isnan(data["e"])
    assert data["f"] == ".Nan"


def test_quoted_and_block_scalars_stay_strings() -> None:
    data = load_yaml("a: '0x1F'\nb: \"true\"\nc: |\n  12\nd: >-\n  no\n", file="c.yaml")[0].data
    assert data == {"a": "0x1F", "b": "true", "c": "12\n", "d": "no"}


def test_explicit_tags() -> None:
    data = load_yaml("a: !!int '0x10'\nb: !!float 1\nc: !!str 12\nd: !!binary aGk=\ne: !custom 12\n",
                     file="c.yaml")[0].data
    assert data == {"a": 16, "b": 1.0, "c": "12", "d": "hi", "e": "12"}
    assert isinstance(data["b"], float)
    with pytest.raises(SpecError, match=r"c.yaml:1: a: cannot decode !!str `yes` as a !!bool"):
        load_yaml("a: !!bool yes\n", file="c.yaml")


def test_reset_and_override_tags() -> None:
    doc = load_yaml("services:\n  web:\n    ports: !reset []\n    image: !override nginx\n"
                    "    command: !override [a, b]\n    dns: [1.1.1.1, !reset 8.8.8.8, 9.9.9.9]\n"
                    "    x: !override 8080\n", file="c.yaml")[0]
    web = doc.data["services"]["web"]
    assert web["ports"] is Reset
    assert web["image"] == Override("nginx") and web["command"] == Override(["a", "b"])
    assert web["x"] == Override("8080")  # a tagged scalar keeps its text, as go-yaml decodes it
    assert web["dns"] == ["1.1.1.1", "9.9.9.9"] and doc.lines[("services", "web", "dns", 1)] == 6


def test_anchors_aliases_and_merge_keys() -> None:
    text = ("x-base: &base {image: x, tty: true, labels: {a: '1'}}\n"
            "x-more: &more {image: m, privileged: true}\n"
            "services:\n"
            "  a:\n    <<: *base\n    image: y\n"
            "  b:\n    image: z\n    <<: [*more, *base, {user: u, tty: false}]\n"
            "  c: *base\n")
    doc = load_yaml(text, file="c.yaml")[0]
    services = doc.data["services"]
    assert services["a"] == {"image": "y", "tty": True, "labels": {"a": "1"}}
    assert services["b"] == {"image": "z", "privileged": True, "tty": True, "labels": {"a": "1"}, "user": "u"}
    assert services["c"] == doc.data["x-base"]
    services["c"]["labels"]["a"] = "changed"  # every alias is its own copy, as in go-yaml
    assert doc.data["x-base"]["labels"]["a"] == "1" and services["a"]["labels"]["a"] == "1"
    assert doc.lines[("services", "a", "image")] == 6 and doc.lines[("services", "a")] == 4
    assert doc.lines[("services", "c", "labels", "a")] == 1


def test_anchor_can_be_redefined_later() -> None:
    data = load_yaml("a: &x 1\nb: *x\nc: &x 2\nd: *x\n", file="c.yaml")[0].data
    assert data == {"a": 1, "b": 1, "c": 2, "d": 2}


def test_multi_document_stream_and_lines() -> None:
    docs = load_yaml("services:\n  a:\n    image: x\n---\nservices:\n  b:\n    image: y\n    ports:\n"
                     "      - 80:80\n", file="c.yaml")
    assert [d.data for d in docs] == [{"services": {"a": {"image": "x"}}},
                                      {"services": {"b": {"image": "y", "ports": ["80:80"]}}}]
    assert docs[1].lines[("services", "b", "ports", 0)] == 9
    assert load_yaml("", file="c.yaml") == []


@pytest.mark.parametrize(("text", "message"), [
    ("services:\n  a:\n    image: x\n  a:\n    image: y\n",
     'c.yaml:4: services: mapping key "a" already defined at line 2'),
    ("x: {<<: {a: 1}, <<: {b: 2}}\n", 'mapping key "<<" already defined at line 1'),
    ("services:\n  123: {image: x}\n", "c.yaml:2: non-string key in services: 123"),
    ("services:\n  a:\n    environment:\n      1: x\n", "non-string key in services.a.environment: 1"),
    ("~: x\n", "non-string key at top level: <nil>"),
    ("x: &h\n  e:\n    <<: *h\n", "c.yaml:3: x.e: anchor 'h' value contains itself"),
    ("a: *nothing\n", "unknown anchor 'nothing' referenced"),
    ("a: [\n", "c.yaml:2: invalid YAML"),
    ("a: b: c\n", "c.yaml:1: invalid YAML: mapping values are not allowed in this context"),
    ("x: {a: 1}\nx: 2\n", 'c.yaml:2: mapping key "x" already defined at line 1'),
])
def test_invalid_documents_name_the_line(text: str, message: str) -> None:
    with pytest.raises(SpecError) as info:
        load_yaml(text, file="c.yaml")
    assert message in str(info.value)


def test_oracle_agrees_on_duplicate_and_non_string_keys(oracle: pathlib.Path, tmp_path: pathlib.Path) -> None:
    for text in ("services:\n  a:\n    image: x\n  a:\n    image: y\n", "services:\n  123: {image: x}\n"):
        done = run_oracle(oracle, tmp_path, text)
        with pytest.raises(SpecError) as info:
            load_yaml(text, file="c.yaml")
        ours = info.value.problems[0].message
        assert done.returncode != 0 and ours in done.stderr, (ours, done.stderr)


def test_alias_bomb_is_refused_quickly(shared: pathlib.Path) -> None:
    bomb = shared / "conformance/compose-go/inline/loader/reset/TestAliasBombPrevented__2.yaml"
    with pytest.raises(SpecError, match="document contains excessive aliasing"):
        load_yaml(bomb.read_text(), file=str(bomb))


def test_moderate_aliasing_is_expanded() -> None:
    text = "x-a: &a {k: v}\n" + "".join(
        f"x-{chr(98 + i)}: &{chr(98 + i)} [{', '.join(['*' + chr(97 + i)] * 3)}]\n" for i in range(4))
    data = load_yaml(text, file="c.yaml")[0].data
    assert len(data["x-e"]) == 3 and data["x-e"][2][2][2][2] == {"k": "v"}


class _YAML11(yaml.SafeLoader):
    """PyYAML's own YAML 1.1 reading, with compose's two tags, to measure where the dialects differ."""


_YAML11.add_constructor("!reset", lambda loader, node: Reset)
_YAML11.add_multi_constructor("!override", lambda loader, suffix, node: Override(
    node.value if isinstance(node, yaml.ScalarNode) else loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.SequenceNode) else loader.construct_mapping(node, deep=True)))

# Files that compose-go's own tests expect to fail at YAML level (PyYAML accepts them).
REFUSED = {
    "TestNonStringKeys__1.yaml", "TestNonStringKeys__2.yaml", "TestNonStringKeys__3.yaml",
    "Test_DuplicateReset__1.yaml", "TestAliasBombPrevented__1.yaml", "TestAliasBombPrevented__2.yaml",
    "TestAliasNodePreservation__1.yaml", "TestResetCycle__6.yaml",
}


def test_compose_go_fixtures_differ_from_yaml_1_1_only_where_go_yaml_does(shared: pathlib.Path) -> None:
    root = shared / "conformance" / "compose-go"
    files = sorted(p for p in root.rglob("*") if p.suffix in (".yaml", ".yml"))
    differ, refused = {}, set()
    for path in files:
        text = path.read_text()
        try:
            ours = [d.data for d in load_yaml(text, file=str(path))]
        except SpecError:
            refused.add(path.name)
            continue
        try:
            theirs = list(yaml.load_all(text, Loader=_YAML11))
        except yaml.YAMLError:
            continue  # recursive !override aliases that PyYAML's constructor cannot build
        if json.dumps(ours, default=repr, sort_keys=True) != json.dumps(theirs, default=repr, sort_keys=True):
            differ[path.name] = ours
    assert len(files) >= 600
    assert refused <= REFUSED and {"TestNonStringKeys__1.yaml", "TestAliasNodePreservation__1.yaml"} <= refused
    assert sorted(differ) == ["TestLoadLegacyBoolean__1.yaml", "TestSecretFileModeNumber__1.yaml"]
    assert differ["TestLoadLegacyBoolean__1.yaml"][0]["services"]["test"]["init"] == "yes"
    assert differ["TestSecretFileModeNumber__1.yaml"][0]["services"]["foo"]["secrets"][0]["mode"] == 288


def test_aliases_can_be_keys() -> None:
    data = load_yaml("x: &a k\ny: &b j\nm:\n  *a : 1\n  *b : 2\n", file="c.yaml")[0].data
    assert data["m"] == {"k": 1, "j": 2}


YAML_ALPHABET = st.sampled_from(["a", "b", ": ", "\n", "  ", "- ", "&x ", "*x", "<<: ", "!reset ", "!override ",
                                 "!!int ", "[", "]", "{", "}", ", ", "'", '"', "0x1F", "yes", "~", "? ", "---\n",
                                 "#", "2001-12-14", "1e3", "\t", "|\n"])


@settings(max_examples=400, deadline=None)
@given(parts=st.lists(YAML_ALPHABET, max_size=24))
def test_any_text_gives_documents_or_a_spec_error(parts: list[str]) -> None:
    try:
        docs = load_yaml("".join(parts), file="c.yaml")
    except SpecError as exc:
        assert exc.problems[0].file == "c.yaml" and exc.problems[0].message
    else:
        for doc in docs:
            assert all(isinstance(line, int) and line >= 1 for line in doc.lines.values())


SYNTAX_CASES = [
    "x-a:\n\tb: 1\n", "x-a: {b: 1,}\n", "x-a: 'it''s'\n", "x-a: \"\\x41\\u00e9\"\n", "x-a: plain\n  continued\n",
    "x-a:\n  : x\n", "x-a: &a\n  b: 1\nx-b: *a\nx-c: &a 2\nx-d: *a\n", "%YAML 1.2\n---\nx-a: 1\n",
    "%YAML 1.1\n---\nx-a: 1\n", "x-a: !!set {a, b}\n", "x-a: |+\n  keep\n\n", "x-a: @x\n", "x-a: [a, b]: c\n",
    "x-a: !!int 1.5\n", "x-a: !!null ''\n", "x-a: !!bool 'true'\n", "x-a: !!str\n", "x-a: *undefined\n",
    "x-a: {a: 1, a: 2}\n", "x-a: [a: 1]\n", "x-a: !!binary aGVsbG8=\n", "x-a: 2001-12-14t21:59:43.10z\n",
    "x-a: .5_0\n", "x-a: ._5\n", "x-a: 1.5_0\n", "x-b: &b 1\nx-a:\n  <<: *b\n", "x-b: &b [{k: 1}]\nx-a:\n  <<: *b\n",
    "x-a:\n  <<: {k: 1}\n  k: 2\n", "x-a: {\"<<\": {k: 1}}\n", "x-a: {'<<': {k: 1}}\n", "x-a: {!!merge <<: {k: 1}}\n",
]


@pytest.mark.parametrize("text", SYNTAX_CASES)
def test_yaml_syntax_edge_case_reads_like_the_oracle(text: str, oracle: pathlib.Path, tmp_path: pathlib.Path) -> None:
    head = "services: {s: {image: x}}\n"
    full = text.replace("---\n", "---\n" + head) if text.startswith("%") else head + text
    done = run_oracle(oracle, tmp_path, full)
    try:
        docs = load_yaml(full, file="c.yaml")
    except SpecError:
        assert done.returncode != 0, done.stdout
        return
    assert done.returncode == 0, done.stderr
    assert same_json(docs[0].data.get("x-a"), json.loads(done.stdout).get("x-a"))
