"""The TCP proxy with real sockets on loopback and real backends (asyncio servers or processes)."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
from collections import Counter
from dataclasses import replace

import pytest

from stackctl.lb import native
from stackctl.lb.config import Address, BackendSpec
from tests.integration.lb.servers import (
    ENGINE,
    ask,
    backend_process,
    balancer,
    echo_backend,
    free_port,
    line_backend,
    listener,
    proxy_header_backend,
)
from tests.support.env import missing

LOOP: dict[str, object] = {}


@pytest.fixture(params=["asyncio", "uvloop", "native"], autouse=True)
def event_loop_kind(request: pytest.FixtureRequest) -> None:
    """Every test runs the asyncio engine on the stock loop and on uvloop (what `lb serve` uses when
    installed), and the native engine (the C relay, controlled from the stock loop)."""
    ENGINE["name"] = "native" if request.param == "native" else "asyncio"
    LOOP["factory"] = asyncio.new_event_loop
    if request.param == "native" and not native.available():
        missing("the native engine (stackctl.lb._relay) is not built")
    if request.param == "uvloop":
        try:
            import uvloop
        except ImportError:
            missing("uvloop (the `fast` extra) is not installed")
        LOOP["factory"] = uvloop.new_event_loop


def run(coro: object, timeout: float = 30) -> None:
    with asyncio.Runner(loop_factory=LOOP["factory"]) as runner:  # type: ignore[arg-type]
        runner.run(asyncio.wait_for(coro, timeout))  # type: ignore[arg-type]


def test_new_connections_go_round_robin() -> None:
    async def main() -> None:
        backends = [await line_backend(n) for n in ("a", "b", "c")]
        async with balancer(listener([p for _, p in backends])) as lb:
            answers = [await ask(lb.port) for _ in range(6)]
        assert answers == ["a hi", "b hi", "c hi", "a hi", "b hi", "c hi"]
    run(main())


def test_large_transfers_are_byte_exact_both_ways_with_half_close() -> None:
    async def main() -> None:
        _, port = await echo_backend()
        async with balancer(listener([port])) as lb:
            payload = os.urandom(16 * 1024 * 1024)
            reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)

            async def send() -> None:
                for i in range(0, len(payload), 1 << 20):
                    writer.write(payload[i:i + (1 << 20)])
                    await writer.drain()
                writer.write_eof()  # our half-close; the echo answers its own EOF after it

            sender = asyncio.create_task(send())
            received = await reader.read(-1)  # until the backend's EOF comes through
            await sender
            writer.close()
            assert len(received) == len(payload)
            assert hashlib.sha256(received).digest() == hashlib.sha256(payload).digest()
            stats = lb.stats()
            assert stats["bytes_in"] == stats["bytes_out"] == len(payload)
            (backend,) = stats["backends"]
            assert backend["bytes_in"] == backend["bytes_out"] == len(payload) and backend["connections"] == 1
    run(main())


def test_a_client_that_stops_reading_pauses_the_backend_instead_of_filling_memory() -> None:
    async def main() -> None:
        async def firehose(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            chunk = b"x" * 65536
            try:
                while True:
                    writer.write(chunk)
                    await writer.drain()
            except ConnectionError:
                pass

        server = await asyncio.start_server(firehose, "127.0.0.1", 0)
        async with balancer(listener([server.sockets[0].getsockname()[1]])) as lb:
            reader, writer = await asyncio.open_connection("127.0.0.1", lb.port, limit=65536)
            await asyncio.sleep(0.5)  # the client reads nothing meanwhile
            taken = lb.stats()["bytes_out"]  # what the balancer read from the backend
            await asyncio.sleep(0.3)
            assert lb.stats()["bytes_out"] == taken  # the backend is no longer read: it is paused
            assert taken < 24 * 1024 * 1024  # the socket buffers and one relay buffer, not a firehose
            received = 0
            while received < 32 * 1024 * 1024:  # and the flow resumes when the client reads
                received += len(await asyncio.wait_for(reader.read(1 << 20), 5))
            writer.close()
        server.close()
    run(main())


def test_a_refused_backend_is_skipped_within_the_same_client_connection() -> None:
    async def main() -> None:
        _, good = await line_backend("good")
        dead = [free_port(), free_port()]  # nothing listens there
        async with balancer(listener([dead[0], good, dead[1]], health=None)) as lb:
            answers = [await ask(lb.port) for _ in range(5)]
            assert answers == ["good hi"] * 5
            for port in dead:
                backend = lb.pool.find(Address("127.0.0.1", port))
                assert backend is not None and backend.state == "down" and backend.connect_failures == 1
            assert lb.stats()["no_backend"] == 0
    run(main())


def test_a_killed_backend_closes_its_clients_cleanly_and_new_clients_go_elsewhere() -> None:
    with backend_process("victim") as (victim, victim_port), backend_process("other") as (_, other_port):
        async def main() -> None:
            async with balancer(listener([victim_port, other_port])) as lb:
                reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
                writer.write(b"first\n")
                assert await reader.readline() == b"victim first\n"
                os.kill(victim.pid, signal.SIGKILL)
                assert await asyncio.wait_for(reader.read(100), 5) == b""  # EOF, not a reset
                writer.close()
                answers = [await ask(lb.port) for _ in range(30)]
                assert answers == ["other hi"] * 30  # zero failed new connections
        run(main())


def test_a_request_queued_at_a_backend_that_dies_before_accepting_goes_to_the_next() -> None:
    async def main() -> None:
        dying = socket.socket()
        dying.bind(("127.0.0.1", 0))
        dying.listen(8)  # never accepts: our connect completes in its queue
        _, other = await line_backend("other")
        async with balancer(listener([dying.getsockname()[1], other], health=None)) as lb:
            pending = asyncio.create_task(ask(lb.port))
            await asyncio.sleep(0.3)
            assert lb.stats()["backends"][0]["active"] == 1 and not pending.done()
            dying.close()  # the queued connection is reset
            assert await pending == "other hi"
            assert lb.pool.backends[0].state == "down"
    run(main())


def test_a_backend_that_does_not_answer_the_connect_is_given_up_after_the_connect_timeout() -> None:
    async def main() -> None:
        full = socket.socket()
        full.bind(("127.0.0.1", 0))
        full.listen(0)
        fillers = []
        for _ in range(3):  # fill its accept queue: further SYNs are dropped, connects hang
            filler = socket.socket()
            filler.setblocking(False)
            filler.connect_ex(full.getsockname())
            fillers.append(filler)
        await asyncio.sleep(0.1)
        _, good = await line_backend("good")
        async with balancer(listener([full.getsockname()[1], good], health=None, connect_timeout=0.4)) as lb:
            loop = asyncio.get_running_loop()
            started = loop.time()
            assert await ask(lb.port) == "good hi"
            assert 0.35 < loop.time() - started < 2.5
            assert lb.pool.backends[0].state == "down"
            assert await ask(lb.port) == "good hi"
        for sock in [full, *fillers]:
            sock.close()
    run(main())


def test_a_backend_added_under_load_starts_receiving_traffic() -> None:
    async def main() -> None:
        backends = [await line_backend(n) for n in ("a", "b", "new")]
        async with balancer(listener([backends[0][1], backends[1][1]])) as lb:
            before: Counter[str] = Counter()
            after: Counter[str] = Counter()
            current = before
            failures = 0
            stop = asyncio.Event()

            async def client() -> None:
                nonlocal failures
                while not stop.is_set():
                    answer = await ask(lb.port)
                    if answer:
                        current[answer.split()[0]] += 1
                    else:
                        failures += 1

            load = [asyncio.create_task(client()) for _ in range(4)]
            await asyncio.sleep(0.3)
            lb.set_backends([BackendSpec(Address("127.0.0.1", p)) for _, p in backends])
            current = after
            await asyncio.sleep(0.3)
            stop.set()
            await asyncio.gather(*load)
        assert failures == 0
        assert set(before) == {"a", "b"}
        assert after["new"] > 10 and after["a"] > 10 and after["b"] > 10
    run(main())


def test_a_removed_backend_drains_then_goes_away() -> None:
    async def main() -> None:
        (_, a), (_, b) = await line_backend("a"), await line_backend("b")
        async with balancer(listener([a, b])) as lb:
            reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
            writer.write(b"1\n")
            assert await reader.readline() == b"a 1\n"
            lb.set_backends([BackendSpec(Address("127.0.0.1", b))])
            assert [await ask(lb.port) for _ in range(4)] == ["b hi"] * 4  # no new connection to a
            writer.write(b"2\n")  # the established one still works
            assert await reader.readline() == b"a 2\n"
            assert [s["state"] for s in lb.stats()["backends"]] == ["up", "draining"]
            writer.close()
            await asyncio.sleep(0.1)
            assert [s["address"] for s in lb.stats()["backends"]] == [f"127.0.0.1:{b}"]
    run(main())


def test_the_drain_timeout_bounds_how_long_a_removed_backend_keeps_its_connections() -> None:
    async def main() -> None:
        (_, a), (_, b) = await line_backend("a"), await line_backend("b")
        async with balancer(listener([a, b], drain_timeout=0.3)) as lb:
            reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
            writer.write(b"1\n")
            assert await reader.readline() == b"a 1\n"
            lb.set_backends([BackendSpec(Address("127.0.0.1", b))])
            started = asyncio.get_running_loop().time()
            assert await asyncio.wait_for(reader.read(100), 5) == b""
            assert 0.25 < asyncio.get_running_loop().time() - started < 2
            writer.close()
    run(main())


def test_max_connections_turns_away_the_extra_client_until_one_leaves() -> None:
    async def main() -> None:
        _, port = await line_backend("a")
        async with balancer(listener([port], max_connections=2)) as lb:
            held = [await asyncio.open_connection("127.0.0.1", lb.port) for _ in range(2)]
            for reader, writer in held:
                writer.write(b"x\n")
                assert await reader.readline() == b"a x\n"
            assert await ask(lb.port) == ""  # closed without an answer
            assert lb.stats()["rejected"] == 1
            held[0][1].close()
            await asyncio.sleep(0.1)
            assert await ask(lb.port) == "a hi"
            held[1][1].close()
    run(main())


def test_idle_clients_are_closed_and_busy_ones_are_not() -> None:
    async def main() -> None:
        _, port = await line_backend("a")
        async with balancer(listener([port], idle_timeout=0.4)) as lb:
            idle_r, idle_w = await asyncio.open_connection("127.0.0.1", lb.port)
            busy_r, busy_w = await asyncio.open_connection("127.0.0.1", lb.port)
            for i in range(8):  # 1.2 s of traffic every 0.15 s
                busy_w.write(b"%d\n" % i)
                assert await busy_r.readline() == b"a %d\n" % i
                await asyncio.sleep(0.15)
            assert await asyncio.wait_for(idle_r.read(100), 1) == b""  # closed by then
            idle_w.close()
            busy_w.close()
    run(main())


async def _through_proxy_header_backend(port: int) -> tuple[str, tuple[str, int]]:
    """Send b"payload" through the balancer to a proxy_header_backend: (its answer, our address)."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    client = writer.get_extra_info("sockname")
    writer.write(b"payload")
    answer = (await asyncio.wait_for(reader.read(-1), 5)).decode()
    writer.close()
    return answer, client


