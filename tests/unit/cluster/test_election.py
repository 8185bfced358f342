"""The election state machine: an agent believes it leads only while its lease surely lives, a graceful
stop ends the leadership at once, and the fence names the leader key's create revision."""

from __future__ import annotations

import pytest

from stackctl.cluster.election import Election
from stackctl.cluster.kv import Compare, LeaderKey
from stackctl.errors import Deposed

KEY = LeaderKey(name="/stackctl/c/election", key="/stackctl/c/election/694d7a1b2c3d4e5f", rev=42,
                lease=0x694D7A1B2C3D4E5F)


def elected(at: float = 10.0) -> Election:
    election = Election(ttl=2.0, margin=0.5)
    election.keepalive_ok(at)
    election.elected(KEY, at)
    return election


def test_leads_only_while_the_lease_surely_lives() -> None:
    election = elected()
    assert election.is_leader(10.0) and election.is_leader(11.49)
    assert not election.is_leader(11.5)  # last_ok + ttl - margin
    election.keepalive_ok(11.0)
    assert election.is_leader(12.4) and not election.is_leader(12.5)
    assert election.deadline() == 12.5


def test_failed_keepalives_do_not_extend_and_a_late_answer_counts_from_its_sending() -> None:
    election = elected()
    election.keepalive_failed(10.5)
    election.keepalive_failed(11.0)
    assert election.failures == 2 and not election.is_leader(11.6)
    election.keepalive_ok(10.9)  # an answer to a keepalive sent at 10.9 that came back late
    assert election.failures == 0 and election.is_leader(12.3) and not election.is_leader(12.4)
    election.keepalive_ok(10.2)  # an older one answered later still: never moves last_ok back
    assert election.last_ok == 10.9


def test_standby_is_not_leader_and_has_no_fence() -> None:
    election = Election()
    election.keepalive_ok(0.0)
    assert not election.is_leader(0.1)
    with pytest.raises(Deposed, match="^not the leader$"):
        election.fence()


def test_fence_compares_the_leader_key_create_revision() -> None:
    assert elected().fence() == [Compare(KEY.key, "CREATE", "EQUAL", 42)]
    assert elected().fence()[0].to_gateway() == {"key": "L3N0YWNrY3RsL2MvZWxlY3Rpb24vNjk0ZDdhMWIyYzNkNGU1Zg==",
                                                 "target": "CREATE", "result": "EQUAL", "create_revision": "42"}


def test_lost_then_a_new_term() -> None:
    election = elected()
    election.lost(11.0)
    assert not election.is_leader(11.0) and election.phase == "standby" and election.last_ok is None
    with pytest.raises(Deposed):
        election.fence()
    election.keepalive_ok(12.0)
    election.elected(KEY, 12.1)
    assert election.is_leader(12.2) and election.since == 12.1


def test_resigned_is_final() -> None:
    election = elected()
    election.resigned(10.1)
    assert not election.is_leader(10.1) and election.phase == "resigned"
    election.keepalive_ok(10.2)
    election.elected(KEY, 10.2)  # a campaign answer that raced the resign
    assert not election.is_leader(10.3)


def test_margin_below_ttl() -> None:
    with pytest.raises(ValueError, match="margin"):
        Election(ttl=1.0, margin=1.0)
