"""The container launcher with real processes in a real network namespace (root)."""

from __future__ import annotations

import asyncio
import os
import time

import pytest

from portico.agent._spawner import PodPlace, Spawner
from portico.testing.sandbox import Sandbox, is_root

pytestmark = pytest.mark.skipif(not is_root(), reason="network namespaces need root")


async def _run_all(place: PodPlace, count: int) -> list[tuple[int, bytes, str]]:
    spawner = Spawner()
    await spawner.start()
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    try:
        async def one(i: int) -> tuple[int, bytes, str]:
            # the shell execs `hostname`, then `false`/`true`: over in a millisecond
            script = f"echo {i}; hostname; exec {'false' if i % 2 else 'true'}"
            proc = await spawner.spawn_piped(place, ["sh", "-c", script], env, "/",
                                             stdin=False)
            assert proc.stdout is not None
            out = await proc.stdout.read()
            return await proc.wait(), out, str(i)

        async def busy() -> None:
            # once every request is out, hold the loop: the launcher's answers and the
            # exits that follow them pile up, and are then read back to back
            await asyncio.sleep(0)
            time.sleep(0.5)
        results, _ = await asyncio.gather(asyncio.gather(*(one(i) for i in range(count))),
                                          busy())
        return list(results)
    finally:
        await spawner.close()


def test_processes_that_exit_at_once_report_their_exit_codes() -> None:
    """Many at once, each exiting immediately: the exit can reach the agent before the
    spawning task resumes, and must not be lost."""
    with Sandbox() as box:
        results = asyncio.run(_run_all(PodPlace(box.name, "launcher-test"), 60))
    for code, out, i in results:
        assert code == int(i) % 2
        assert out.decode().split() == [i, "launcher-test"]
