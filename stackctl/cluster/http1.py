"""A small HTTP/1.1 client over asyncio streams, for etcd's JSON gateway: POST with a JSON body over TCP or
a unix socket, keep-alive (the caller pools the connection again when :attr:`HttpConnection.reusable`),
Content-Length and chunked answers (trailers skipped), and streamed answers read as a sequence of JSON
values (watch). Errors are :class:`HttpError` (bad answers) or ``OSError`` / ``asyncio.IncompleteReadError``
(the connection broke); :mod:`stackctl.cluster.etcd` turns them into its own errors.
"""

from __future__ import annotations

import asyncio
import codecs
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from urllib.parse import urlsplit

from stackctl.errors import ClusterError

MAX_BODY = 256 * 2**20
_MAX_LINE = 64 * 1024


class HttpError(Exception):
    """The peer's answer is not HTTP/1.1 as expected (internal; the etcd client translates it)."""


@dataclass(frozen=True)
class Endpoint:
    url: str
    host: str = ""
    port: int = 0
    path: str = ""  # unix socket

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        if url.startswith("unix://"):
            if not url[len("unix://"):]:
                raise ClusterError(f"etcd endpoint {url!r}: no socket path")
            return cls(url, path=url[len("unix://"):])
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError as exc:
            raise ClusterError(f"etcd endpoint {url!r}: {exc}") from exc
        if parts.scheme != "http" or not parts.hostname or parts.path not in ("", "/"):
            raise ClusterError(f"etcd endpoint {url!r}: expected http://HOST:PORT or unix:///PATH")
        return cls(url, host=parts.hostname, port=port or 2379)


class HttpConnection:
    """One HTTP/1.1 connection; one request at a time."""

    def __init__(self, endpoint: Endpoint, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.endpoint = endpoint
        self._reader = reader
        self._writer = writer
        self.reusable = False
        self.uses = 0

    @classmethod
    async def open(cls, endpoint: Endpoint) -> HttpConnection:
        if endpoint.path:
            reader, writer = await asyncio.open_unix_connection(endpoint.path, limit=_MAX_LINE)
        else:
            reader, writer = await asyncio.open_connection(endpoint.host, endpoint.port, limit=_MAX_LINE)
        return cls(endpoint, reader, writer)

    def close(self) -> None:
        self.reusable = False
        self._writer.close()

    async def _send(self, path: str, body: bytes, headers: dict[str, str]) -> None:
        self.uses += 1
        self.reusable = False
        host = f"{self.endpoint.host}:{self.endpoint.port}" if self.endpoint.host else "localhost"
        lines = [f"POST {path} HTTP/1.1", f"Host: {host}", "Content-Type: application/json",
                 f"Content-Length: {len(body)}", *(f"{k}: {v}" for k, v in headers.items()), "", ""]
        self._writer.write("\r\n".join(lines).encode("latin-1") + body)
        await self._writer.drain()

    async def _head(self) -> tuple[int, dict[str, str]]:
        status_line = (await self._reader.readuntil(b"\r\n")).decode("latin-1")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
            raise HttpError(f"not an HTTP answer: {status_line.strip()!r:.80}")
        headers: dict[str, str] = {}
        while True:
            line = (await self._reader.readuntil(b"\r\n")).decode("latin-1")
            if line == "\r\n":
                return int(parts[1]), headers
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()

    async def request(self, path: str, body: bytes, *, headers: dict[str, str]) -> tuple[int, bytes]:
        """POST ``body`` to ``path``; the status and the whole answer body."""
        await self._send(path, body, headers)
        status, head = await self._head()
        data = b"".join([chunk async for chunk in self._body(head)])
        self.reusable = head.get("connection", "").lower() != "close"
        return status, data

    async def stream(self, path: str, body: bytes, *, headers: dict[str, str]) -> tuple[int, AsyncIterator[bytes]]:
        """POST ``body``; the status, and the answer body as it arrives (the connection is not reused)."""
        await self._send(path, body, headers)
        status, head = await self._head()
        return status, self._body(head)

    async def _body(self, head: dict[str, str]) -> AsyncIterator[bytes]:
        if "chunked" in head.get("transfer-encoding", "").lower():
            async for chunk in self._chunks():
                yield chunk
        elif "content-length" in head:
            length = int(head["content-length"])
            if length > MAX_BODY:
                raise HttpError(f"answer of {length} bytes is too large")
            yield await self._reader.readexactly(length)
        else:
            yield await self._reader.read(MAX_BODY)

    async def _chunks(self) -> AsyncIterator[bytes]:
        while True:
            size_line = (await self._reader.readuntil(b"\r\n")).split(b";")[0].strip()
            try:
                size = int(size_line, 16)
            except ValueError as exc:
                raise HttpError(f"bad chunk size {size_line!r:.40}") from exc
            if size == 0:
                while (await self._reader.readuntil(b"\r\n")) != b"\r\n":  # trailers
                    pass
                return
            if size > MAX_BODY:
                raise HttpError(f"chunk of {size} bytes is too large")
            data = await self._reader.readexactly(size + 2)
            yield data[:-2]


async def json_values(chunks: AsyncIterator[bytes]) -> AsyncIterator[object]:
    """The JSON values of a streamed body, as each is complete (values may span chunks or share one)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    parser = json.JSONDecoder()
    buffer = ""
    async for chunk in chunks:
        buffer += decoder.decode(chunk)
        while True:
            buffer = buffer.lstrip()
            if not buffer:
                break
            try:
                value, end = parser.raw_decode(buffer)
            except json.JSONDecodeError:
                if len(buffer) > MAX_BODY:
                    raise HttpError("streamed JSON value is too large") from None
                break  # incomplete: wait for more
            buffer = buffer[end:]
            yield value
    if buffer.strip():
        raise HttpError(f"stream ended inside a JSON value: {buffer[:60]!r}")
