"""Round robin over a listener's backends, skipping the unhealthy and the draining. Pure.

A :class:`Pool` holds one :class:`Backend` per configured address. Its state changes only through
the methods below, each fed a fact from the outside (a connect failed, a check passed, the backend
list changed, Docker reports a health status); it never looks at the clock or a socket.

Health rules:
- a refused or timed-out connect (passive check) marks a backend down at once;
- active checks need ``fall`` consecutive failures to mark it down, ``rise`` consecutive successes
  to bring it back;
- when Docker reports the container's health (``health`` in the backend spec), the backend is
  eligible only while that status is ``healthy``;
- a backend removed from the list is *draining*: never picked again, kept until its last
  connection ends (the proxy enforces the drain timeout) and then forgotten.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

from stackctl.lb.config import Address, BackendSpec


@dataclass(eq=False)
class Backend:
    """One backend's live state and counters (mutated by the pool and the proxy)."""

    address: Address
    external: str | None = None  # Docker health status, when the orchestrator feeds one
    up: bool = True
    draining: bool = False
    successes: int = 0  # consecutive active-check successes while down
    failures_in_row: int = 0  # consecutive active-check failures while up
    connections: int = 0
    active: int = 0
    bytes_in: int = 0  # client -> backend
    bytes_out: int = 0  # backend -> client
    connect_failures: int = 0
    check_failures: int = 0

    @property
    def host(self) -> str:
        return self.address.host

    @property
    def port(self) -> int:
        return self.address.port

    @property
    def eligible(self) -> bool:
        return self.up and not self.draining and self.external in (None, "healthy")

    @property
    def state(self) -> str:
        """What ``lb stats`` shows: draining, up, down or the Docker status that holds it back."""
        if self.draining:
            return "draining"
        if not self.up:
            return "down"
        if self.external not in (None, "healthy"):
            return str(self.external)
        return "up"


@dataclass
class Pool:
    """The backends of one listener, in configuration order, plus the ones still draining."""

    rise: int = 2
    fall: int = 1
    backends: list[Backend] = field(default_factory=list)
    draining: list[Backend] = field(default_factory=list)
    _next: int = 0
    _all_eligible: bool | None = None  # cached; None after any state change

    @classmethod
    def of(cls, specs: Iterable[BackendSpec], *, rise: int = 2, fall: int = 1) -> Pool:
        pool = cls(rise=rise, fall=fall)
        pool.update(specs)
        return pool

    def pick(self, skip: Collection[Backend] = ()) -> Backend | None:
        """The next eligible backend after the last one picked, not in ``skip``.

        When no backend is eligible, the next non-draining one that is down is returned as a last
        resort (the health view may be stale: a connect attempt costs little and may succeed).
        ``None`` once every backend is in ``skip``.
        """
        if not skip:  # the common case, kept cheap: every backend is eligible
            fast = self._all_eligible
            if fast is None:
                fast = self._all_eligible = bool(self.backends) and all(b.eligible for b in self.backends)
            if fast:
                index = self._next if self._next < len(self.backends) else 0
                self._next = index + 1
                return self.backends[index]
        found = self._scan(skip, eligible_only=True)
        if found is None:
            found = self._scan(skip, eligible_only=False)
        return found

    def _scan(self, skip: Collection[Backend], *, eligible_only: bool) -> Backend | None:
        backends = self.backends
        count = len(backends)
        start = self._next
        for step in range(count):
            index = (start + step) % count
            backend = backends[index]
            if backend in skip or (eligible_only and not backend.eligible):
                continue
            if not eligible_only and backend.external == "unhealthy":
                continue
            self._next = index + 1
            return backend
        return None

    def connect_failed(self, backend: Backend) -> None:
        """A connect was refused or timed out: the backend is down until active checks bring it back."""
        backend.connect_failures += 1
        self._down(backend)
        self._all_eligible = None

    def check_result(self, backend: Backend, ok: bool) -> None:
        """One active health check finished."""
        self._all_eligible = None
        if ok:
            backend.failures_in_row = 0
            if not backend.up:
                backend.successes += 1
                if backend.successes >= self.rise:
                    backend.up = True
                    backend.successes = 0
            return
        backend.check_failures += 1
        backend.successes = 0
        if backend.up:
            backend.failures_in_row += 1
            if backend.failures_in_row >= self.fall:
                self._down(backend)

    def readmit(self) -> None:
        """Without active checks, backends marked down by a failed connect get another chance."""
        for backend in self.backends:
            if not backend.up:
                backend.up = True
                self._all_eligible = None

    def _down(self, backend: Backend) -> None:
        backend.up = False
        backend.successes = 0
        backend.failures_in_row = 0

    def update(self, specs: Iterable[BackendSpec]) -> list[Backend]:
        """Replace the backend list, keeping the state of addresses still present.

        Returns the backends that started draining. A drained address listed again comes back
        with its counters. New backends start up (the passive check catches a dead one at once).
        """
        known = {b.address: b for b in self.backends + self.draining}
        wanted: list[Backend] = []
        for spec in specs:
            backend = known.pop(spec.address, None) or Backend(spec.address)
            backend.draining = False
            backend.external = spec.health
            wanted.append(backend)
        started = [b for b in known.values() if not b.draining]
        for backend in started:
            backend.draining = True
        self.draining = [b for b in known.values()]
        self.backends = wanted
        self._all_eligible = None
        self._next = self._next % len(wanted) if wanted else 0
        return started

    def forget(self, backend: Backend) -> None:
        """A draining backend has no connection left (or its drain timeout passed)."""
        if backend in self.draining:
            self.draining.remove(backend)

    def find(self, address: Address) -> Backend | None:
        return next((b for b in self.backends + self.draining if b.address == address), None)

    def all(self) -> list[Backend]:
        return self.backends + self.draining
