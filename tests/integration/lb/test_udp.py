"""UDP listeners: per client flow balancing, replies routed back, flows expire when idle."""

from __future__ import annotations

import asyncio
import socket

from stackctl.lb.config import Address, BackendSpec, Listener
from stackctl.lb.pool import Pool
from stackctl.lb.udp import UdpListener


class _Named(asyncio.DatagramProtocol):
    def __init__(self, name: str) -> None:
        self.name = name.encode()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        self.transport.sendto(self.name + b" " + data, addr)  # type: ignore[attr-defined]


async def named_backend(name: str) -> int:
    transport, _ = await asyncio.get_running_loop().create_datagram_endpoint(
        lambda: _Named(name), local_addr=("127.0.0.1", 0))
    return int(transport.get_extra_info("sockname")[1])


async def exchange(sock: socket.socket, port: int, data: bytes) -> bytes:
    loop = asyncio.get_running_loop()
    sock.sendto(data, ("127.0.0.1", port))
    return await asyncio.wait_for(loop.sock_recv(sock, 2048), 3)


def client() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.setblocking(False)
    return sock


def test_each_client_flow_sticks_to_one_backend_and_flows_are_spread() -> None:
    async def main() -> None:
        ports = [await named_backend(n) for n in ("a", "b")]
        config = Listener(name="dns", bind=Address("127.0.0.1", 0), protocol="udp", idle_timeout=0.4,
                          backends=tuple(BackendSpec(Address("127.0.0.1", p)) for p in ports))
        lst = UdpListener(config, Pool.of(config.backends))
        await lst.start()
        try:
            one, two = client(), client()
            assert [await exchange(one, lst.port, b"q%d" % i) for i in range(3)] == [b"a q0", b"a q1", b"a q2"]
            assert await exchange(two, lst.port, b"q") == b"b q"
            assert lst.stats()["active"] == 2
            await asyncio.sleep(0.8)  # both flows idle past the timeout
            assert lst.stats()["active"] == 0
            assert await exchange(two, lst.port, b"again") == b"a again"  # a new flow, next backend
            one.close()
            two.close()
        finally:
            await lst.close()
    asyncio.run(asyncio.wait_for(main(), 20))


def test_a_backend_with_nothing_listening_is_marked_down_and_the_flow_moves_on() -> None:
    async def main() -> None:
        good = await named_backend("good")
        dead_sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        dead_sock.bind(("127.0.0.1", 0))
        dead = dead_sock.getsockname()[1]
        dead_sock.close()  # ICMP port unreachable from now on
        config = Listener(name="dns", bind=Address("127.0.0.1", 0), protocol="udp",
                          backends=(BackendSpec(Address("127.0.0.1", dead)), BackendSpec(Address("127.0.0.1", good))))
        lst = UdpListener(config, Pool.of(config.backends))
        await lst.start()
        try:
            sock = client()
            sock.sendto(b"lost", ("127.0.0.1", lst.port))  # the first datagram goes to the dead backend
            await asyncio.sleep(0.2)
            assert lst.pool.backends[0].state == "down"
            assert await exchange(sock, lst.port, b"x") == b"good x"
            sock.close()
        finally:
            await lst.close()
    asyncio.run(asyncio.wait_for(main(), 20))
