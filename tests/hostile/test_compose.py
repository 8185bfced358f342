"""`compose config` and `compose graph` on hostile files (issue 10): bounded reads, recursion, numbers,
terminal escapes, encodings."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.hostile.conftest import Result, assert_no_control, assert_refused, run

VERBS = [("config",), ("graph",)]
SERVICE = "services:\n  web:\n    image: busybox\n"


def compose(tmp: Path, *options: str, verb: tuple[str, ...] = ("config",), args: tuple[str, ...] = (),
            **kwargs: Any) -> Result:
    """``stackctl compose --project-directory TMP OPTIONS VERB ARGS``."""
    return run("compose", "--project-directory", str(tmp), *options, *verb, *args, cwd=tmp, **kwargs)


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


# --- 3. unbounded reads -------------------------------------------------------------------------------

@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_compose_file_from_dev_zero_is_refused(tmp_path: Path, verb: tuple[str, ...]) -> None:
    assert_refused(compose(tmp_path, "-f", "/dev/zero", verb=verb), "/dev/zero", "character device")


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_compose_file_that_is_a_fifo_is_refused_at_once(tmp_path: Path, fifo: Path, verb: tuple[str, ...]) -> None:
    assert_refused(compose(tmp_path, "-f", str(fifo), verb=verb), str(fifo), "FIFO")


def test_compose_file_that_is_a_directory_is_refused(tmp_path: Path) -> None:
    assert_refused(compose(tmp_path, "-f", str(tmp_path)), "directory")


def test_stdin_from_dev_zero_is_capped(tmp_path: Path) -> None:
    assert_refused(compose(tmp_path, "-f", "-", stdin="/dev/zero"), "larger than 16 MiB")


def test_oversized_regular_file_is_refused_before_reading(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("wb") as handle:
        handle.truncate(17 * 1024 * 1024)  # sparse: costs nothing to make
    assert_refused(compose(tmp_path, "-f", str(big)), "big.yaml", "larger than 16 MiB")


@pytest.mark.parametrize("snippet, needle", [
    ("include:\n  - /dev/zero\n" + SERVICE, "character device"),
    (SERVICE + "    env_file: FIFO\n", "FIFO"),
    (SERVICE + "    label_file: FIFO\n", "FIFO"),
    ("services:\n  web:\n    extends:\n      file: /dev/zero\n      service: base\n", "character device"),
], ids=["include", "env_file", "label_file", "extends.file"])
def test_files_named_inside_a_compose_file_are_refused(tmp_path: Path, fifo: Path, snippet: str,
                                                       needle: str) -> None:
    write(tmp_path / "compose.yaml", snippet.replace("FIFO", str(fifo)))
    assert_refused(compose(tmp_path, "-f", "compose.yaml"), needle)


@pytest.mark.parametrize("source", ["/dev/zero", "FIFO"])
def test_env_file_option_is_refused(tmp_path: Path, fifo: Path, source: str) -> None:
    write(tmp_path / "compose.yaml", SERVICE)
    path = str(fifo) if source == "FIFO" else source
    assert_refused(compose(tmp_path, "-f", "compose.yaml", "--env-file", path), path)


def test_interpolation_output_is_capped(tmp_path: Path) -> None:
    # 40 KB of text that would expand to 400 MB
    write(tmp_path / "compose.yaml", SERVICE + "    command: '" + "${A}" * 10_000 + "'\n")
    result = compose(tmp_path, "-f", "compose.yaml", env={"A": "x" * 40_000})
    assert_refused(result, "services.web.command", "more than 16 MiB")


def test_dotenv_values_that_double_each_line_are_capped(tmp_path: Path) -> None:
    lines = ["A0=xxxxxxxxxxxxxxxx"] + [f"A{i}=${{A{i - 1}}}${{A{i - 1}}}" for i in range(1, 40)]
    write(tmp_path / ".env", "\n".join(lines) + "\n")
    write(tmp_path / "compose.yaml", SERVICE)
    assert_refused(compose(tmp_path, "-f", "compose.yaml"), ".env", "more than 16 MiB")


# --- 4. recursion ---------------------------------------------------------------------------------------

def _nested_default(depth: int) -> str:
    text = "x"
    for _ in range(depth):
        text = "${A:-" + text + "}"
    return text


def test_nested_defaults_within_the_limit_work(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", SERVICE.replace("busybox", _nested_default(60)))
    result = compose(tmp_path, "-f", "compose.yaml", args=("--format", "json"))
    assert result.code == 0, result.err
    assert json.loads(result.out)["services"]["web"]["image"] == "x"


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_deeper_nested_defaults_are_refused_in_one_line(tmp_path: Path, verb: tuple[str, ...]) -> None:
    write(tmp_path / "compose.yaml", SERVICE.replace("busybox", _nested_default(200)))
    assert_refused(compose(tmp_path, "-f", "compose.yaml", verb=verb), "services.web.image",
                   "nested more than 64 levels")


def test_an_extends_chain_of_a_thousand_services_loads(tmp_path: Path) -> None:
    body = "".join(f"  s{i}:\n    extends: s{i + 1}\n" + ("    labels: [l=x]\n" if i == 998 else "")
                   for i in range(999))
    write(tmp_path / "compose.yaml", "services:\n" + body + "  s999:\n    image: busybox\n")
    result = compose(tmp_path, "-f", "compose.yaml", args=("--format", "json"))
    assert result.code == 0, result.err[-2000:]
    services = json.loads(result.out)["services"]
    assert len(services) == 1000 and services["s0"]["image"] == "busybox" and services["s0"]["labels"] == {"l": "x"}


def test_an_extends_cycle_is_named(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", "services:\n  a:\n    extends: b\n  b:\n    extends: a\n")
    assert_refused(compose(tmp_path, "-f", "compose.yaml"), "Circular reference")


def _include_chain(tmp: Path, length: int) -> None:
    for i in range(length):
        include = f"include:\n  - f{i + 1}.yaml\n" if i < length - 1 else ""
        write(tmp / f"f{i}.yaml", include + f"services:\n  s{i}:\n    image: busybox\n")


def test_an_include_chain_within_the_limit_loads(tmp_path: Path) -> None:
    _include_chain(tmp_path, 30)
    result = compose(tmp_path, "-f", "f0.yaml", args=("--services",))
    assert result.code == 0, result.err
    assert len(result.out.split()) == 30


@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_a_longer_include_chain_is_refused_with_a_true_message(tmp_path: Path, verb: tuple[str, ...]) -> None:
    _include_chain(tmp_path, 300)
    assert_refused(compose(tmp_path, "-f", "f0.yaml", verb=verb), "includes nested more than 32 files deep")


@pytest.mark.parametrize("depth", [250, 10_000])
def test_deep_yaml_nesting_is_refused(tmp_path: Path, depth: int) -> None:
    write(tmp_path / "compose.yaml", SERVICE + "    x-deep: " + "[" * depth + "]" * depth + "\n")
    assert_refused(compose(tmp_path, "-f", "compose.yaml"), "compose.yaml:4: invalid YAML:", "nest")


def test_deep_nesting_at_the_end_of_the_longest_include_chain_loads(tmp_path: Path) -> None:
    _include_chain(tmp_path, 31)
    write(tmp_path / "f30.yaml", "services:\n  web:\n    x-deep: " + "{a: " * 190 + "1" + "}" * 190 + "\n"
          + "    image: " + _nested_default(60) + "\n")
    result = compose(tmp_path, "-f", "f0.yaml", args=("--format", "json"))
    assert result.code == 0, result.err[-2000:]


# --- 5. numbers ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("value", [".inf", "-.inf", ".nan", "1e300", "99999999999999999999"])
def test_out_of_range_cpu_shares_print_as_docker_compose_prints_them(tmp_path: Path, value: str) -> None:
    write(tmp_path / "compose.yaml", SERVICE + f"    cpu_shares: {value}\n")
    result = compose(tmp_path, "-f", "compose.yaml", args=("--format", "json"))
    assert result.code == 0, result.err
    assert json.loads(result.out)["services"]["web"]["cpu_shares"] == -(1 << 63)


def test_negative_port_target_is_refused(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", SERVICE + "    ports:\n      - target: -5\n        published: '80'\n")
    assert_refused(compose(tmp_path, "-f", "compose.yaml"), "services.web.ports", "-5 overflows uint")


@pytest.mark.parametrize("value, shown", [("4294967297", 1), ("99999999999999999999", None), ("1e19", 2313682944)])
def test_huge_port_target_is_a_uint32(tmp_path: Path, value: str, shown: int | None) -> None:
    write(tmp_path / "compose.yaml", SERVICE + f"    ports:\n      - target: {value}\n        published: '80'\n")
    result = compose(tmp_path, "-f", "compose.yaml", args=("--format", "json"))
    assert result.code == 0, result.err
    assert json.loads(result.out)["services"]["web"]["ports"][0].get("target") == shown


# --- 7. terminal escapes ---------------------------------------------------------------------------------

@pytest.mark.parametrize("verb", VERBS, ids=" ".join)
def test_escape_bytes_in_a_service_name_are_escaped(tmp_path: Path, verb: tuple[str, ...]) -> None:
    write(tmp_path / "compose.yaml", 'services:\n  "w\\e]0;pwned\\aeb":\n    image: 5\n    ports: [{target: -1}]\n')
    result = compose(tmp_path, "-f", "compose.yaml", verb=verb)
    assert_refused(result, "\\x1b]0;pwned\\x07")


def test_a_newline_in_a_key_does_not_split_the_message(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", 'services:\n  web:\n    image: x\n    "bad\\nkey\\r": 1\n')
    assert_refused(compose(tmp_path, "-f", "compose.yaml"), "bad\\nkey\\r")


# --- 8. small ones ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("encoding, bom", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"),
                                           ("utf-8", b"\xef\xbb\xbf")])
def test_files_with_a_byte_order_mark_are_read(tmp_path: Path, encoding: str, bom: bytes) -> None:
    (tmp_path / "compose.yaml").write_bytes(bom + SERVICE.replace("busybox", "café").encode(encoding))
    result = compose(tmp_path, "-f", "compose.yaml", args=("--format", "json"))
    assert result.code == 0, result.err
    assert json.loads(result.out)["services"]["web"]["image"] == "café"


def test_invalid_utf8_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_bytes(SERVICE.encode() + b"    x-bad: \xff\xfe\x1b\n")
    assert_refused(compose(tmp_path, "-f", "compose.yaml"), "not valid UTF-8")


def test_yaml_output_sorts_names_as_docker_compose(tmp_path: Path) -> None:
    services = "".join(f"  web{n}:\n    image: busybox\n" for n in (10, 2, 9, 1))
    write(tmp_path / "compose.yaml", "services:\n" + services)
    result = compose(tmp_path, "-f", "compose.yaml")
    assert result.code == 0, result.err
    names = [line.strip(" :") for line in result.out.splitlines() if line.startswith("  web")]
    assert names == ["web1", "web2", "web9", "web10"]


def test_an_empty_environment_key_prints_as_a_simple_key(tmp_path: Path) -> None:
    write(tmp_path / "compose.yaml", SERVICE + "    environment: ['=x']\n")
    result = compose(tmp_path, "-f", "compose.yaml")
    assert result.code == 0, result.err
    assert '      "": x\n' in result.out and "?" not in result.out
    assert_no_control(result.err)


