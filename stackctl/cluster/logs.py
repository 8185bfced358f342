"""`service logs`: the logs of every task of a service, on every node, through each node's engine over SSH.

Each task's container is read with ``docker logs`` on its node over the SSH connection the transport
already holds (one channel per task, all at once); every line goes to ``emit(prefix, line, stderr)``
with the prefix ``<stack>_<service>.<slot>@<node>``. Nothing here prints.
"""

from __future__ import annotations

import asyncio
import shlex
from collections.abc import Callable, Sequence

import asyncssh

from stackctl.cluster.state import TaskRecord
from stackctl.drivers.ssh import SshTransport
from stackctl.errors import DriverError

Emit = Callable[[str, str, bool], None]


def prefix_of(task: TaskRecord) -> str:
    return f"{task.stack}_{task.service}.{task.slot if task.slot else task.node}@{task.node}"


def logs_command(container_id: str, *, follow: bool, tail: str | None, timestamps: bool) -> str:
    args = ["docker", "logs"]
    if follow:
        args.append("--follow")
    if tail is not None:
        args += ["--tail", tail]
    if timestamps:
        args.append("--timestamps")
    return shlex.join([*args, container_id])


def tasks_with_logs(tasks: Sequence[TaskRecord]) -> list[TaskRecord]:
    """Tasks whose container exists somewhere (running ones first), one per container."""
    seen: set[str] = set()
    out = []
    for t in sorted(tasks, key=lambda t: (t.desired != "running", t.slot, t.node or "", -t.created)):
        if t.container_id and t.node and t.container_id not in seen:
            seen.add(t.container_id)
            out.append(t)
    return out


async def _pump(stream: asyncssh.SSHReader[str], prefix: str, emit: Emit, *, stderr: bool) -> None:
    async for line in stream:
        if line:  # "" marks the end of the stream; an empty log line is "\n"
            emit(prefix, line.rstrip("\n"), stderr)


async def _one(transport: SshTransport, task: TaskRecord, command: str, emit: Emit) -> str | None:
    assert task.node is not None
    prefix = prefix_of(task)
    try:
        conn = await transport.session(task.node).connection()
        proc = await conn.create_process(command, encoding="utf-8", errors="replace")
    except (DriverError, asyncssh.Error, OSError) as exc:
        return f"{prefix}: no logs: {exc}"
    try:
        await asyncio.gather(_pump(proc.stdout, prefix, emit, stderr=False),
                             _pump(proc.stderr, prefix, emit, stderr=True))
        result = await proc.wait()
    except (asyncssh.Error, OSError) as exc:
        return f"{prefix}: logs cut: {exc}"
    finally:
        proc.close()
    if result.exit_status not in (0, None) and task.desired == "running":
        return f"{prefix}: docker logs exited {result.exit_status}"
    return None


async def stream_logs(transport: SshTransport, tasks: Sequence[TaskRecord], *, follow: bool = False,
                      tail: str | None = None, timestamps: bool = False, emit: Emit) -> list[str]:
    """Stream the logs of ``tasks`` (all at once; with ``follow`` until cancelled); returns the problems."""
    chosen = tasks_with_logs(tasks)
    results = await asyncio.gather(*(_one(transport, t, logs_command(t.container_id or "", follow=follow, tail=tail,
                                                                     timestamps=timestamps), emit)
                                     for t in chosen))
    return [r for r in results if r]
