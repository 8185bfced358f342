"""Ship a locally built image to nodes without a registry: ``docker save`` → ``docker load`` over SSH.

Only nodes lacking the image (by image ID) receive it. One local ``docker save`` stream is fanned
out to every such node's ``docker load`` in parallel (each write waits for every node's window, so
a slow node slows the stream but memory stays bounded); the ID on each node is checked afterwards.
Concurrent calls for the same image and node wait for each other, so an image goes once per node.
"""

from __future__ import annotations

import asyncio
import shlex
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import asyncssh

from stackctl.drivers.ssh import SshSession, SshTransport
from stackctl.errors import DriverError

CHUNK = 1 << 20


@dataclass(frozen=True)
class ShipResult:
    image: str
    image_id: str
    shipped: tuple[str, ...]  # nodes that received it now
    present: tuple[str, ...]  # nodes that already had it
    bytes: int
    seconds: float


async def local_image_id(image: str, *, docker_host: str | None = None) -> str:
    out = await _local(["image", "inspect", "--format", "{{.Id}}", image], docker_host=docker_host)
    return out.strip()


async def _local(args: Sequence[str], *, docker_host: str | None) -> str:
    host = ["-H", docker_host] if docker_host else []
    proc = await asyncio.create_subprocess_exec("docker", *host, *args, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise DriverError(f"local docker {' '.join(args)}: {err.decode(errors='replace').strip()}")
    return out.decode()


async def remote_image_id(session: SshSession, image: str) -> str | None:
    """The image's ID on the node's engine, or None when the node does not have it."""
    try:
        found = await session.engine("images.get", image)
    except DriverError:
        raise
    except Exception as exc:
        import docker.errors  # loaded already: the call above went through the SDK

        if isinstance(exc, docker.errors.NotFound):
            return None
        raise DriverError(f"node {session.node.name}: cannot inspect image {image}: {exc}",
                          node=session.node.name) from exc
    return str(found.id)


async def ship_image(transport: SshTransport, image: str, *, nodes: Sequence[str] | None = None,
                     docker_host: str | None = None, timeout: float = 600) -> ShipResult:
    """Make ``image`` (from the local engine) present with the same ID on every named node."""
    started = time.monotonic()
    image_id = await local_image_id(image, docker_host=docker_host)
    sessions = [transport.session(n) for n in nodes] if nodes else list(transport.sessions.values())
    locks = [transport.ship_locks.setdefault((s.node.name, image_id), asyncio.Lock()) for s in sessions]
    for lock in locks:
        await lock.acquire()
    try:
        ids = await asyncio.gather(*(remote_image_id(s, image_id) for s in sessions))
        lacking = [s for s, found in zip(sessions, ids) if found != image_id]
        sent = await _stream(image, lacking, docker_host=docker_host, timeout=timeout) if lacking else 0
        await _verify(image, image_id, lacking)
    finally:
        for lock in locks:
            lock.release()
    return ShipResult(image=image, image_id=image_id, shipped=tuple(s.node.name for s in lacking),
                      present=tuple(s.node.name for s in sessions if s not in lacking), bytes=sent,
                      seconds=round(time.monotonic() - started, 3))


async def _stream(image: str, targets: Sequence[SshSession], *, docker_host: str | None,
                  timeout: float) -> int:
    host = ["-H", docker_host] if docker_host else []
    save = await asyncio.create_subprocess_exec("docker", *host, "save", image, stdout=asyncio.subprocess.PIPE,
                                                stderr=asyncio.subprocess.PIPE)
    loads = await asyncio.gather(*(_open_load(s) for s in targets))
    try:
        sent = await asyncio.wait_for(_pump(save, loads), timeout)
        results = await asyncio.wait_for(asyncio.gather(*(p.wait() for p in loads)), timeout)
    except TimeoutError as exc:
        raise DriverError(f"shipping {image} did not finish within {timeout:g} s") from exc
    finally:
        if save.returncode is None:
            save.kill()
        for p in loads:
            p.close()
    err = (await save.stderr.read()).decode(errors="replace").strip() if save.stderr else ""
    if await save.wait() != 0:
        raise DriverError(f"local docker save {image} failed: {err}")
    for session, result in zip(targets, results):
        if result.exit_status != 0:
            raise DriverError(f"node {session.node.name}: docker load of {image} failed: "
                              f"{_text(result.stderr).strip()}", node=session.node.name)
    return sent


async def _open_load(session: SshSession) -> Any:
    conn = await session.connection()
    try:
        return await conn.create_process("docker load -q", encoding=None)
    except asyncssh.Error as exc:
        raise DriverError(f"node {session.node.name}: cannot start docker load: {exc}",
                          node=session.node.name) from exc


async def _pump(save: asyncio.subprocess.Process, loads: Sequence[Any]) -> int:
    assert save.stdout is not None
    sent = 0
    while chunk := await save.stdout.read(CHUNK):
        for p in loads:
            p.stdin.write(chunk)
        await asyncio.gather(*(p.stdin.drain() for p in loads))
        sent += len(chunk)
    for p in loads:
        p.stdin.write_eof()
    return sent


async def _verify(image: str, image_id: str, sessions: Sequence[SshSession]) -> None:
    ids = await asyncio.gather(*(remote_image_id(s, image) for s in sessions))
    for session, found in zip(sessions, ids):
        if found != image_id:
            raise DriverError(f"node {session.node.name}: after loading, {image} has ID {found}, "
                              f"expected {image_id}", node=session.node.name)


def _text(value: Any) -> str:
    if value is None:
        return ""
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


async def relay_image(source: SshSession, targets: Sequence[SshSession], image: str, *, image_id: str = "",
                      timeout: float = 600) -> int:
    """Stream ``image`` from one node to others through this process: ``docker save`` on ``source``
    piped into ``docker load`` on each target (memory bounded by one chunk); each target's ID is checked
    (against ``image_id``, else the source's). Returns the bytes streamed."""
    expected = image_id or await remote_image_id(source, image)
    if not expected:
        raise DriverError(f"node {source.node.name} has no image {image}", node=source.node.name)
    conn = await source.connection()
    try:
        save = await conn.create_process(f"docker save {shlex.quote(image)}", encoding=None)
    except asyncssh.Error as exc:
        raise DriverError(f"node {source.node.name}: cannot start docker save: {exc}",
                          node=source.node.name) from exc
    loads = await asyncio.gather(*(_open_load(s) for s in targets))
    sent = 0
    try:
        async def pump() -> int:
            count = 0
            while chunk := await save.stdout.read(CHUNK):
                for p in loads:
                    p.stdin.write(chunk)
                await asyncio.gather(*(p.stdin.drain() for p in loads))
                count += len(chunk)
            for p in loads:
                p.stdin.write_eof()
            return count
        sent = await asyncio.wait_for(pump(), timeout)
        saved, results = await asyncio.wait_for(
            asyncio.gather(save.wait(), asyncio.gather(*(p.wait() for p in loads))), timeout)
    except TimeoutError as exc:
        raise DriverError(f"relaying {image} from {source.node.name} did not finish within {timeout:g} s") from exc
    finally:
        save.close()
        for p in loads:
            p.close()
    if saved.exit_status != 0:
        raise DriverError(f"node {source.node.name}: docker save {image} failed: {_text(saved.stderr).strip()}",
                          node=source.node.name)
    for session, result in zip(targets, results):
        if result.exit_status != 0:
            raise DriverError(f"node {session.node.name}: docker load of {image} failed: "
                              f"{_text(result.stderr).strip()}", node=session.node.name)
    await _verify(image, expected, targets)
    return sent
