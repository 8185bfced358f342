"""`config` output text: JSON and YAML exactly as docker compose v2.40.3 prints them."""

from __future__ import annotations

import json
import pathlib
import subprocess
from typing import Any

import pytest

from stackctl.composefile import yaml12
from stackctl.composefile.canonical import canonicalize
from stackctl.composefile.gotypes import bind
from stackctl.composefile.merge import enforce_unicity, merge
from stackctl.composefile.normalize import normalize
from stackctl.composefile.serialize import (
    json_document,
    model_to_json,
    model_to_yaml,
    needs_double_quotes,
    to_json,
    to_yaml,
)
from tests.unit.composefile._corpus import manifest


def model(**service: Any) -> dict[str, Any]:
    doc = {"services": {"web": {"image": "nginx", **service}}}
    return normalize(canonicalize(doc, file="c.yaml"), project_name="p", working_dir="/w",
                     environment={}, resolve_env=False)


def test_json_keys_in_go_order_dollars_escaped_and_html_characters_escaped() -> None:
    text = to_json(model(command="echo $HOME", labels={"a": "<b> & c"}, x_ignored=None))
    doc = json.loads(text)
    assert list(doc) == ["name", "networks", "services"]
    assert list(doc["services"]["web"]) == ["command", "entrypoint", "image", "labels", "networks"]
    assert doc["services"]["web"]["command"] == ["echo", "$$HOME"]
    assert '"a": "\\u003cb\\u003e \\u0026 c"' in text
    assert not text.endswith("\n")


def test_json_document_is_what_the_json_text_encodes() -> None:
    doc = model(environment={"A": "$x"}, **{"x-note": 1})
    assert json_document(doc) == json.loads(to_json(doc))
    assert "x-note" not in json_document(doc)["services"]["web"]


def test_escaping_can_be_turned_off_for_uninterpolated_models() -> None:
    assert "$$" not in to_json(model(command="echo $HOME"), escape_dollars=False)


def test_yaml_quotes_what_go_yaml_would_misread() -> None:
    text = to_yaml(model(restart="no", environment={"N": "*star", "A": "1", "B": "yes", "C": "two\nlines",
                                                    "D": "plain text", "E": "0440"}))
    assert 'restart: "no"' in text
    assert '"N": \'*star\'' in text
    assert 'A: "1"' in text and 'B: "yes"' in text and 'E: "0440"' in text
    assert "D: plain text" in text
    assert "C: |-\n        two\n        lines" in text
    assert "    command" not in text  # null commands are omitted in YAML
    assert "ipam" not in text  # zero structs are omitted in YAML


def test_yaml_sequences_are_indented_under_their_key() -> None:
    assert "    ports:\n      - mode: ingress\n        target: 80\n" in to_yaml(model(ports=["80"]))


@pytest.mark.parametrize(("text", "quoted"), [
    ("no", True), ("Off", True), ("y", True), ("1", True), ("1e3", True), ("0x1F", True), ("1_000", True),
    ("12:30", True), ("<<", False), ("~", True), ("", True), (".inf", True), ("2001-12-14", True),
    ("nope", False), ("1.2.3", False), ("v1", False), ("a b", False),
])
def test_double_quoting_rule(text: str, quoted: bool) -> None:
    assert needs_double_quotes(text) is quoted


