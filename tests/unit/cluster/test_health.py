"""Node health: three missed probes mark a node down, an answer makes it ready again."""

from __future__ import annotations

from stackctl.cluster.health import MISSES, SEEN_EVERY, Facts, Health, node_updates
from stackctl.cluster.state import NodeRecord
from stackctl.nodes import NodeSpec

SPECS = [NodeSpec("n1", "10.0.0.1", role="manager", labels={"zone": "a"}), NodeSpec("n2", "10.0.0.2")]


def test_inventory_nodes_without_a_record_get_one() -> None:
    h = Health()
    h.answered("n1")
    out = node_updates([], SPECS, h, {"n1": Facts(2.0, 2 << 30, "24.0.7")}, now=10.0)
    n1, n2 = out
    assert (n1.name, n1.role, n1.state, n1.cpus, n1.labels, n1.last_seen) == ("n1", "manager", "ready", 2.0,
                                                                              {"zone": "a"}, 10.0)
    assert (n2.role, n2.state) == ("worker", "unknown")


def test_three_misses_in_a_row_mark_the_node_down_and_an_answer_ready() -> None:
    h = Health()
    rec = NodeRecord(name="n2", address="10.0.0.2", state="ready", last_seen=5.0)
    for i in range(MISSES - 1):
        h.missed("n2", "no answer within 1 s")
        assert node_updates([rec], SPECS[1:], h, {}, now=6.0 + i) == []
    h.missed("n2", "node2 is unreachable")
    [down] = node_updates([rec], SPECS[1:], h, {}, now=9.0)
    assert (down.state, down.message) == ("down", "node2 is unreachable")
    h.answered("n2")
    [back] = node_updates([down], SPECS[1:], h, {}, now=10.0)
    assert (back.state, back.message, back.last_seen) == ("ready", "", 10.0)


def test_last_seen_is_written_only_every_few_seconds() -> None:
    h = Health()
    h.answered("n2")
    rec = NodeRecord(name="n2", address="10.0.0.2", state="ready", last_seen=100.0)
    assert node_updates([rec], SPECS[1:], h, {}, now=100.0 + SEEN_EVERY / 2) == []
    assert node_updates([rec], SPECS[1:], h, {}, now=100.0 + SEEN_EVERY)[0].last_seen == 100.0 + SEEN_EVERY


def test_user_settings_survive() -> None:
    h = Health()
    h.answered("n2")
    rec = NodeRecord(name="n2", address="10.0.0.2", availability="drain", labels={"disk": "ssd"}, state="down")
    [back] = node_updates([rec], SPECS[1:], h, {}, now=1.0)
    assert (back.availability, back.labels, back.state) == ("drain", {"disk": "ssd"}, "ready")
