"""Property: whatever a user writes, stackctl answers with a result or a StackctlError, never a traceback.

Valid compose documents are mutated (keys dropped, values replaced or retyped, bad interpolation injected,
unknown services in depends_on, broken YAML text) and run through the real `stackctl compose config`
in-process, and through our own checks (yaml12 -> validate_schema -> check_consistency).
"""

from __future__ import annotations

import contextlib
import copy
import io
import pathlib
import tempfile
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackctl.errors import StackctlError
from tests.unit.composefile import _corpus

BASES: list[dict[str, Any]] = [
    {"services": {"web": {"image": "nginx:${TAG:-latest}", "ports": ["8080:80", {"target": 443, "published": 8443}],
                          "depends_on": {"db": {"condition": "service_healthy"}}, "environment": {"A": "1"},
                          "volumes": ["data:/var/lib/data", "./html:/usr/share/nginx/html:ro"],
                          "networks": ["front", "back"], "healthcheck": {"test": "curl -f localhost"}},
                  "db": {"image": "postgres", "environment": ["POSTGRES_PASSWORD=x"], "networks": {"back": None},
                         "deploy": {"replicas": 1, "resources": {"limits": {"memory": "1g"}}},
                         "healthcheck": {"test": ["CMD", "pg_isready"], "interval": "5s"}}},
     "networks": {"front": {}, "back": {"driver": "bridge"}}, "volumes": {"data": None}},
    {"name": "demo", "services": {"app": {"build": {"context": ".", "args": {"V": "1"}}, "command": "run --x",
                                          "secrets": ["token"], "configs": [{"source": "cfg", "target": "/c"}],
                                          "profiles": ["dev"], "scale": 2, "x-meta": {"a": 1}},
                                  "worker": {"image": "busybox", "links": ["app"], "tmpfs": ["/tmp"],
                                             "ulimits": {"nofile": {"soft": 1, "hard": 2}}}},
     "secrets": {"token": {"environment": "HOME"}}, "configs": {"cfg": {"content": "x"}}, "x-common": [1, 2]},
    {"services": {"one": {"image": "alpine", "network_mode": "service:two", "extends": {"service": "two"}},
                  "two": {"image": "alpine", "develop": {"watch": [{"path": ".", "action": "rebuild"}]}}}},
]

JUNK_SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 70000), st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["", "x", "${", "${A:?missing}", "$${B}", "${A:-${B:-c}}", "${1bad}", "$", "}", "80:80:80",
                     "service:nope", "-1", "0x1F", "yes", "~", "a b", "/abs/path", "../up", "1g", "1.5"]),
    st.text(max_size=8),
)
JUNK = st.recursive(JUNK_SCALARS, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=6), inner, max_size=3)), max_leaves=6)
TEXT_NOISE = st.sampled_from([":", "- ", "[", "{", "}", "&a ", "*a", "*nope", "!reset ", "!override ", "\t", "'",
                              '"', "\n  - ", "\n<<: *a\n", "? ", "%YAML 1.1\n", "---\n", "\x00", "#"])


def _set(doc: Any, path: tuple[Any, ...], value: Any, *, delete: bool = False) -> Any:
    if not path:
        return value
    parent = doc
    for part in path[:-1]:
        parent = parent[part]
    if delete:
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return doc


@st.composite
def mutated_documents(draw: st.DrawFn) -> str:
    """YAML text of a base document after a few structural mutations and maybe some text noise."""
    doc = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(1, 3))):
        path = draw(st.sampled_from(_corpus.key_paths(doc)))
        action = draw(st.sampled_from(["drop", "replace", "retype", "unknown-dep", "unknown-key"]))
        if action == "drop" and path:
            doc = _set(doc, path, None, delete=True)
        elif action in ("replace", "retype"):
            doc = _set(doc, path, draw(JUNK if action == "replace" else JUNK_SCALARS))
        elif action == "unknown-dep" and isinstance(doc, dict) and isinstance(doc.get("services"), dict) \
                and doc["services"]:
            name = draw(st.sampled_from(sorted(doc["services"])))
            if isinstance(doc["services"][name], dict):
                doc["services"][name]["depends_on"] = [draw(st.sampled_from(["ghost", name, "web", "db"]))]
        elif action == "unknown-key":
            parent = doc
            for part in path:
                parent = parent[part]
            if isinstance(parent, dict):
                parent[draw(st.sampled_from(["imagee", "x-ok", "version", "123", "name"]))] = draw(JUNK_SCALARS)
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True)
    if draw(st.booleans()):
        at = draw(st.integers(0, len(text)))
        text = text[:at] + draw(TEXT_NOISE) + text[at:]
    if draw(st.integers(0, 9)) == 0:
        text = text[: draw(st.integers(0, len(text)))]
    return text


SETTINGS = settings(max_examples=200, deadline=3000, derandomize=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@SETTINGS
@given(mutated_documents())
def test_our_checks_answer_with_problems_or_a_spec_error(text: str) -> None:
    from stackctl.composefile import yaml12
    from stackctl.composefile.consistency import check_consistency
    from stackctl.composefile.validate import validate_schema

    try:
        for doc in yaml12.load_yaml(text, file="compose.yaml"):
            problems = validate_schema(doc.data, file="compose.yaml", lines=doc.lines)
            if not problems and isinstance(doc.data, dict):
                problems = check_consistency(doc.data, file="compose.yaml")
            assert all(p.file == "compose.yaml" and p.message for p in problems)
    except StackctlError:
        pass


@SETTINGS
@given(mutated_documents())
def test_compose_config_exits_0_or_1_never_a_traceback(text: str) -> None:
    from stackctl.cli.main import main

    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "compose.yaml"
        path.write_text(text)
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(["compose", "-f", str(path), "config"])
    assert code in (0, 1), err.getvalue()
    if code == 1:
        assert err.getvalue().startswith("stackctl: "), err.getvalue()
        assert "Traceback" not in err.getvalue()
