"""Generated hostile input (hypothesis), in process: nesting at and past the limits, and numbers at the
edges of every integer and float type, in compose files, lb.yaml, interpolation and key sorting. Whatever
comes in, the outcome is a value or a StackctlError whose lines are single printable lines."""

from __future__ import annotations

import math
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stackctl.composefile.interpolate import substitute
from stackctl.composefile.loader import ProjectOptions, load_project
from stackctl.composefile.serialize import go_yaml_less, to_json, to_yaml
from stackctl.errors import InterpolationError, SpecError, StackctlError, printable
from stackctl.lb import config as lb_config

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
EDGES = [2**31 - 1, 2**31, 2**32 - 1, 2**32, 2**53 + 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 10**20, 10**400]

yaml_numbers = st.one_of(
    st.sampled_from([".inf", "-.inf", ".nan", "1e300", "-1e300", "1e-400", "0x7fffffffffffffff", "0o777", "-0",
                     "0b" + "1" * 70, "1_000", "08", "1" + "0" * 5000]),
    st.sampled_from(EDGES).flatmap(lambda n: st.sampled_from([n, -n, n - 1, n + 1])).map(str),
    st.integers().map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(
        lambda f: ".nan" if math.isnan(f) else (".inf" if f > 0 else "-.inf") if math.isinf(f) else repr(f)),
)
NUMERIC_KEYS = ["cpu_shares: {}", "cpus: {}", "cpu_count: {}", "oom_score_adj: {}", "pids_limit: {}",
                "mem_swappiness: {}", "shm_size: {}", "scale: {}", "stop_grace_period: {}",
                "ports: [{{target: {}, published: '80'}}]", "healthcheck: {{retries: {}, interval: {}}}",
                "deploy: {{replicas: {}}}", "ulimits: {{nofile: {}}}", "x-n: {}", "labels: {{a: {}}}",
                "environment: {{A: {}}}"]


def nested(depth: int, shape: list[bool], leaf: str) -> str:
    text = leaf
    for level in range(depth):
        text = f"[{text}]" if shape[level % len(shape)] else f"{{k{level}: {text}}}"
    return text


def check_outcome(tmp: Path, text: str) -> None:
    path = tmp / "compose.yaml"
    path.write_text(text)
    try:
        project = load_project(ProjectOptions(cwd=str(tmp), files=(str(path),), environ={"A": "a"}))
        to_yaml(project.document)
        to_json(project.document)
    except StackctlError as exc:
        for line in exc.lines():
            shown = printable(line)
            assert "\n" not in shown and "\x1b" not in shown
            assert len(shown) < 20_000


@SETTINGS
@given(key=st.sampled_from(NUMERIC_KEYS), number=yaml_numbers)
def test_numbers_at_the_edges_load_or_fail_cleanly(tmp_path: Path, key: str, number: str) -> None:
    check_outcome(tmp_path, "services:\n  web:\n    image: busybox\n    " + key.format(number, number) + "\n")


@SETTINGS
@given(depth=st.integers(0, 260), shape=st.lists(st.booleans(), min_size=1, max_size=5), leaf=yaml_numbers,
       where=st.sampled_from(["x-top", "services.web.x-e", "services.web.labels", "services.web.command",
                              "services.web.deploy"]))
def test_nesting_at_and_past_the_limit_loads_or_fails_cleanly(tmp_path: Path, depth: int, shape: list[bool],
                                                               leaf: str, where: str) -> None:
    value = nested(depth, shape, leaf)
    if where == "x-top":
        text = f"x-top: {value}\nservices:\n  web:\n    image: busybox\n"
    else:
        text = f"services:\n  web:\n    image: busybox\n    {where.rsplit('.', 1)[1]}: {value}\n"
    check_outcome(tmp_path, text)


@SETTINGS
@given(ops=st.lists(st.sampled_from([":-", "-", ":+", "+", ":?", "?"]), min_size=1, max_size=120),
       set_a=st.booleans())
def test_nested_expressions_substitute_or_fail_cleanly(ops: list[str], set_a: bool) -> None:
    template = "x"
    for op in ops:
        template = "${A" + op + template + "}"
    try:
        result = substitute(template, {"A": "a"} if set_a else {})
    except InterpolationError as exc:
        assert len(exc.lines()) == 1
        if len(ops) > 64:
            assert "nested more than 64" in exc.lines()[0] or "required variable" in exc.lines()[0]
    else:
        assert len(ops) <= 64 and result in ("x", "a", "")


lb_values = st.one_of(yaml_numbers.map(lambda s: s), st.integers(), st.floats(), st.text(max_size=30),
                      st.booleans(), st.none(), st.lists(st.integers(), max_size=3))


@SETTINGS
@given(values=st.dictionaries(st.sampled_from(["connect_timeout", "idle_timeout", "drain_timeout",
                                               "max_connections", "bind", "engine"]), lb_values, max_size=4),
       health=st.dictionaries(st.sampled_from(["interval", "timeout", "rise", "fall"]), lb_values, max_size=4))
def test_lb_numbers_are_range_checked_at_parse_time(values: dict[str, object], health: dict[str, object]) -> None:
    body = {"bind": "127.0.0.1:8080", "backends": [], **values, "health": health}
    try:
        cfg = lb_config.parse({"listeners": {"web": body}}, file="lb.yaml")
    except SpecError as exc:
        assert all("\n" not in printable(line) for line in exc.lines())
        return
    listener = cfg.listeners[0]
    for seconds in (listener.connect_timeout, listener.idle_timeout, listener.drain_timeout):
        assert 0 < seconds <= lb_config.MAX_DURATION
    assert 1 <= listener.max_connections <= lb_config.MAX_CONNECTIONS
    if listener.health is not None:
        assert 0 < listener.health.interval <= lb_config.MAX_DURATION
        assert 1 <= listener.health.rise <= lb_config.MAX_COUNT


names = st.text(alphabet=st.sampled_from("ab_-.0129Z٣"), max_size=8)


@SETTINGS
@given(a=names, b=names, c=names)
def test_yaml_key_order_is_a_strict_order(a: str, b: str, c: str) -> None:
    assert not go_yaml_less(a, a)
    assert not (go_yaml_less(a, b) and go_yaml_less(b, a))
    if a != b:
        assert go_yaml_less(a, b) or go_yaml_less(b, a)


@SETTINGS
@given(prefix=st.text(alphabet="abc", min_size=1, max_size=3), m=st.integers(1, 10**6), n=st.integers(1, 10**6))
def test_yaml_key_order_compares_numbers_by_value(prefix: str, m: int, n: int) -> None:
    assert go_yaml_less(f"{prefix}{m}", f"{prefix}{n}") == (m < n)
