"""The leader election as a pure state machine: what this agent may believe about its leadership.

:mod:`stackctl.cluster.leadership` feeds it events with the time they happened (its own monotonic clock);
nothing here reads a clock. The rule that keeps two leaders from acting at once: this agent leads only
while ``now < last_ok + ttl - margin``, where ``last_ok`` is when the last successful keepalive was *sent*
(the server renewed the lease at or after that moment, so its TTL runs out no sooner than
``last_ok + ttl``). Past that, it stops acting even before it learns that the lease expired; and every
write it makes carries :meth:`Election.fence`, so a write that races the expiry is refused by etcd.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from stackctl.cluster.kv import Compare, LeaderKey
from stackctl.errors import Deposed

Phase = Literal["standby", "leader", "resigned"]


@dataclass
class Election:
    ttl: float = 2.0
    margin: float = 0.5
    leader_key: LeaderKey | None = None
    last_ok: float | None = None  # when the last successful keepalive (or the lease grant) was sent
    since: float | None = None  # when this term began
    failures: int = 0  # keepalives failed in a row
    phase: Phase = "standby"

    def __post_init__(self) -> None:
        if not 0 <= self.margin < self.ttl:
            raise ValueError("margin must be below ttl")

    # -- events --------------------------------------------------------------------------------
    def keepalive_ok(self, now: float) -> None:
        """The lease was renewed by a keepalive (or granted) that was sent at ``now``."""
        self.last_ok = now if self.last_ok is None else max(self.last_ok, now)
        self.failures = 0

    def keepalive_failed(self, now: float) -> None:
        """A keepalive got no answer; the lease may still live (until ``last_ok + ttl``)."""
        del now
        self.failures += 1

    def elected(self, leader_key: LeaderKey, now: float) -> None:
        if self.phase == "resigned":
            return
        self.leader_key = leader_key
        self.since = now
        self.phase = "leader"

    def lost(self, now: float) -> None:
        """The lease is gone (expired, revoked, or not renewed in time): a new lease, a new campaign."""
        del now
        self.leader_key = None
        self.last_ok = None
        self.since = None
        if self.phase == "leader":
            self.phase = "standby"

    def resigned(self, now: float) -> None:
        """A graceful stop: leads no more, campaigns no more."""
        self.lost(now)
        self.phase = "resigned"

    # -- queries ---------------------------------------------------------------------------------
    def lease_alive(self, now: float) -> bool:
        """The lease surely still lives on the server (with the safety margin)."""
        return self.last_ok is not None and now < self.last_ok + self.ttl - self.margin

    def is_leader(self, now: float) -> bool:
        return self.phase == "leader" and self.leader_key is not None and self.lease_alive(now)

    def deadline(self) -> float | None:
        """The moment :meth:`is_leader` turns false unless a keepalive succeeds first."""
        return None if self.last_ok is None else self.last_ok + self.ttl - self.margin

    def fence(self) -> list[Compare]:
        """The compare every leader write carries: the leader key still exists with our create revision."""
        if self.leader_key is None:
            raise Deposed("not the leader")
        return [Compare.create_revision(self.leader_key.key, self.leader_key.rev)]
