"""Images built locally reach the nodes over SSH, once per node, and run there."""

from __future__ import annotations

import asyncio

import pytest

from stackctl.drivers.ssh import SshTransport
from stackctl.drivers.ssh_images import local_image_id, ship_image

pytestmark = pytest.mark.lab

async def _remove_everywhere(t: SshTransport, image: str) -> None:
    await asyncio.gather(*(s.run(f"docker rmi -f {image}", check=False) for s in t.sessions.values()))


def test_image_is_shipped_to_the_nodes_lacking_it_and_runs_on_each(inventory, busybox_image) -> None:  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        async with SshTransport(inventory.nodes) as t:
            await _remove_everywhere(t, busybox_image)
            first = await ship_image(t, busybox_image)
            again = await ship_image(t, busybox_image)
            outputs = await asyncio.gather(*(
                s.engine("containers.run", busybox_image, ["hostname"], remove=True, network_mode="host")
                for s in t.sessions.values()))
            return first, again, [o.decode().strip() for o in outputs]

    first, again, outputs = asyncio.run(go())
    local_id = asyncio.run(local_image_id(busybox_image))
    assert first.image_id == local_id
    assert sorted(first.shipped) == ["node1", "node2", "node3"] and first.present == ()
    assert first.bytes > 100_000
    assert again.shipped == () and sorted(again.present) == ["node1", "node2", "node3"]
    assert outputs == ["node1", "node2", "node3"]  # each container ran on its own node's engine


def test_only_missing_nodes_receive_the_image(inventory, busybox_image) -> None:  # type: ignore[no-untyped-def]
    async def go():  # type: ignore[no-untyped-def]
        async with SshTransport(inventory.nodes) as t:
            await _remove_everywhere(t, busybox_image)
            await ship_image(t, busybox_image, nodes=["node1", "node2"])
            await t.session("node2").run(f"docker rmi -f {busybox_image}")
            concurrent = await asyncio.gather(ship_image(t, busybox_image), ship_image(t, busybox_image))
            ids = await asyncio.gather(*(s.run(f"docker image inspect --format '{{{{.Id}}}}' {busybox_image}")
                                         for s in t.sessions.values()))
            return concurrent, [r.stdout.strip() for r in ids]

    (a, b), ids = asyncio.run(go())
    shipped = sorted(a.shipped + b.shipped)
    assert shipped == ["node2", "node3"]  # node1 had it; two concurrent calls ship once per node
    assert set(ids) == {asyncio.run(local_image_id(busybox_image))}