def unescape(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("$$", "$")
    if isinstance(value, dict):
        return {unescape(k): unescape(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unescape(v) for v in value]
    return value


def test_every_oracle_json_output_prints_back_byte_for_byte(shared: pathlib.Path) -> None:
    """Binding an oracle output again and printing it gives the oracle's text: field order, omitempty,
    value formats and escaping all agree, over the whole corpus."""
    corpus = shared / "conformance"
    cases = [c for c in manifest(shared) if c["rc"] == 0 and c.get("output")]
    different = []
    for case in cases:
        text = (corpus / case["output"]).read_text()
        if to_json(bind(unescape(json.loads(text)))) != text:
            different.append(case["name"])
    assert len(cases) > 450
    assert different == []


ORACLE_CASES = [
    """services:
  web:
    image: "nginx:1.2"
    command: echo "a b" 'it''s'
    restart: "no"
    environment: {A: "yes", B: "1", C: "", D: "multi\\nline", E: "  lead", F: 'x: y', G: "#hash", H: null,
                  N: "*star", O: "é", P: "-dash", Q: "a'b\\"c", R: "<html> & stuff", S: "2001-01-01"}
    ports: ["8080:80", "127.0.0.1:9000-9001:9000-9001/udp"]
    x-foo: {b: 1, a: [2]}
    healthcheck: {test: curl -f http://localhost, interval: 90s}
    ulimits: {nofile: {soft: 1, hard: 2}, nproc: 65535}
    deploy: {resources: {limits: {cpus: "0.5", memory: 50M}}}
    secrets: [{source: s, mode: 0440}]
    volumes: ["./data:/data:ro,z", "db:/var/lib/db:nocopy", "/anon"]
    extra_hosts: ["somehost=162.242.195.82", "other:50.31.209.229"]
secrets:
  s: {file: ./s.txt}
volumes:
  db: {}
x-top: {z: 1, a: 2}
""",
    """services:
  app:
    build: {context: ., args: [A=1], dockerfile_inline: "FROM x"}
    depends_on: [db]
    links: [db]
    network_mode: "service:db"
    expose: [80, "81-82"]
    stop_grace_period: 1h30m
    labels: [a=1, b]
  db:
    image: postgres
    networks: [back]
    tmpfs: /run
networks:
  back: {driver: bridge, ipam: {config: [{subnet: 10.0.0.0/24}]}}
""",
    """services:
  web:
    image: x
    models: [llm]
    ipc: "service:db"
    volumes_from: ["db:ro", "container:abc"]
    cpu_percent: 50
    cpuset: "0-1"
    scale: 2
    secrets: [{source: s, target: custom, uid: "103", mode: 0o440}]
    configs: [{source: c, mode: "0440"}]
  db:
    image: y
    network_mode: none
models:
  llm: {model: ai/smollm2, context_size: 1024, runtime_flags: [--a]}
secrets:
  s: {environment: FOO}
configs:
  c: {environment: FOO}
""",
    """services:
  web:
    image: x
    environment:
      A: "- dash space"
      B: "? q"
      C: ": colon"
      D: "!bang"
      E: "%pct"
      F: "`tick"
      G: "'sq"
      H: "\\"dq"
      I: "trailing "
      J: " leading\\nsecond"
      K: "tab\\there"
      L: "a # b"
      M: "a: b"
      N2: "[x]"
      O: "{y}"
      P: "x,y"
      Q: "line1\\nline2\\n"
      R: "line1\\n\\nline3  "
      S: "bell\\u0007"
      T: "ünïcödé ✓"
      U: "0o17"
      V: "1:30"
      W: "2001-12-14"
      X: ".5"
      Y: "+1"
      Z: "null"
      AA: "=x"
      AB: "<<"
      AC: "x\\r\\ny"
      AD: "very long string very long string very long string very long string very long string very long string end"
      AE: "0b101"
      AF: "1e3"
      AG: "True"
      AH: "~x"
      AI: "*a"
      AJ: "&a"
      AK: "|x"
      AL: ">x"
      AM: "x\\u00a0y"
""",
]


@pytest.mark.parametrize("source", ORACLE_CASES)
def test_yaml_and_json_match_the_oracle_live(oracle: pathlib.Path, tmp_path: pathlib.Path, source: str) -> None:
    (tmp_path / "compose.yaml").write_text(source)
    env = {"HOME": "/home/stackctl", "PATH": "/usr/bin:/bin", "FOO": "secret-value"}
    raw = yaml12.load_yaml(source, file="compose.yaml")[0].data
    doc = enforce_unicity(canonicalize(enforce_unicity(merge({}, raw)), file="compose.yaml"))
    ours = normalize(doc, project_name=tmp_path.name.lower(), working_dir=str(tmp_path), environment=env,
                     resolve_env=False)
    for fmt, printer in (("yaml", to_yaml), ("json", to_json)):
        theirs = subprocess.run([str(oracle), "config", "--format", fmt], cwd=tmp_path, env=env,
                                capture_output=True, text=True, timeout=60, check=True).stdout
        assert printer(ours) == theirs


def test_raw_model_prints_as_a_sorted_go_map_without_escaping_dollars() -> None:
    raw = {"services": {"web": {"restart": "no", "image": "a<b>", "command": "echo $$HOME"}}, "name": "p"}
    assert model_to_json(raw) == (
        '{\n  "name": "p",\n  "services": {\n    "web": {\n      "command": "echo $$HOME",\n'
        '      "image": "a\\u003cb\\u003e",\n      "restart": "no"\n    }\n  }\n}')
    assert model_to_yaml(raw) == 'name: p\nservices:\n  web:\n    command: echo $$HOME\n    image: a<b>\n    restart: "no"\n'


def test_nested_extensions_only_in_yaml_after_the_fields() -> None:
    doc = model(depends_on={"db": {"condition": "service_started", "x-why": "cache"}}, **{"x-team": "core"})
    assert "x-" not in to_json(doc)
    assert ("    depends_on:\n      db:\n        condition: service_started\n        required: true\n"
            "        x-why: cache\n") in to_yaml(doc)
    assert "      default: null\n    x-team: core\nnetworks:\n" in to_yaml(doc)


def test_project_without_services_prints_an_empty_map() -> None:
    doc = normalize({"networks": {"n": {}}}, project_name="p", working_dir="/w", environment={}, resolve_env=False)
    assert to_json(doc) == '{\n  "name": "p",\n  "services": {}\n}'
    assert to_yaml(doc) == "name: p\nservices: {}\n"
