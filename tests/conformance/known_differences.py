"""Every case where stackctl deliberately prints something else than docker compose v2.40.3.

The ONE list of deliberate differences. Keys are case ids as the conformance tests name them
(``<manifest case>`` or ``<manifest case>@<variant>`` for the shared corpus, ``live:<fixture>:<variant>`` for our
own corpus run against the oracle). The tests assert equality for every other case, and fail when a
listed case starts matching, so this list stays true.
"""

from __future__ import annotations

ALIAS_BOMB = ("a YAML alias bomb: the oracle expands it (or hangs); stackctl refuses documents whose "
              "aliases expand beyond a fixed budget, with a SpecError")
SSH_JSON_BUG = ("the oracle cannot print `build.ssh` as JSON (`json: error calling MarshalJSON for type "
                "types.SSHKey`); stackctl prints it")
SSH_ORDER = ("the oracle prints `build.ssh` keys in Go's random map order (run it twice: the order changes); "
             "stackctl prints them in a stable, sorted order")
RESET_PREFIX_BUG = ("the oracle reports a false `cycle detected` when an alias is used by a service whose "
                    "name is a dotted extension of another's (`services.test.other` vs `services.test`): "
                    "its reset processor compares paths as string prefixes; stackctl loads the file")

KNOWN_DIFFERENCES: dict[str, str] = {
    "compose-go__inline__loader__reset__TestResetCycle__5": RESET_PREFIX_BUG,
    "compose-go__inline__loader__loader__TestLoadSSHWithKeysValuesInBuildConfig__1@yaml-format": SSH_ORDER,
    "compose-go__inline__loader__reset__TestAliasBombPrevented__1": ALIAS_BOMB,
    "compose-e2e__build-test__ssh__compose": SSH_JSON_BUG,
    "compose-go__inline__loader__loader__TestLoadSSHWithKeyValueInBuildConfig__1": SSH_JSON_BUG,
    "compose-go__inline__loader__loader__TestLoadSSHWithKeysValuesInBuildConfig__1": SSH_JSON_BUG,
}

# Cases both reject, where our message words the same failure differently (checked by `same_reason`).
OTHER_WORDING: dict[str, str] = {
    "compose-go__inline__loader__reset__TestAliasBombPrevented__2": "the oracle hangs on this alias bomb; "
    "stackctl refuses it (`document contains excessive aliasing`)",
    "compose-go__inline__loader__reset__TestAliasNodePreservation__1": "the oracle hangs on this alias bomb; "
    "stackctl refuses it (`document contains excessive aliasing`)",
    "compose-go__inline__loader__reset__TestResetCycle__6": "an anchor that contains itself: the oracle says "
    "`cycle detected: node at path ...`, stackctl `anchor 'healthcheck' value contains itself`",
    "compose-go__inline__loader__loader__TestLoadWithInterpolationCastFull__1": "several values fail to cast; "
    "the oracle names the first it meets in Go's random map order, stackctl the first in document order",
    "compose-e2e__env_file__compose": "a missing env_file: the oracle appends Go's `stat ...: no such file or "
    "directory`, stackctl says `env file /doesnotexist/.env not found`",
    "live:not-a-mapping:default": "a top-level sequence: the oracle fails in its project-name pre-parse "
    "(`cannot unmarshal !!seq into cli.named`), stackctl says `top-level object must be a mapping`",
}

# Limits stackctl keeps on purpose against hostile input (issue 10), where docker compose goes further or
# behaves otherwise. Keys are the tests of tests/hostile that hold each limit; they fail if it changes.
HOSTILE_LIMITS: dict[str, str] = {
    "test_deeper_nested_defaults_are_refused_in_one_line": "`${A:-${A:-...}}` nested more than 64 levels: the "
    "oracle evaluates any depth; stackctl refuses it in one line (`variables nested more than 64 levels deep`) "
    "rather than raise Python's recursion limit",
    "test_a_longer_include_chain_is_refused_with_a_true_message": "an `include` chain longer than 32 files: the "
    "oracle loads any length; stackctl refuses it (`includes nested more than 32 files deep`), since each "
    "included file is loaded recursively",
    "test_deep_yaml_nesting_is_refused": "YAML nested deeper than 200 levels: go-yaml allows 10,000; stackctl "
    "refuses it (`nested deeper than 200 levels`) because every later stage walks the tree recursively",
    "test_interpolation_output_is_capped": "interpolation producing more than 16 MiB: the oracle tries and dies "
    "of it; stackctl refuses it in one line",
    "test_oversized_regular_file_is_refused_before_reading": "a compose or env file larger than 16 MiB: the oracle "
    "reads it; stackctl refuses it (and FIFOs, devices, sockets, on which the oracle blocks or never ends)",
    "test_numbers_at_the_edges_load_or_fail_cleanly": "`cpus: .inf` with `--format json`: the oracle prints "
    "`json: unsupported value: +Inf` and exits 0; stackctl exits 1 with `cannot print as JSON`",
}