def test_backends_read_the_client_address_from_the_proxy_header() -> None:
    async def main() -> None:
        _, port = await proxy_header_backend()
        for version in ("v1", "v2"):
            async with balancer(listener([port], proxy_protocol=version)) as lb:
                answer, client = await _through_proxy_header_backend(lb.port)
                assert answer == f"{('127.0.0.1', client[1])} {('127.0.0.1', lb.port)} payload"
    run(main())


def test_the_proxy_header_is_sent_again_to_the_next_backend_after_a_refused_one() -> None:
    async def main() -> None:
        _, port = await proxy_header_backend()
        async with balancer(listener([free_port(), port], health=None, proxy_protocol="v2")) as lb:
            answer, client = await _through_proxy_header_backend(lb.port)
            assert answer == f"{('127.0.0.1', client[1])} {('127.0.0.1', lb.port)} payload"
            assert lb.stats()["backends"][0]["connect_failures"] == 1
    run(main())


def test_a_reload_applies_new_limits_and_leaves_established_sessions_alone() -> None:
    async def main() -> None:
        _, port = await line_backend("a")
        config = listener([port])
        async with balancer(config) as lb:
            reader, writer = await asyncio.open_connection("127.0.0.1", lb.port)
            writer.write(b"1\n")
            assert await reader.readline() == b"a 1\n"
            lb.reconfigure(replace(config, max_connections=1))
            assert await ask(lb.port) == ""  # the one allowed connection is taken
            writer.write(b"2\n")
            assert await reader.readline() == b"a 2\n"
            writer.close()
            await asyncio.sleep(0.1)
            assert await ask(lb.port) == "a hi"
            assert lb.stats()["rejected"] == 1
    run(main())
