"""PROXY protocol headers: the exact bytes HAProxy's specification defines, and reading them back."""

from __future__ import annotations

import pytest

from stackctl.lb import proxyproto
from stackctl.lb.proxyproto import ProxyInfo


def test_v1_text_for_ipv4_and_ipv6() -> None:
    assert proxyproto.encode("v1", ("192.0.2.7", 51234), ("10.0.0.1", 80)) == \
        b"PROXY TCP4 192.0.2.7 10.0.0.1 51234 80\r\n"
    assert proxyproto.encode("v1", ("2001:db8::7", 1), ("::1", 443)) == b"PROXY TCP6 2001:db8::7 ::1 1 443\r\n"


def test_v4_mapped_clients_of_a_dual_stack_listener_are_sent_as_ipv4() -> None:
    assert proxyproto.encode("v1", ("::ffff:192.0.2.7", 5), ("::ffff:10.0.0.1", 80)) == \
        b"PROXY TCP4 192.0.2.7 10.0.0.1 5 80\r\n"


def test_v2_binary_layout_for_ipv4() -> None:
    header = proxyproto.encode("v2", ("192.0.2.7", 51234), ("10.0.0.1", 80))
    assert header == (b"\r\n\r\n\x00\r\nQUIT\n" + b"\x21\x11\x00\x0c" + bytes([192, 0, 2, 7, 10, 0, 0, 1])
                      + (51234).to_bytes(2, "big") + (80).to_bytes(2, "big"))


@pytest.mark.parametrize("version", ["v1", "v2"])
@pytest.mark.parametrize(("src", "dst"), [(("192.0.2.7", 51234), ("10.0.0.1", 80)),
                                          (("2001:db8::7", 65535), ("2001:db8::1", 1))])
def test_headers_read_back_with_the_payload_that_follows(version: str, src: tuple[str, int],
                                                         dst: tuple[str, int]) -> None:
    data = proxyproto.encode(version, src, dst) + b"GET / HTTP/1.1\r\n"
    assert proxyproto.parse(data) == (ProxyInfo(src, dst), b"GET / HTTP/1.1\r\n")


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_unknown_addresses_give_the_local_forms(version: str) -> None:
    header = proxyproto.encode(version, ("unix-socket", 0), ("10.0.0.1", 80))
    assert header in (b"PROXY UNKNOWN\r\n", b"\r\n\r\n\x00\r\nQUIT\n\x20\x00\x00\x00")
    assert proxyproto.parse(header + b"x") == (ProxyInfo(None, None), b"x")


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_a_partial_header_asks_for_more(version: str) -> None:
    header = proxyproto.encode(version, ("192.0.2.7", 1), ("10.0.0.1", 2))
    for cut in (1, 5, 13, len(header) - 1):
        assert proxyproto.parse(header[:cut]) is None


@pytest.mark.parametrize("data", [b"GET / HTTP/1.1\r\n", b"PROXY TCP5 a b 1 2\r\n", b"PROXY " + b"x" * 200])
def test_anything_else_is_rejected(data: bytes) -> None:
    with pytest.raises(ValueError):
        proxyproto.parse(data)
